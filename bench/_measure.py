"""Shared helpers for the benchmark scripts: peak memory, timed steps in child processes.

``tracemalloc`` sees only Python allocations, not DuckDB's or NumPy's native buffers, so memory
is the operating system's peak resident set size (``ru_maxrss``) of a process. To get a peak per
step, each step runs in a fresh child process (``run_step``) that reports its own wall time and
peak RSS; the figure includes the interpreter and imports (``baseline_mb`` says how much).
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
# A script's own folder (bench/) is first on sys.path, not the repo: make ``pipelines`` importable
# however the script is started (the editable install maps no packages).
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))
QUIET_ENV = {
    "GX_ANALYTICS_ENABLED": "False",
    "DAGSTER_DISABLE_TELEMETRY": "true",
    "DO_NOT_TRACK": "1",
    "DBT_SEND_ANONYMOUS_USAGE_STATS": "False",
}
RESULT_PREFIX = "BENCH_RESULT "


def peak_rss_mb() -> float:
    """Peak resident set size of this process so far, in MB.

    ``VmHWM`` from /proc, because Linux carries ``ru_maxrss`` over from the parent through
    fork + exec: a child started by a big parent would report the parent's peak.
    """
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_step(script: Path, step: str, args: list[str], env: dict[str, str]) -> dict:
    """Run ``script --step <step> <args>`` in a child process; return the JSON it reports.

    The child prints one ``BENCH_RESULT {...}`` line (see ``report_step``); everything else it
    prints is passed through so a failure is visible.
    """
    start = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, str(script), "--step", step, *args],
        cwd=REPO,
        env={**os.environ, **QUIET_ENV, "PYTHONPATH": str(REPO), **env},
        capture_output=True,
        text=True,
    )
    wall = time.perf_counter() - start
    result = {"step": step, "process_s": wall, "exit": proc.returncode}
    for line in proc.stdout.splitlines():
        if line.startswith(RESULT_PREFIX):
            result.update(json.loads(line[len(RESULT_PREFIX) :]))
        elif line.strip():
            print(f"   [{step}] {line}")
    if proc.returncode != 0:
        print(proc.stderr[-4000:], file=sys.stderr)
    return result


def report_step(fn: Callable[[], dict | None]) -> None:
    """In the child: time ``fn`` and print its result with wall time and peak RSS as JSON.

    Import what ``fn`` needs before calling this, so that ``seconds`` is the work alone and
    ``baseline_mb`` the interpreter plus libraries.
    """
    baseline = peak_rss_mb()
    start, cpu_start = time.perf_counter(), time.process_time()
    extra = fn() or {}
    seconds = time.perf_counter() - start
    # CPU seconds (all threads) next to wall time: on a shared machine wall time also measures
    # the neighbours; CPU time divided by the cores available is the unloaded estimate.
    cpu = time.process_time() - cpu_start
    out = {
        "seconds": seconds,
        "cpu_s": cpu,
        "peak_rss_mb": peak_rss_mb(),
        "baseline_mb": baseline,
        **extra,
    }
    print(RESULT_PREFIX + json.dumps(out, default=str), flush=True)


def print_table(rows: list[dict], columns: list[tuple[str, str, str]]) -> None:
    """Print ``rows`` as an aligned table; ``columns`` are (key, header, format spec)."""
    widths = [max(len(h), 10) for _, h, _ in columns]
    print(
        "  ".join(
            h.rjust(w) if i else h.ljust(16)
            for i, ((_, h, _), w) in enumerate(zip(columns, widths, strict=True))
        )
    )
    for row in rows:
        cells = []
        for i, ((key, _, spec), w) in enumerate(zip(columns, widths, strict=True)):
            value = row.get(key, "")
            text = format(value, spec) if isinstance(value, int | float) and spec else str(value)
            cells.append(text.rjust(w) if i else text.ljust(16))
        print("  ".join(cells))
