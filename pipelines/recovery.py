"""What a killed run leaves behind, swept; the serving file caught up with the snapshots.

A run killed with SIGKILL (or by the OOM killer, or a power cut) cannot clean up after
itself. Every run therefore starts, right after taking the run lock (so no other run is
writing), with :func:`recover`:

* **sweep** the leftovers of interrupted writes — snapshot folders being staged
  (``serving/.staging/*``, and the ``snapshots/.incoming-*`` of older releases), serving files
  being built (``serving/.*.building.duckdb`` and their ``.wal``), a stray ``.wal`` beside the
  serving file (it is never written in place), the fresh copy of a warehouse rewrite after an
  erasure (``warehouse/.stratum.duckdb.*.compacting``: the rewrite itself is owed, and done by
  the next run, see ``privacy.rewrite_due``), Great Expectations results being scrubbed
  (``.*.scrubbing``) and store files cut short mid-write (unparsable JSON/YAML: they are
  written again from ``expectations/*.json``);
* **repair** the serving file when it does not list exactly the published snapshots (a run
  died between committing its snapshot and swapping the serving file): it is rebuilt from the
  snapshot folders alone (:func:`pipelines.publish.serving.rebuild_serving`).

``python -m pipelines.recovery`` does the same by hand (it refuses while a run holds the lock).
Never sweep the warehouse's own ``stratum.duckdb.wal``: it holds committed transactions that
DuckDB replays when the file is next opened.
"""

from __future__ import annotations

import json
import shutil
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from pipelines.privacy.compaction import COMPACTING_SUFFIX
from pipelines.privacy.gx_results import SCRUBBING_SUFFIX
from pipelines.publish.serving import BUILDING_SUFFIX, rebuild_serving, serving_lags
from pipelines.settings import Paths, get_paths

# Great Expectations rewrites these on every run from expectations/*.json (not atomically).
GX_STORES = ("expectations", "validation_definitions", "checkpoints")
# Validation results are only ever added; the recent ones are the ones a kill may have cut.
RECENT_SECONDS = 2 * 24 * 3600


@dataclass
class RecoveryReport:
    removed: list[str] = field(default_factory=list)
    serving_rebuilt: bool = False

    def summary(self) -> str:
        parts = []
        if self.removed:
            parts.append(f"removed {len(self.removed)} leftover(s): {', '.join(self.removed)}")
        if self.serving_rebuilt:
            parts.append("rebuilt the serving database from the published snapshots")
        return "; ".join(parts) or "nothing to recover"


def _broken(path: Path) -> bool:
    try:
        text = path.read_text(encoding="utf-8")
        if path.suffix == ".json":
            json.loads(text)
        else:
            yaml.safe_load(text)
    except (OSError, UnicodeDecodeError, ValueError, yaml.YAMLError):
        return True
    return not text.strip()


def _gx_leftovers(quality_dir: Path) -> list[Path]:
    root = quality_dir / "gx"
    if not root.is_dir():
        return []
    found = [p for p in (root / "great_expectations.yml",) if p.exists() and _broken(p)]
    for store in GX_STORES:
        found += [p for p in (root / store).rglob("*.json") if _broken(p)]
    recent = time.time() - RECENT_SECONDS
    validations = root / "uncommitted" / "validations"
    if validations.is_dir():
        found += [
            p for p in validations.rglob("*.json") if p.stat().st_mtime > recent and _broken(p)
        ]
        found += sorted(validations.rglob(f".*{SCRUBBING_SUFFIX}"))
    return found


def leftovers(paths: Paths) -> list[Path]:
    """Files and folders interrupted writes left behind (see the module docstring)."""
    serving, snapshots = paths.serving_dir, paths.snapshots_dir
    found: list[Path] = []
    if (serving / ".staging").is_dir():
        found += sorted((serving / ".staging").iterdir())
    if snapshots.is_dir():
        found += sorted(snapshots.glob(".incoming-*"))
    if serving.is_dir():
        found += sorted(serving.glob(f".*{BUILDING_SUFFIX}"))
        found += sorted(serving.glob(f".*{BUILDING_SUFFIX}.wal"))
        stray_wal = paths.serving_db.with_name(paths.serving_db.name + ".wal")
        found += [stray_wal] if stray_wal.exists() else []
    warehouse = paths.warehouse
    if warehouse.parent.is_dir():
        found += sorted(warehouse.parent.glob(f".{warehouse.name}.*{COMPACTING_SUFFIX}"))
        found += sorted(warehouse.parent.glob(f".{warehouse.name}.*{COMPACTING_SUFFIX}.wal"))
    return found + _gx_leftovers(paths.quality_dir)


def _remove(path: Path) -> None:
    if path.is_dir():
        # Snapshot files are written read-only (0444); the folder itself is writable.
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


def recover(paths: Paths | None = None) -> RecoveryReport:
    """Sweep leftovers and rebuild a lagging serving file. Call it only while holding the run
    lock (:mod:`pipelines.run_lock`): nothing else may be writing."""
    paths = paths or get_paths()
    report = RecoveryReport()
    for path in leftovers(paths):
        _remove(path)
        shown = path.relative_to(paths.data_dir) if path.is_relative_to(paths.data_dir) else path
        report.removed.append(str(shown))
    if serving_lags(paths.serving_dir, paths.serving_db):
        rebuild_serving(paths.serving_dir, paths.serving_db)
        report.serving_rebuilt = True
    return report


def main() -> int:
    """``python -m pipelines.recovery``: recover the data dir now, unless a run is going."""
    from pipelines import run_lock

    paths = get_paths()
    try:
        lock = run_lock.acquire(paths.data_dir, "recovery", "-")
    except run_lock.RunInProgressError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    try:
        print(recover(paths).summary())
    finally:
        lock.release()
    return 0


if __name__ == "__main__":
    sys.exit(main())
