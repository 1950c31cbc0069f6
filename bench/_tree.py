"""Wall time, CPU time and peak memory of a command together with every process it starts.

A pipeline run is a process tree (the launcher, the code server it starts, the dbt
subprocesses), so one process's ``ru_maxrss`` understates it. The command runs in a child
process; the benchmark samples the tree every ``interval`` seconds (``psutil``): resident
memory summed over the live processes, and CPU time of each process plus what its reaped
children used. The samples give the peak of the tree and, cut by the run's step start/end
times, each step's CPU and peak memory. Total CPU time of the tree is exact (the growth of
this process's ``RUSAGE_CHILDREN`` across the command); the peak is a sampled lower bound (a
spike shorter than ``interval`` can be missed).

Every run also records how busy the rest of the machine was: the CPU time other processes
used while it ran (``neighbours_cpu_s``), from the system-wide counters minus the tree's own.
"""

from __future__ import annotations

import bisect
import os
import resource
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import psutil


@dataclass(frozen=True)
class Sample:
    """The tree at one moment: epoch seconds, resident MB summed, CPU seconds so far."""

    t: float
    rss_mb: float
    cpu_s: float


@dataclass
class Measured:
    """What one command cost (see the module docstring)."""

    wall_s: float
    cpu_s: float
    peak_rss_mb: float
    returncode: int
    started: float  # epoch seconds
    neighbours_cpu_s: float
    load_avg_1m: float  # mean of the 1-minute load average over the samples
    samples: list[Sample] = field(default_factory=list, repr=False)

    def window(self, start: float, end: float) -> dict[str, float]:
        """CPU seconds and peak resident MB of the tree between two epoch times."""
        times = [s.t for s in self.samples]
        inside = self.samples[bisect.bisect_left(times, start) : bisect.bisect_right(times, end)]
        return {
            "cpu_s": round(self._cpu_at(end) - self._cpu_at(start), 2),
            "peak_rss_mb": round(max((s.rss_mb for s in inside), default=0.0)),
        }

    def _cpu_at(self, t: float) -> float:
        # Linear between the samples around t; the run's ends are pinned to 0 and the total.
        points = [(self.started, 0.0), *((s.t, s.cpu_s) for s in self.samples)]
        points.append((self.started + self.wall_s, self.cpu_s))
        times = [p[0] for p in points]
        i = bisect.bisect_left(times, t)
        if i <= 0:
            return 0.0
        if i >= len(points):
            return self.cpu_s
        (t0, c0), (t1, c1) = points[i - 1], points[i]
        return c0 if t1 <= t0 else c0 + (c1 - c0) * (t - t0) / (t1 - t0)

    def summary(self) -> dict[str, float]:
        """The figures kept in the results file (no samples)."""
        return {
            "wall_s": round(self.wall_s, 2),
            "cpu_s": round(self.cpu_s, 2),
            "peak_rss_mb": round(self.peak_rss_mb),
            "neighbours_cpu_s": round(self.neighbours_cpu_s, 1),
            "load_avg_1m": round(self.load_avg_1m, 2),
        }


def _tree_sample(root: psutil.Process) -> tuple[float, float]:
    rss, cpu = 0.0, 0.0
    try:
        procs = [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return rss, cpu
    for proc in procs:
        try:
            with proc.oneshot():
                rss += proc.memory_info().rss
                t = proc.cpu_times()
                cpu += t.user + t.system + t.children_user + t.children_system
        except (psutil.NoSuchProcess, psutil.ZombieProcess, psutil.AccessDenied):
            continue
    return rss / 2**20, cpu


def _busy_cpu_s() -> float:
    t = psutil.cpu_times()
    return t.user + t.nice + t.system + t.irq + t.softirq + getattr(t, "steal", 0.0)


def _children_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_measured(
    cmd: list[str], env: dict[str, str], cwd: Path, log: Path, interval: float = 0.25
) -> Measured:
    """Run ``cmd`` (output to ``log``) and measure its process tree until it exits.

    Commands run one after another: the tree's CPU total is this process's children's CPU
    grown over the command, which counts only while nothing else of ours runs beside it.
    """
    cpu_before, busy_before = _children_cpu_s(), _busy_cpu_s()
    samples: list[Sample] = []
    loads: list[float] = []
    started = time.time()
    with log.open("w") as out:
        proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT)
        root = psutil.Process(proc.pid)
        while proc.poll() is None:
            rss, cpu = _tree_sample(root)
            if rss:
                samples.append(Sample(time.time(), rss, cpu))
            loads.append(os.getloadavg()[0])
            time.sleep(interval)
    wall = time.time() - started
    cpu = _children_cpu_s() - cpu_before
    busy = _busy_cpu_s() - busy_before
    return Measured(
        wall_s=wall,
        cpu_s=cpu,
        peak_rss_mb=max((s.rss_mb for s in samples), default=0.0),
        returncode=proc.returncode,
        started=started,
        neighbours_cpu_s=max(busy - cpu, 0.0),
        load_avg_1m=sum(loads) / len(loads) if loads else os.getloadavg()[0],
        samples=samples,
    )


def machine() -> dict[str, object]:
    """The machine the figures were taken on."""
    return {
        "cpus": os.cpu_count(),
        "memory_gb": round(psutil.virtual_memory().total / 2**30, 1),
        "load_avg_at_start": [round(x, 2) for x in os.getloadavg()],
    }
