"""The whole job, as ``make run`` runs it, measured step by step on a benchmark world.

A :class:`JobDir` is a fresh data dir and Dagster home for one size: the world's landing
files copied in (copied, not linked: the pipeline may move or rewrite landing files). Each
:func:`run_job` starts ``python -m pipelines.launch run --as-of <date>`` in a child process,
measures its process tree (``_tree.py``) and reads the run's step start/end times from the
Dagster event log, so every step gets its wall time, CPU time and peak memory from the same
samples as the whole run.
"""

from __future__ import annotations

import json
import shutil
import sys
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import floor
from _measure import QUIET_ENV, REPO
from _tree import Measured, run_measured

from pipelines.history import list_snapshots

STEP_EVENTS = {"STEP_SUCCESS": "ok", "STEP_FAILURE": "failed", "STEP_SKIPPED": "skipped"}


@dataclass(frozen=True)
class JobDir:
    """One benchmark world's data dir, Dagster home and logs."""

    root: Path

    @property
    def data_dir(self) -> Path:
        return self.root / "data"

    @property
    def landing(self) -> Path:
        return self.data_dir / "landing"

    @property
    def dagster_home(self) -> Path:
        return self.root / "dagster_home"

    @property
    def logs(self) -> Path:
        return self.root / "logs"

    def env(self, code_version: str) -> dict[str, str]:
        """The environment of a run in this dir (what ``make run`` would export)."""
        return {
            **QUIET_ENV,
            "PYTHONPATH": str(REPO),
            "STRATUM_DATA_DIR": str(self.data_dir),
            "STRATUM_WAREHOUSE": str(self.data_dir / "warehouse" / "stratum.duckdb"),
            "DAGSTER_HOME": str(self.dagster_home),
            "STRATUM_CODE_VERSION": code_version,
        }

    def snapshots(self) -> list[str]:
        return [s.snapshot_id for s in list_snapshots(self.data_dir / "serving" / "snapshots")]


def fresh_job_dir(root: Path, world: Path) -> JobDir:
    """An empty data dir with ``world``'s landing files, and a new Dagster home."""
    shutil.rmtree(root, ignore_errors=True)
    job = JobDir(root)
    shutil.copytree(world / "landing", job.landing)
    job.dagster_home.mkdir(parents=True)
    job.logs.mkdir(parents=True)
    shutil.copy(REPO / "config" / "dagster.yaml", job.dagster_home / "dagster.yaml")
    return job


def _latest_run_steps(dagster_home: Path) -> tuple[str | None, list[tuple[str, float, float, str]]]:
    """(run id, [(step key, start, end, status)]) of the newest run in the instance."""
    from dagster import DagsterInstance
    from dagster._core.instance.ref import InstanceRef

    with DagsterInstance.from_ref(InstanceRef.from_dir(str(dagster_home))) as instance:
        runs = instance.get_runs(limit=1)
        if not runs:
            return None, []
        run_id = runs[0].run_id
        started: dict[str, float] = {}
        steps = []
        for record in instance.all_logs(run_id):
            event = record.dagster_event
            if event is None or event.step_key is None:
                continue
            kind = event.event_type_value
            if kind == "STEP_START":
                started[event.step_key] = record.timestamp
            elif kind in STEP_EVENTS:
                start = started.get(event.step_key, record.timestamp)
                steps.append((event.step_key, start, record.timestamp, STEP_EVENTS[kind]))
    return run_id, steps


def _step_rows(measured: Measured, steps: list[tuple[str, float, float, str]]) -> list[dict]:
    rows = []
    for key, start, end, status in sorted(steps, key=lambda s: s[1]):
        rows.append(
            {"step": key, "status": status, "wall_s": round(end - start, 2)}
            | measured.window(start, end)
        )
    return rows


def run_job(job: JobDir, as_of: date, label: str, code_version: str) -> dict:
    """Run the whole job for ``as_of`` in ``job``'s data dir; its figures and step table."""
    before = set(job.snapshots())
    cmd = [sys.executable, "-m", "pipelines.launch", "run", "--as-of", as_of.isoformat()]
    measured = run_measured(cmd, job.env(code_version), REPO, job.logs / f"{label}.log")
    run_id, steps = _latest_run_steps(job.dagster_home)
    rows = _step_rows(measured, steps)
    first_step = min((s[1] for s in steps), default=measured.started)
    startup = measured.window(measured.started, first_step)
    published = sorted(set(job.snapshots()) - before)
    return {
        "as_of": as_of.isoformat(),
        "exit": measured.returncode,
        "run_id": run_id,
        **measured.summary(),
        # Launcher and code-server start, definitions imported twice, until the first step.
        "startup_s": round(first_step - measured.started, 2),
        "startup_cpu_s": startup["cpu_s"],
        # Dagster between steps (events, resources, step start) and shutdown.
        "between_steps_s": round(
            measured.wall_s - (first_step - measured.started) - sum(r["wall_s"] for r in rows), 2
        ),
        "published_snapshots": published,
        "log": str(job.logs / f"{label}.log"),
        "steps": rows,
    }


def run_floor(job: JobDir, as_of: date) -> dict:
    """The DuckDB floor script (``floor.py``) on the same landing files, measured alike."""
    out = job.root / "floor"
    cmd = [
        sys.executable, str(Path(__file__).with_name("floor.py")), "--landing", str(job.landing),
        "--out", str(out), "--as-of", as_of.isoformat(),
    ]  # fmt: skip
    log = job.logs / "floor.log"
    measured = run_measured(cmd, job.env("floor"), REPO, log)
    shutil.rmtree(out, ignore_errors=True)
    found = [ln for ln in log.read_text().splitlines() if ln.startswith(floor.RESULT_PREFIX)]
    extra = json.loads(found[-1].removeprefix(floor.RESULT_PREFIX)) if found else {}
    return {"exit": measured.returncode, **measured.summary(), **extra, "log": str(log)}


def run_import(job: JobDir) -> dict:
    """``python -c "import pipelines.definitions"``: the fixed start-up of every process
    that loads the code location (the launcher, the code server, ``dagster dev``)."""
    cmd = [sys.executable, "-c", "import pipelines.definitions"]
    measured = run_measured(cmd, job.env("import"), REPO, job.logs / "import.log", 0.05)
    return {"exit": measured.returncode, **measured.summary()}
