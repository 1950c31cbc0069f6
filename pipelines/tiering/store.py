"""Reading and writing the ``tiers`` schema in the DuckDB warehouse (no Dagster here).

The run's tiers replace ``tiers.customer_tier``; its change tables (ledger, notices, migration
matrix) are stored per snapshot id, so a rerun of a date replaces its own rows and never the
rows of another snapshot, and the serving step publishes only the rows of snapshots in force.
The previous state comes from the previous in-force *published* snapshot
(:mod:`pipelines.history`), never from a table a killed or unpublished run left behind.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import duckdb
import pandas as pd

from pipelines.history import SnapshotInfo, previous_in_force, read_snapshot
from pipelines.tiering.hysteresis import empty_state
from pipelines.tiering.ledger import LEDGER_COLUMNS, NOTICE_COLUMNS
from pipelines.tiering.outputs import STATE_COLUMNS, TieringOutputs

SCORES_TABLE = "scores.account_scores"
MIGRATION_COLUMNS = ["as_of_date", "snapshot_id", "from_tier", "to_tier", "accounts"]

DDL = {
    "tier_ledger": """
        create table if not exists tiers.tier_ledger (
            golden_account_id varchar not null,
            from_tier varchar,
            to_tier varchar not null,
            change_type varchar not null,
            effective_date date not null,
            snapshot_id varchar not null,
            policy_version varchar,
            rule_fired varchar,
            reason_en varchar,
            reason_zh varchar,
            scores_crossed varchar
        )""",
    "downgrade_notices": """
        create table if not exists tiers.downgrade_notices (
            golden_account_id varchar not null,
            effective_date date not null,
            snapshot_id varchar not null,
            from_tier varchar,
            to_tier varchar,
            from_tier_name_en varchar,
            from_tier_name_zh varchar,
            to_tier_name_en varchar,
            to_tier_name_zh varchar,
            owner_team varchar,
            reason_en varchar,
            reason_zh varchar,
            regain_en varchar,
            regain_zh varchar,
            policy_version varchar
        )""",
    "migration_matrix": """
        create table if not exists tiers.migration_matrix (
            as_of_date date not null,
            snapshot_id varchar not null,
            from_tier varchar not null,
            to_tier varchar not null,
            accounts bigint not null
        )""",
}

# Columns of tiers.customer_tier that pandas may hand over untyped (all nulls) or as timestamps.
_CUSTOMER_TIER_CASTS = {
    "tier_since": "date",
    "pending_since": "date",
    "as_of_date": "date",
    "pending_downgrade_to": "varchar",
    "previous_tier": "varchar",
    "risk_flag": "varchar",
    "risk_gate_applied": "varchar",
    "quota_applied": "varchar",
    "override_reason": "varchar",
}


class TierTableError(RuntimeError):
    """``tiers.customer_tier`` is empty or was written by another run than the one using it."""


def check_tier_table(con: duckdb.DuckDBPyConnection, snapshot_id: str) -> int:
    """Rows of ``tiers.customer_tier``, after making sure it holds ``snapshot_id`` only: a step
    that reads the run's tiers (KPIs, publish) must never pick up another run's."""
    ids, rows = con.execute(
        "select list(distinct snapshot_id order by snapshot_id), count(*) from tiers.customer_tier"
    ).fetchone()
    if not rows:
        raise TierTableError("tiers.customer_tier is empty: nothing to publish")
    if list(ids) != [snapshot_id]:
        raise TierTableError(
            f"tiers.customer_tier holds snapshot(s) {', '.join(map(str, ids))}, not this run's "
            f"{snapshot_id}: the tier step of this run did not write it (run the tier step in "
            "the same run, or re-execute the run that did)"
        )
    return int(rows)


def read_scores(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    return con.execute(f"select * from {SCORES_TABLE} order by golden_account_id").df()


def previous_snapshot(serving_dir: Path, as_of: date) -> SnapshotInfo | None:
    """The published snapshot the run compares with: in force, latest date before ``as_of``."""
    return previous_in_force(serving_dir / "snapshots", as_of)


def read_state(
    con: duckdb.DuckDBPyConnection, serving_dir: Path, previous: SnapshotInfo | None
) -> pd.DataFrame:
    """The hysteresis state of ``previous`` (an empty state before the first snapshot)."""
    if previous is None:
        return empty_state()
    return read_snapshot(con, serving_dir, previous, STATE_COLUMNS)


def merge_redirects(con: duckdb.DuckDBPyConnection) -> pd.Series:
    """Golden id retired by an identity merge -> the id that survived (chains followed); empty
    before the identity registry exists."""
    from pipelines.identity.registry import resolve_redirects

    if not _table_exists(con, "identity", "golden_ids"):
        return pd.Series(dtype=object)
    retired = con.execute(
        "select golden_account_id, status, merged_into from identity.golden_ids "
        "where status = 'retired'"
    ).df()
    return resolve_redirects(retired)


def follow_merges(state: pd.DataFrame, redirects: pd.Series) -> pd.DataFrame:
    """The previous state with retired ids renamed to their survivors, so the survivor carries
    on the tier, its date and any pending downgrade instead of starting as a new account. Where
    several rows meet on one survivor, its own row wins, else the tier held longest."""
    if state.empty or redirects.empty:
        return state
    ids = state["golden_account_id"]
    out = state.assign(
        golden_account_id=ids.map(redirects).fillna(ids), _own=~ids.isin(redirects.index)
    )
    out = out.sort_values(
        ["golden_account_id", "_own", "tier_since"], ascending=[True, False, True]
    )
    return out.drop_duplicates("golden_account_id").drop(columns="_own").reset_index(drop=True)


def follow_identity_merges(con: duckdb.DuckDBPyConnection) -> pd.Series:
    """Re-key the ledger of ids retired by identity merges; return the redirects (retired ->
    survivor) for :func:`follow_merges` on the previous state."""
    redirects = merge_redirects(con)
    rekey_ledger(con, redirects)
    return redirects


def rekey_ledger(con: duckdb.DuckDBPyConnection, redirects: pd.Series) -> int:
    """Ledger events of retired ids re-keyed to their survivors (idempotent): the survivor's
    ledger holds the history of both. Returns the rows re-keyed."""
    if redirects.empty or not _table_exists(con, "tiers", "tier_ledger"):
        return 0
    con.register(
        "_redirects",
        pd.DataFrame({"retired": redirects.index.to_numpy(), "survivor": redirects.to_numpy()}),
    )
    try:
        ((n,),) = con.execute(
            "update tiers.tier_ledger as t set golden_account_id = r.survivor "
            "from _redirects as r where t.golden_account_id = r.retired"
        ).fetchall()
    finally:
        con.unregister("_redirects")
    return int(n)


def _table_exists(con: duckdb.DuckDBPyConnection, schema: str, table: str) -> bool:
    return bool(
        con.execute(
            "select count(*) from information_schema.tables "
            "where table_schema = ? and table_name = ?",
            [schema, table],
        ).fetchall()[0][0]
    )


def _insert(
    con: duckdb.DuckDBPyConnection, table: str, frame: pd.DataFrame, columns: list[str]
) -> None:
    con.register("_tier_frame", frame[columns])
    try:
        cols = ", ".join(columns)
        con.execute(f"insert into tiers.{table} ({cols}) select {cols} from _tier_frame")
    finally:
        con.unregister("_tier_frame")


def write_outputs(con: duckdb.DuckDBPyConnection, out: TieringOutputs, as_of: date) -> None:
    """Write one run in a single transaction: current tiers replaced; this snapshot's ledger
    events, notices and migration matrix (re)written, other snapshots' rows kept."""
    con.execute("create schema if not exists tiers")
    for ddl in DDL.values():
        con.execute(ddl)
    con.execute("begin transaction")
    try:
        frame = out.customer_tier
        select = ", ".join(
            f'cast("{c}" as {_CUSTOMER_TIER_CASTS[c]}) as "{c}"'
            if c in _CUSTOMER_TIER_CASTS
            else f'"{c}"'
            for c in frame.columns
        )
        con.register("_customer_tier", frame)
        con.execute(
            f"create or replace table tiers.customer_tier as select {select} from _customer_tier"
        )
        con.unregister("_customer_tier")
        matrix = out.migration.assign(as_of_date=pd.Timestamp(as_of), snapshot_id=out.snapshot_id)
        for table, rows, columns in (
            ("tier_ledger", out.ledger, LEDGER_COLUMNS),
            ("downgrade_notices", out.notices, NOTICE_COLUMNS),
            ("migration_matrix", matrix, MIGRATION_COLUMNS),
        ):
            con.execute(f"delete from tiers.{table} where snapshot_id = ?", [out.snapshot_id])
            _insert(con, table, rows, columns)
        con.execute("commit")
    except Exception:
        con.execute("rollback")
        raise
