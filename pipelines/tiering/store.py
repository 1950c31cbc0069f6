"""Reading and writing the ``tiers`` schema in the DuckDB warehouse (no Dagster here)."""

from __future__ import annotations

from datetime import date

import duckdb
import pandas as pd

from pipelines.tiering.hysteresis import empty_state
from pipelines.tiering.ledger import HISTORY_COLUMNS, LEDGER_COLUMNS, NOTICE_COLUMNS
from pipelines.tiering.outputs import STATE_TABLE_COLUMNS, TieringOutputs

SCORES_TABLE = "scores.account_scores"

DDL = {
    "tier_state": """
        create table if not exists tiers.tier_state (
            golden_account_id varchar primary key,
            tier varchar not null,
            tier_since date not null,
            pending_downgrade_to varchar,
            pending_since date,
            policy_version varchar,
            as_of_date date,
            snapshot_id varchar
        )""",
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
    "tier_history": """
        create table if not exists tiers.tier_history (
            golden_account_id varchar not null,
            tier varchar not null,
            valid_from date not null,
            valid_to date,
            is_current boolean not null,
            snapshot_id varchar,
            policy_version varchar
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


def _table_exists(con: duckdb.DuckDBPyConnection, schema: str, table: str) -> bool:
    row = con.execute(
        "select count(*) from information_schema.tables where table_schema = ? and table_name = ?",
        [schema, table],
    ).fetchone()
    return bool(row and row[0])


def read_scores(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    return con.execute(f"select * from {SCORES_TABLE} order by golden_account_id").df()


def read_state(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Yesterday's state, or an empty state on the first run."""
    if not _table_exists(con, "tiers", "tier_state"):
        return empty_state()
    return con.execute(
        "select golden_account_id, tier, tier_since, pending_downgrade_to, pending_since "
        "from tiers.tier_state"
    ).df()


def read_current_history(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    if not _table_exists(con, "tiers", "tier_history"):
        return pd.DataFrame({"golden_account_id": [], "tier": []}, dtype=object)
    return con.execute(
        "select golden_account_id, tier from tiers.tier_history where is_current"
    ).df()


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
    """Write one run in a single transaction: current tiers and state replaced, ledger and
    migration matrix appended, SCD2 history closed and extended, notices replaced."""
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

        con.execute("delete from tiers.tier_state")
        _insert(con, "tier_state", out.state, STATE_TABLE_COLUMNS)
        _insert(con, "tier_ledger", out.ledger, LEDGER_COLUMNS)

        if out.history.close_ids:
            con.register("_closing", pd.DataFrame({"golden_account_id": out.history.close_ids}))
            con.execute(
                "update tiers.tier_history set valid_to = ?, is_current = false "
                "where is_current and golden_account_id in (select golden_account_id from _closing)",
                [as_of],
            )
            con.unregister("_closing")
        _insert(con, "tier_history", out.history.new_rows, HISTORY_COLUMNS)

        con.execute("delete from tiers.downgrade_notices")
        _insert(con, "downgrade_notices", out.notices, NOTICE_COLUMNS)

        con.execute("delete from tiers.migration_matrix where as_of_date = ?", [as_of])
        matrix = out.migration.assign(as_of_date=pd.Timestamp(as_of), snapshot_id=out.snapshot_id)
        _insert(
            con,
            "migration_matrix",
            matrix,
            ["as_of_date", "snapshot_id", "from_tier", "to_tier", "accounts"],
        )
        con.execute("commit")
    except Exception:
        con.execute("rollback")
        raise
