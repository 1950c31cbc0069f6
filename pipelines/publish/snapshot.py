"""Write immutable tier snapshots and rebuild the read-only serving database.

Nothing here knows about Dagster: functions take a DuckDB connection to the warehouse and
paths, so they are easy to test and to call from a notebook.

Publishing one snapshot, in order:

1. the snapshot (Parquet + manifest) is written into a hidden staging folder
   ``snapshots/.incoming-<id>-<random>/``;
2. the serving database is built beside the live one (``.<name>.<random>.building.duckdb``),
   from the published snapshots *plus* the staged one;
3. **commit**: the staging folder is renamed to ``snapshots/<snapshot_id>/``. From this instant
   the snapshot is published (:mod:`pipelines.history` lists only such folders);
4. the new serving file replaces the live one with ``os.replace``.

A reader sees either the old state or the new one, never a half-written file or folder. A run
that dies before step 3 published nothing (its hidden leftovers are swept by the next
publish); one that dies between 3 and 4 left a published snapshot the serving file does not
show yet, and the next publish rebuilds the serving file from all snapshots.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import uuid
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from pipelines.history import (
    MANIFEST_FILE,
    SNAPSHOT_FILE,
    SnapshotInfo,
    current,
    in_force,
    list_snapshots,
)
from pipelines.publish.contract import CUSTOMER_TIER_COLUMNS, SERVING_TIER_TABLES
from pipelines.publish.text_safety import safe_text_sql
from pipelines.run_context import RunContext
from pipelines.tiering.store import check_tier_table

# Where each published column comes from, in order of preference. The tier table is the
# authority for everything it carries; scores and the profile fill in the rest.
SOURCE_TABLES: list[tuple[str, str]] = [
    ("t", "tiers.customer_tier"),
    ("s", "scores.account_scores"),
    ("c", "marts.customer_360"),
]


class SnapshotExistsError(RuntimeError):
    """A snapshot id was about to be written twice; snapshots are immutable."""


class PublishContractError(RuntimeError):
    """An upstream table lacks a column the published contract promises."""


def _table_columns(con: duckdb.DuckDBPyConnection, qualified: str) -> set[str]:
    schema, table = qualified.split(".")
    rows = con.execute(
        "select column_name from information_schema.columns "
        "where table_schema = ? and table_name = ?",
        [schema, table],
    ).fetchall()
    return {r[0] for r in rows}


def _sql_str(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def snapshot_select_sql(con: duckdb.DuckDBPyConnection, code_version_value: str) -> str:
    """The SELECT that produces one snapshot, every column cast to its contract type."""
    available = {alias: _table_columns(con, table) for alias, table in SOURCE_TABLES}
    if not available["t"]:
        raise PublishContractError("tiers.customer_tier does not exist: run the tier step first")
    exprs = []
    missing = []
    for name, dtype, _ in CUSTOMER_TIER_COLUMNS:
        if name == "code_version":
            exprs.append(f"cast({_sql_str(code_version_value)} as {dtype}) as {name}")
            continue
        alias = next((a for a, _ in SOURCE_TABLES if name in available[a]), None)
        if alias is None:
            missing.append(name)
            continue
        typed = f"cast({alias}.{name} as {dtype})"
        # Text BI exports to spreadsheets: no control characters, no leading formula sign.
        exprs.append(f"{safe_text_sql(typed) if dtype == 'VARCHAR' else typed} as {name}")
    if missing:
        raise PublishContractError(
            "published columns missing upstream (not in tiers.customer_tier, "
            f"scores.account_scores or marts.customer_360): {', '.join(missing)}"
        )
    joins = []
    if available["s"]:
        joins.append("left join scores.account_scores as s using (golden_account_id)")
    if available["c"]:
        joins.append("left join marts.customer_360 as c using (golden_account_id)")
    return (
        "select\n    "
        + ",\n    ".join(exprs)
        + "\nfrom tiers.customer_tier as t\n"
        + "\n".join(joins)
        + "\norder by golden_account_id"
    )


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def stage_snapshot(
    con: duckdb.DuckDBPyConnection, snapshots_dir: Path, ctx: RunContext
) -> tuple[SnapshotInfo, Path]:
    """Write this run's snapshot into a hidden staging folder; returns its manifest and the
    folder. Nothing is published until :func:`commit_snapshot`."""
    row_count = check_tier_table(con, ctx.snapshot_id)
    final_dir = snapshots_dir / ctx.snapshot_id
    if final_dir.exists():
        raise SnapshotExistsError(
            f"snapshot {ctx.snapshot_id} is already published ({final_dir}); snapshots are "
            "immutable. This run re-executes one that published it: launch a new run of the "
            "partition to publish another snapshot for the date."
        )
    snapshots_dir.mkdir(parents=True, exist_ok=True)
    staging_dir = snapshots_dir / f".incoming-{ctx.snapshot_id}-{uuid.uuid4().hex[:8]}"
    staging_dir.mkdir()
    try:
        target = staging_dir / SNAPSHOT_FILE
        sql = snapshot_select_sql(con, ctx.code_version)
        con.execute(
            f"copy ({sql}) to {_sql_str(target.as_posix())} (format parquet, compression zstd)"
        )
        info = SnapshotInfo(
            snapshot_id=ctx.snapshot_id,
            as_of_date=ctx.as_of.isoformat(),
            created_at=datetime.now(UTC).replace(tzinfo=None).isoformat(timespec="microseconds"),
            row_count=row_count,
            policy_version=ctx.policy_version,
            rules_version=ctx.rules_version,
            code_version=ctx.code_version,
            run_id=ctx.run_id,
            parquet_path=f"snapshots/{ctx.snapshot_id}/{SNAPSHOT_FILE}",
            parquet_sha256=_sha256(target),
        )
        (staging_dir / MANIFEST_FILE).write_text(json.dumps(asdict(info), indent=2) + "\n")
        for path in staging_dir.iterdir():
            path.chmod(0o444)
    except BaseException:
        shutil.rmtree(staging_dir, ignore_errors=True)
        raise
    return info, staging_dir


def commit_snapshot(staging_dir: Path, info: SnapshotInfo, snapshots_dir: Path) -> None:
    """Publish a staged snapshot: one atomic directory rename."""
    os.rename(staging_dir, snapshots_dir / info.snapshot_id)


def history_sql(files: list[str]) -> str:
    # SCD2 history derived from the in-force snapshots themselves, in as-of order, so it can
    # never disagree with what BI was shown: islands of consecutive snapshots with one tier.
    return f"""
        with snaps as (
            select golden_account_id, tier, as_of_date, snapshot_id, policy_version
            from read_parquet([{", ".join(files)}])
        ),
        dated as (
            select *, lag(tier) over (partition by golden_account_id order by as_of_date)
                as prev_tier
            from snaps
        ),
        starts as (
            select golden_account_id, tier, as_of_date as valid_from, snapshot_id, policy_version
            from dated
            where prev_tier is null or prev_tier <> tier
        )
        select
            golden_account_id,
            tier,
            valid_from,
            lead(valid_from) over (partition by golden_account_id order by valid_from) as valid_to,
            lead(valid_from) over (partition by golden_account_id order by valid_from) is null
                as is_current,
            snapshot_id,
            policy_version
        from starts
    """


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


def _fill_serving(
    con: duckdb.DuckDBPyConnection, snapshots: list[SnapshotInfo], files: dict[str, str]
) -> None:
    """Create every serving table in the attached ``serving_build`` database."""
    forced = in_force(snapshots)
    latest = current(snapshots)
    assert latest is not None
    con.execute(
        "create table serving_build.customer_tier_current as select * from read_parquet("
        f"{_sql_str(files[latest.snapshot_id])})"
    )
    con.execute(
        "create table serving_build.tier_snapshots (snapshot_id varchar, as_of_date date, "
        "created_at timestamp, row_count bigint, policy_version varchar, "
        "rules_version varchar, code_version varchar, run_id varchar, "
        "parquet_path varchar, parquet_sha256 varchar, in_force boolean, superseded_by varchar)"
    )
    con.executemany(
        "insert into serving_build.tier_snapshots values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        _snapshot_rows(snapshots),
    )
    history = [_sql_str(files[s.snapshot_id]) for s in forced]
    con.execute(f"create table serving_build.customer_tier_history as {history_sql(history)}")
    # Accounts absent from the current snapshot (deleted or merged away) are closed.
    con.execute(
        f"""
        update serving_build.customer_tier_history
        set is_current = false, valid_to = {_sql_str(latest.as_of_date)}::date
        where is_current
          and golden_account_id not in
              (select golden_account_id from serving_build.customer_tier_current)
        """
    )
    scopes = {
        "in_force": [s.snapshot_id for s in forced],
        "current": [latest.snapshot_id],
    }
    for name, (source, columns, scope) in SERVING_TIER_TABLES.items():
        # Contract columns only, cast to their published types, rows of the snapshots in scope;
        # an empty table with the same schema when the tier step has not produced it yet.
        present = _table_columns(con, source)
        exprs = ", ".join(
            f"cast({col if col in present else 'null'} as {dtype}) as {col}"
            for col, dtype, _ in columns
        )
        if present and scope == "latest":
            con.execute(f"create table serving_build.{name} as select {exprs} from {source}")
        elif present:
            ids = ", ".join(_sql_str(i) for i in scopes[scope])
            con.execute(
                f"create table serving_build.{name} as select {exprs} from {source} "
                f"where snapshot_id in ({ids})"
            )
        else:
            con.execute(f"create table serving_build.{name} as select {exprs} where false")


def build_serving_db(
    con: duckdb.DuckDBPyConnection,
    serving_dir: Path,
    staged: tuple[SnapshotInfo, Path] | None = None,
) -> tuple[Path, dict[str, int]]:
    """Build a new serving DuckDB file beside the live one, from every published snapshot plus
    ``staged`` (a snapshot written but not yet committed). Returns the new file (not yet in
    place: see :func:`swap_serving_db`) and the row count of each table.

    ``con`` is the warehouse connection; the new file is attached to it while being built.
    """
    snapshots = list_snapshots(serving_dir / "snapshots")
    files = {s.snapshot_id: (serving_dir / s.parquet_path).as_posix() for s in snapshots}
    if staged is not None:
        info, folder = staged
        # The staged snapshot sorts as created last, so it is in force for its date.
        snapshots = sorted(
            [*snapshots, info], key=lambda i: (i.as_of_date, i.created_at, i.snapshot_id)
        )
        files[info.snapshot_id] = (folder / SNAPSHOT_FILE).as_posix()
    if not snapshots:
        raise PublishContractError(f"no snapshots under {serving_dir / 'snapshots'}")
    serving_dir.mkdir(parents=True, exist_ok=True)
    tmp = serving_dir / f".stratum_serving.{uuid.uuid4().hex[:8]}.building.duckdb"
    counts: dict[str, int] = {}
    con.execute(f"attach {_sql_str(tmp.as_posix())} as serving_build")
    try:
        _fill_serving(con, snapshots, files)
        for (table,) in con.execute(
            "select table_name from information_schema.tables where table_catalog = 'serving_build'"
        ).fetchall():
            counts[table] = con.execute(f"select count(*) from serving_build.{table}").fetchone()[0]
        con.execute("checkpoint serving_build")
    except BaseException:
        con.execute("detach serving_build")
        tmp.unlink(missing_ok=True)
        raise
    con.execute("detach serving_build")
    tmp.chmod(0o444)
    return tmp, counts


def swap_serving_db(built: Path, serving_db: Path) -> None:
    """Put a built serving file in place atomically (readers see the old or the new file)."""
    os.replace(built, serving_db)


def publish(
    con: duckdb.DuckDBPyConnection, serving_dir: Path, serving_db: Path, ctx: RunContext
) -> tuple[SnapshotInfo, dict[str, int]]:
    """Stage, build, commit, swap (see the module docstring). Returns the snapshot's manifest
    and the serving tables' row counts."""
    snapshots_dir = serving_dir / "snapshots"
    info, staging_dir = stage_snapshot(con, snapshots_dir, ctx)
    try:
        built, counts = build_serving_db(con, serving_dir, (info, staging_dir))
    except BaseException:
        shutil.rmtree(staging_dir, ignore_errors=True)
        raise
    try:
        commit_snapshot(staging_dir, info, snapshots_dir)
    except BaseException:
        built.unlink(missing_ok=True)
        shutil.rmtree(staging_dir, ignore_errors=True)
        raise
    swap_serving_db(built, serving_db)
    return info, counts
