"""Write immutable tier snapshots and rebuild the read-only serving database.

Nothing here knows about Dagster: functions take a DuckDB connection to the warehouse and
paths, so they are easy to test and to call from a notebook.

Guarantees:
- a snapshot directory, once renamed into place, is never rewritten (``SnapshotExistsError``);
- the serving database is built beside the live one and swapped in with ``os.replace``, so a
  reader sees either the old file or the new one, never a half-written state.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import uuid
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime
from pathlib import Path

import duckdb

from pipelines.publish.contract import CUSTOMER_TIER_COLUMNS, SERVING_TIER_TABLES
from pipelines.settings import REPO_ROOT

SNAPSHOT_FILE = "customer_tier.parquet"
MANIFEST_FILE = "manifest.json"

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


@dataclass(frozen=True)
class SnapshotInfo:
    snapshot_id: str
    as_of_date: str
    created_at: str
    row_count: int
    policy_version: str
    rules_version: str
    code_version: str
    run_id: str
    parquet_path: str
    parquet_sha256: str


def code_version() -> str:
    """The pipeline's code version: ``STRATUM_CODE_VERSION`` or the git commit (``-dirty`` if so)."""
    explicit = os.environ.get("STRATUM_CODE_VERSION")
    if explicit:
        return explicit
    try:
        sha = subprocess.run(
            ["git", "rev-parse", "--short=12", "HEAD"],
            cwd=REPO_ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=REPO_ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        return f"{sha}-dirty" if dirty else sha
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def _table_columns(con: duckdb.DuckDBPyConnection, qualified: str) -> set[str]:
    schema, table = qualified.split(".")
    rows = con.execute(
        "select column_name from information_schema.columns "
        "where table_schema = ? and table_name = ?",
        [schema, table],
    ).fetchall()
    return {r[0] for r in rows}


def snapshot_select_sql(con: duckdb.DuckDBPyConnection, code_version_value: str) -> str:
    """The SELECT that produces one snapshot, every column cast to its contract type."""
    available = {alias: _table_columns(con, table) for alias, table in SOURCE_TABLES}
    if not available["t"]:
        raise PublishContractError("tiers.customer_tier does not exist: run the tier step first")
    exprs = []
    missing = []
    for name, dtype, _ in CUSTOMER_TIER_COLUMNS:
        if name == "code_version":
            literal = code_version_value.replace("'", "''")
            exprs.append(f"cast('{literal}' as {dtype}) as {name}")
            continue
        alias = next((a for a, _ in SOURCE_TABLES if name in available[a]), None)
        if alias is None:
            missing.append(name)
            continue
        exprs.append(f"cast({alias}.{name} as {dtype}) as {name}")
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


def write_snapshot(
    con: duckdb.DuckDBPyConnection,
    snapshots_dir: Path,
    run_id: str,
    code_version_value: str | None = None,
) -> SnapshotInfo:
    """Write the current tiers as a new immutable snapshot directory and return its manifest."""
    meta = con.execute(
        "select any_value(snapshot_id), any_value(as_of_date), any_value(policy_version), "
        "count(*) from tiers.customer_tier"
    ).fetchone()
    snapshot_id, as_of, policy_version, row_count = meta
    if not row_count:
        raise PublishContractError("tiers.customer_tier is empty: nothing to publish")
    n_ids = con.execute("select count(distinct snapshot_id) from tiers.customer_tier").fetchone()[0]
    if n_ids != 1:
        raise PublishContractError(f"tiers.customer_tier holds {n_ids} snapshot ids, expected 1")
    rules_cols = _table_columns(con, "scores.account_scores")
    rules_version = (
        con.execute("select any_value(rules_version) from scores.account_scores").fetchone()[0]
        if "rules_version" in rules_cols
        else ""
    )
    version = code_version_value or code_version()

    final_dir = snapshots_dir / str(snapshot_id)
    if final_dir.exists():
        raise SnapshotExistsError(f"snapshot {snapshot_id} already exists at {final_dir}")
    snapshots_dir.mkdir(parents=True, exist_ok=True)
    staging_dir = snapshots_dir / f".incoming-{snapshot_id}-{uuid.uuid4().hex[:8]}"
    staging_dir.mkdir()
    try:
        target = staging_dir / SNAPSHOT_FILE
        sql = snapshot_select_sql(con, version)
        con.execute(f"copy ({sql}) to '{target.as_posix()}' (format parquet, compression zstd)")
        info = SnapshotInfo(
            snapshot_id=str(snapshot_id),
            as_of_date=as_of.isoformat() if isinstance(as_of, date) else str(as_of),
            created_at=datetime.now(UTC).replace(tzinfo=None).isoformat(timespec="seconds"),
            row_count=int(row_count),
            policy_version=str(policy_version),
            rules_version=str(rules_version or ""),
            code_version=version,
            run_id=run_id,
            parquet_path=f"snapshots/{snapshot_id}/{SNAPSHOT_FILE}",
            parquet_sha256=_sha256(target),
        )
        (staging_dir / MANIFEST_FILE).write_text(json.dumps(asdict(info), indent=2) + "\n")
        for path in staging_dir.iterdir():
            path.chmod(0o444)
        # A directory rename is atomic: readers globbing snapshots/*/ never see a partial one.
        os.rename(staging_dir, final_dir)
    except BaseException:
        shutil.rmtree(staging_dir, ignore_errors=True)
        raise
    return info


def list_snapshots(snapshots_dir: Path) -> list[SnapshotInfo]:
    """All published snapshots, oldest first (by as-of date, then creation time)."""
    infos = []
    if snapshots_dir.exists():
        for manifest in snapshots_dir.glob(f"*/{MANIFEST_FILE}"):
            if manifest.parent.name.startswith("."):
                continue
            infos.append(SnapshotInfo(**json.loads(manifest.read_text())))
    return sorted(infos, key=lambda i: (i.as_of_date, i.created_at, i.snapshot_id))


def _sql_str(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def build_serving_db(con: duckdb.DuckDBPyConnection, serving_dir: Path, serving_db: Path) -> dict:
    """Rebuild the serving DuckDB file from the snapshots and swap it in atomically.

    ``con`` is the warehouse connection (the serving file is attached to it while being built).
    Returns row counts per serving table.
    """
    snapshots = list_snapshots(serving_dir / "snapshots")
    if not snapshots:
        raise PublishContractError(f"no snapshots under {serving_dir / 'snapshots'}")
    serving_dir.mkdir(parents=True, exist_ok=True)
    tmp = serving_dir / f".{serving_db.stem}.{uuid.uuid4().hex[:8]}.building.duckdb"
    latest = snapshots[-1]
    files = [_sql_str((serving_dir / s.parquet_path).as_posix()) for s in snapshots]
    counts: dict[str, int] = {}
    con.execute(f"attach {_sql_str(tmp.as_posix())} as serving_build")
    try:
        con.execute(
            "create table serving_build.customer_tier_current as select * from read_parquet("
            f"{_sql_str((serving_dir / latest.parquet_path).as_posix())})"
        )
        con.execute(
            "create table serving_build.tier_snapshots (snapshot_id varchar, as_of_date date, "
            "created_at timestamp, row_count bigint, policy_version varchar, "
            "rules_version varchar, code_version varchar, run_id varchar, "
            "parquet_path varchar, parquet_sha256 varchar)"
        )
        con.executemany(
            "insert into serving_build.tier_snapshots values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [list(asdict(s).values()) for s in snapshots],
        )
        # SCD2 history derived from the published snapshots themselves, so it can never
        # disagree with what BI was shown: islands of consecutive snapshots with one tier.
        con.execute(
            f"""
            create table serving_build.customer_tier_history as
            with snaps as (
                select golden_account_id, tier, as_of_date, snapshot_id, policy_version
                from read_parquet([{", ".join(files)}])
            ),
            dated as (
                select *,
                    lag(tier) over (partition by golden_account_id order by as_of_date, snapshot_id)
                        as prev_tier
                from snaps
            ),
            starts as (
                select golden_account_id, tier, as_of_date as valid_from, snapshot_id,
                    policy_version
                from dated
                where prev_tier is null or prev_tier <> tier
            )
            select
                golden_account_id,
                tier,
                valid_from,
                lead(valid_from) over (partition by golden_account_id order by valid_from)
                    as valid_to,
                lead(valid_from) over (partition by golden_account_id order by valid_from)
                    is null as is_current,
                snapshot_id,
                policy_version
            from starts
            """
        )
        # Accounts absent from the latest snapshot (deleted or merged away) are closed.
        con.execute(
            f"""
            update serving_build.customer_tier_history h
            set is_current = false, valid_to = {_sql_str(latest.as_of_date)}::date
            where is_current
              and golden_account_id not in
                  (select golden_account_id from serving_build.customer_tier_current)
            """
        )
        for name, (source, columns) in SERVING_TIER_TABLES.items():
            # Contract columns only, cast to their published types; an empty table with the
            # same schema when the tier step has not produced it yet, so BI schemas never drift.
            present = _table_columns(con, source)
            exprs = ", ".join(
                f"cast({col if col in present else 'null'} as {dtype}) as {col}"
                for col, dtype, _ in columns
            )
            where = "" if present else " where false"
            src = source if present else "(select 1)"
            con.execute(f"create table serving_build.{name} as select {exprs} from {src}{where}")
        for (table,) in con.execute(
            "select table_name from information_schema.tables where table_catalog = 'serving_build'"
        ).fetchall():
            counts[table] = con.execute(f"select count(*) from serving_build.{table}").fetchone()[0]
        con.execute("checkpoint serving_build")
    finally:
        con.execute("detach serving_build")
    tmp.chmod(0o444)
    os.replace(tmp, serving_db)
    return counts
