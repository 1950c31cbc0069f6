"""The read-only serving database, rebuilt from the published snapshot folders alone.

Every table BI reads is derived from ``snapshots/<snapshot_id>/`` — the tiers
(``customer_tier.parquet``) and the change tables published with them (``tier_ledger``,
``downgrade_notices``, ``migration_matrix``, ``tier_kpis``, ``identity_review``,
``golden_id_redirects`` as Parquet) — never from warehouse tables a killed or unpublished run
may have left behind (``customer_tier_history`` follows identity merges with the current
snapshot's ``golden_id_redirects``: each row is re-keyed to its surviving id). So the serving
file is a pure function of the folders: it can be rebuilt at any time (``pipelines.recovery``
does at the start of a run when it lags behind them), and it is replaced atomically
(``os.replace``): a reader sees the old file or the new one, never a half-written one.
"""

from __future__ import annotations

import os
import uuid
from dataclasses import asdict
from pathlib import Path

import duckdb

from pipelines import warehouse as wh
from pipelines.history import SNAPSHOT_FILE, SnapshotInfo, current, in_force, list_snapshots
from pipelines.publish.contract import SERVING_TIER_TABLES, TIER_SNAPSHOTS_COLUMNS
from pipelines.publish.text_safety import safe_text_sql
from pipelines.publish.tier_history import fill_history, live_extends

BUILDING_SUFFIX = ".building.duckdb"


def change_table_select(name: str, present: set[str] | None = None) -> str:
    """``select`` of the contract columns of serving table ``name``, cast to their published
    types (text made safe for spreadsheets, as the tiers are); columns not in ``present``
    (when given) come out as typed nulls."""
    _, columns, _ = SERVING_TIER_TABLES[name]
    exprs = []
    for col, dtype, _ in columns:
        typed = f"cast({col if present is None or col in present else 'null'} as {dtype})"
        exprs.append(f"{safe_text_sql(typed) if dtype == 'VARCHAR' else typed} as {col}")
    return "select " + ", ".join(exprs)


def _snapshot_rows(snapshots: list[SnapshotInfo]) -> list[list]:
    forced = {s.as_of_date: s.snapshot_id for s in in_force(snapshots)}
    return [
        [
            *asdict(s).values(),
            forced[s.as_of_date] == s.snapshot_id,
            None if forced[s.as_of_date] == s.snapshot_id else forced[s.as_of_date],
        ]
        for s in snapshots
    ]


def _fill_change_table(
    con: duckdb.DuckDBPyConnection, name: str, folders: dict[str, Path], ids: list[str]
) -> None:
    """Serving table ``name`` from the Parquet files of the snapshots ``ids``; a snapshot
    published before its folder carried the file keeps the rows the live serving file had."""
    _, columns, scope = SERVING_TIER_TABLES[name]
    select = change_table_select(name)
    files = [folders[i] / f"{name}.parquet" for i in ids]
    legacy = [i for i, f in zip(ids, files, strict=True) if not f.exists()]
    files = [f for f in files if f.exists()]
    parts = []
    if files:
        listed = ", ".join(wh.literal(f.as_posix()) for f in files)
        parts.append(f"{select} from read_parquet([{listed}], union_by_name = true)")
    live_has_table = wh.table_exists(con, f"serving_live.main.{name}")
    if legacy and live_has_table and scope == "latest":
        # No snapshot id to filter on: the live file's copy is the one BI has been shown.
        parts.append(f"{select} from serving_live.{name}")
    elif legacy and live_has_table:
        ids_sql = ", ".join(wh.literal(i) for i in legacy)
        parts.append(f"{select} from serving_live.{name} where snapshot_id in ({ids_sql})")
    if not parts:
        nulls = ", ".join(f"null as {c}" for c, _, _ in columns)
        parts.append(f"{select} from (select {nulls}) where false")
    con.execute(f"create table serving_build.{name} as " + " union all ".join(parts))


def _fill_serving(
    con: duckdb.DuckDBPyConnection,
    snapshots: list[SnapshotInfo],
    folders: dict[str, Path],
    extend: bool,
) -> str:
    """Create every serving table in the attached ``serving_build`` database; returns how the
    history was built (:func:`fill_history`)."""
    forced = in_force(snapshots)
    latest = current(snapshots)
    assert latest is not None
    tiers = {
        s.snapshot_id: wh.literal((folders[s.snapshot_id] / SNAPSHOT_FILE).as_posix())
        for s in snapshots
    }
    con.execute(
        "create table serving_build.customer_tier_current as select * from read_parquet("
        f"{tiers[latest.snapshot_id]})"
    )
    wh.create_table(
        con, "serving_build.main.tier_snapshots", {n: t for n, t, _ in TIER_SNAPSHOTS_COLUMNS}
    )
    con.executemany(
        "insert into serving_build.tier_snapshots values "
        f"({', '.join('?' for _ in TIER_SNAPSHOTS_COLUMNS)})",
        _snapshot_rows(snapshots),
    )
    # "latest" tables (no snapshot id) come from the current snapshot's folder, like "current"
    # ones: what BI sees is what the run that published the current snapshot left.
    scopes = {
        "in_force": [s.snapshot_id for s in forced],
        "current": [latest.snapshot_id],
        "latest": [latest.snapshot_id],
    }
    for name, (_, _, scope) in SERVING_TIER_TABLES.items():
        _fill_change_table(con, name, folders, scopes[scope])
    files = [tiers[s.snapshot_id] for s in forced]
    return fill_history(con, files, latest.as_of_date, extend and live_extends(con, snapshots))


def build_serving_db(
    con: duckdb.DuckDBPyConnection,
    serving_dir: Path,
    serving_db: Path,
    staged: tuple[SnapshotInfo, Path] | None = None,
    extend: bool = True,
) -> tuple[Path, dict[str, int], str]:
    """Build a new serving file beside ``serving_db`` from every published snapshot plus
    ``staged`` (a snapshot written but not yet committed, and its folder). Returns the new file
    (not yet in place: see :func:`swap_serving_db`), the row count of each table and how the
    history was built (``extended`` from the live file's when ``extend`` and it can be, else
    ``rebuilt``: :mod:`.tier_history`). ``con`` is any DuckDB connection; the new file is
    attached to it while being built."""
    snapshots = list_snapshots(serving_dir / "snapshots")
    folders = {s.snapshot_id: (serving_dir / s.parquet_path).parent for s in snapshots}
    if staged is not None:
        info, folder = staged
        # The staged snapshot sorts as created last, so it is in force for its date.
        snapshots = sorted(
            [*snapshots, info], key=lambda i: (i.as_of_date, i.created_at, i.snapshot_id)
        )
        folders[info.snapshot_id] = folder
    if not snapshots:
        raise FileNotFoundError(f"no snapshots under {serving_dir / 'snapshots'}")
    serving_dir.mkdir(parents=True, exist_ok=True)
    tmp = serving_dir / f".{serving_db.stem}.{uuid.uuid4().hex[:8]}{BUILDING_SUFFIX}"
    counts: dict[str, int] = {}
    attached_live = _attach_live(con, serving_db)
    wh.attach(con, tmp, "serving_build")
    try:
        history = _fill_serving(con, snapshots, folders, extend and attached_live)
        for table in wh.list_tables(con, "serving_build"):
            counts[table] = wh.row_count(con, f"serving_build.main.{table}")
        con.execute("checkpoint serving_build")
    except BaseException:
        con.execute("detach serving_build")
        tmp.unlink(missing_ok=True)
        raise
    finally:
        if attached_live:
            con.execute("detach serving_live")
    con.execute("detach serving_build")
    tmp.chmod(0o444)
    return tmp, counts, history


def _attach_live(con: duckdb.DuckDBPyConnection, serving_db: Path) -> bool:
    """Attach the live serving file read-only as ``serving_live`` (the source of change-table
    rows for snapshots published before their folders carried them), if it is readable."""
    if not serving_db.exists():
        return False
    try:
        wh.attach(con, serving_db, "serving_live", read_only=True)
    except duckdb.Error:
        return False
    return True


def swap_serving_db(built: Path, serving_db: Path) -> None:
    """Put a built serving file in place atomically (readers see the old or the new file)."""
    os.replace(built, serving_db)


def served_snapshot_ids(serving_db: Path) -> set[str] | None:
    """Snapshot ids the live serving file lists (None when it is missing or unreadable)."""
    if not serving_db.exists():
        return None
    try:
        with wh.connection(serving_db, read_only=True, lock_timeout_s=0) as con:
            return {r[0] for r in con.execute("select snapshot_id from tier_snapshots").fetchall()}
    except (duckdb.Error, wh.WarehouseLockedError):
        return None


def serving_lags(serving_dir: Path, serving_db: Path) -> bool:
    """True when the serving file does not list exactly the published snapshots (a run died
    between committing its snapshot and swapping the serving file)."""
    published = {s.snapshot_id for s in list_snapshots(serving_dir / "snapshots")}
    if not published:
        return False
    return served_snapshot_ids(serving_db) != published


def rebuild_serving(serving_dir: Path, serving_db: Path) -> dict[str, int]:
    """Rebuild the serving file from the published snapshots alone and swap it in."""
    with wh.connection(":memory:") as con:
        built, counts, _ = build_serving_db(con, serving_dir, serving_db, extend=False)
    swap_serving_db(built, serving_db)
    return counts
