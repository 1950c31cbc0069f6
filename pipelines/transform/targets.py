"""dbt's target folder per run: parse once per run, keep a week of folders.

dagster-dbt gives every ``dbt build`` a fresh target folder and seeds it with the project's
``target/partial_parse.msgpack``, which ``make manifest`` wrote without the run's ``--vars`` and
often for another warehouse path, so dbt throws it away and parses the whole project again: on
every one of the run's dbt steps, about 3 of the ~4 CPU seconds each step spends before its
first model at 1,000 accounts. The steps of one run share its vars and profile, so they share
one folder here: the first step parses and leaves its partial-parse file, the next ones reuse
it. Folders of runs older than :data:`KEEP_DAYS` are removed (compiled SQL and run results for
looking back at a recent run; the manifest alone is ~1.3 MB a step).
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path

RUNS_DIR = Path("target") / "runs"
KEEP_DAYS = 7


def run_target_path(run_id: str) -> Path:
    """The target folder (relative to the dbt project) every dbt step of run ``run_id`` uses."""
    return RUNS_DIR / run_id


def prune_run_targets(project_dir: Path, keep_days: float = KEEP_DAYS) -> list[Path]:
    """Remove the run folders under ``project_dir`` last modified more than ``keep_days`` ago;
    returns them. Age, not count: several data directories may run against one checkout at
    once (tests, a backfill beside a daily run), and a run lasts minutes, so no live run's
    folder is ever that old."""
    root = Path(project_dir) / RUNS_DIR
    if not root.is_dir():
        return []
    cutoff = time.time() - keep_days * 86400
    removed = []
    for folder in sorted(root.iterdir()):
        if folder.is_dir() and folder.stat().st_mtime < cutoff:
            shutil.rmtree(folder, ignore_errors=True)
            removed.append(folder)
    return removed
