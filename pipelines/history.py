"""What has been published: the catalogue of tier snapshots, read from their manifests.

A snapshot is published when its folder ``snapshots/<snapshot_id>/`` (Parquet + manifest) is
renamed into place; nothing else counts. Several snapshots can exist for one as-of date (a
rerun of the partition); the one created last is *in force* for that date, the earlier ones
stay, immutable, for audit.

Stages that depend on the past read it from here, never from tables an earlier (possibly
killed or unpublished) run left behind: the tier step takes its previous state from the
in-force snapshot of the latest date before its own, the KPI step its previous cohort, the
publish step builds the serving history from the in-force snapshots in as-of order.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, fields
from datetime import date
from pathlib import Path

import duckdb
import pandas as pd

from pipelines import warehouse as wh

SNAPSHOT_FILE = "customer_tier.parquet"
MANIFEST_FILE = "manifest.json"


@dataclass(frozen=True)
class SnapshotInfo:
    """One published snapshot (the content of its ``manifest.json``)."""

    snapshot_id: str
    as_of_date: str
    created_at: str
    row_count: int
    policy_version: str
    rules_version: str
    code_version: str
    run_id: str
    parquet_path: str  # relative to the serving directory
    parquet_sha256: str

    @property
    def as_of(self) -> date:
        return date.fromisoformat(self.as_of_date)


def list_snapshots(snapshots_dir: Path) -> list[SnapshotInfo]:
    """Every published snapshot, in as-of order, then creation order. Hidden folders (a
    snapshot being written) are not published and are skipped."""
    infos = []
    names = {f.name for f in fields(SnapshotInfo)}
    if snapshots_dir.exists():
        for manifest in snapshots_dir.glob(f"*/{MANIFEST_FILE}"):
            if manifest.parent.name.startswith("."):
                continue
            data = json.loads(manifest.read_text())
            infos.append(SnapshotInfo(**{k: v for k, v in data.items() if k in names}))
    return sorted(infos, key=lambda i: (i.as_of_date, i.created_at, i.snapshot_id))


def in_force(snapshots: list[SnapshotInfo]) -> list[SnapshotInfo]:
    """The snapshot in force for each as-of date (the last one created), in as-of order."""
    latest: dict[str, SnapshotInfo] = {}
    for info in snapshots:  # sorted: a later one of the same date replaces the earlier
        latest[info.as_of_date] = info
    return [latest[d] for d in sorted(latest)]


def current(snapshots: list[SnapshotInfo]) -> SnapshotInfo | None:
    """The snapshot BI sees as current: the in-force one of the latest as-of date."""
    forced = in_force(snapshots)
    return forced[-1] if forced else None


def previous_in_force(snapshots_dir: Path, as_of: date) -> SnapshotInfo | None:
    """The in-force snapshot of the latest as-of date strictly before ``as_of``.

    Strictly before: a rerun of a date compares with the day before, exactly as its first run
    did, so reruns are reproducible and never compare a date with itself.
    """
    earlier = [s for s in in_force(list_snapshots(snapshots_dir)) if s.as_of < as_of]
    return earlier[-1] if earlier else None


def read_snapshot(
    con: duckdb.DuckDBPyConnection,
    serving_dir: Path,
    info: SnapshotInfo,
    columns: dict[str, str],
) -> pd.DataFrame:
    """``columns`` (name -> SQL type) of one snapshot, ordered by account. A column the
    snapshot predates (written by an older release) comes back as typed nulls."""
    path = (serving_dir / info.parquet_path).as_posix()
    present = {
        r[0] for r in con.execute("describe select * from read_parquet(?)", [path]).fetchall()
    }
    select = ", ".join(
        f"cast({wh.quoted(c) if c in present else 'null'} as {t}) as {wh.quoted(c)}"
        for c, t in columns.items()
    )
    return con.execute(
        f"select {select} from read_parquet(?) order by golden_account_id", [path]
    ).df()
