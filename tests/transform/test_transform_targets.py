"""dbt's target folder per run: every dbt step of a run in one folder, pruned by age."""

from __future__ import annotations

import os
import time
from pathlib import Path

from pipelines.transform.targets import RUNS_DIR, prune_run_targets, run_target_path


def _folder(project: Path, run_id: str, age_days: float) -> Path:
    folder = project / run_target_path(run_id)
    (folder / "compiled").mkdir(parents=True)
    (folder / "manifest.json").write_text("{}")
    stamp = time.time() - age_days * 86400
    os.utime(folder, (stamp, stamp))
    return folder


def test_the_steps_of_one_run_share_a_folder_and_runs_do_not():
    assert run_target_path("run-a") == run_target_path("run-a") == RUNS_DIR / "run-a"
    assert run_target_path("run-a") != run_target_path("run-b")
    assert not run_target_path("run-a").is_absolute()  # dagster-dbt joins it to the project


def test_folders_older_than_the_limit_go_and_recent_ones_stay(tmp_path):
    old = _folder(tmp_path, "old", 8)
    older = _folder(tmp_path, "older", 30)
    recent = _folder(tmp_path, "recent", 6.9)
    live = _folder(tmp_path, "live", 0)
    stray = tmp_path / RUNS_DIR / "notes.txt"  # a file is never removed
    stray.write_text("x")
    os.utime(stray, (0, 0))

    assert sorted(prune_run_targets(tmp_path)) == sorted([old, older])
    assert not old.exists() and not older.exists()
    assert recent.exists() and live.exists() and stray.exists()
    assert prune_run_targets(tmp_path, keep_days=1) == [recent]
    assert live.exists()


def test_nothing_to_prune_before_the_first_run(tmp_path):
    assert prune_run_targets(tmp_path) == []
