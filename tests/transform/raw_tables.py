"""Development stand-in for ingestion: create typed ``raw.<entity>`` tables and append rows.

The column types follow docs/data-contract.md and docs/architecture.md (contract columns plus
``_source_file``, ``_source_line``, ``_sha256``, ``_loaded_at``, ``_run_id``). Tests use it to
build tiny hand-written warehouses; ``python -m tests.transform.raw_tables <path>`` builds a
dev warehouse from the generator when ``pipelines.generate`` exists.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Mapping
from datetime import date, datetime
from typing import Any

import duckdb
import pandas as pd

RAW_COLUMNS: dict[str, dict[str, str]] = {
    "crm_accounts": {
        "account_id": "VARCHAR",
        "account_name": "VARCHAR",
        "uscc": "VARCHAR",
        "industry": "VARCHAR",
        "employee_count": "BIGINT",
        "annual_revenue_cny": "DECIMAL(18,2)",
        "province": "VARCHAR",
        "city": "VARCHAR",
        "parent_account_id": "VARCHAR",
        "owner_team": "VARCHAR",
        "created_at": "TIMESTAMP",
        "updated_at": "TIMESTAMP",
        "is_deleted": "BOOLEAN",
    },
    "crm_contacts": {
        "contact_id": "VARCHAR",
        "account_id": "VARCHAR",
        "full_name": "VARCHAR",
        "email": "VARCHAR",
        "phone": "VARCHAR",
        "job_title": "VARCHAR",
        "opt_out": "BOOLEAN",
        "created_at": "TIMESTAMP",
        "updated_at": "TIMESTAMP",
        "is_deleted": "BOOLEAN",
    },
    "crm_leads": {
        "lead_id": "VARCHAR",
        "account_id": "VARCHAR",
        "lead_source": "VARCHAR",
        "status": "VARCHAR",
        "created_at": "TIMESTAMP",
        "converted_at": "TIMESTAMP",
        "updated_at": "TIMESTAMP",
        "is_deleted": "BOOLEAN",
    },
    "crm_activities": {
        "activity_id": "VARCHAR",
        "account_id": "VARCHAR",
        "contact_id": "VARCHAR",
        "activity_type": "VARCHAR",
        "occurred_at": "TIMESTAMP",
        "updated_at": "TIMESTAMP",
        "is_deleted": "BOOLEAN",
    },
    "orders": {
        "order_id": "VARCHAR",
        "account_id": "VARCHAR",
        "order_date": "DATE",
        "status": "VARCHAR",
        "amount_cny": "DECIMAL(18,2)",
        "refund_amount_cny": "DECIMAL(18,2)",
        "product_line": "VARCHAR",
        "updated_at": "TIMESTAMP",
    },
    "risk": {
        "uscc": "VARCHAR",
        "as_of_date": "DATE",
        "credit_rating": "VARCHAR",
        "overdue_amount_cny": "DECIMAL(18,2)",
        "lawsuit_count": "BIGINT",
        "abnormal_operation": "BOOLEAN",
    },
    "surveys": {
        "response_id": "VARCHAR",
        "account_id": "VARCHAR",
        "contact_id": "VARCHAR",
        "survey_date": "DATE",
        "nps_score": "BIGINT",
        "csat_score": "BIGINT",
        "comment": "VARCHAR",
    },
}

LOAD_COLUMNS: dict[str, str] = {
    "_source_file": "VARCHAR",
    "_source_line": "BIGINT",
    "_sha256": "VARCHAR",
    "_loaded_at": "TIMESTAMP",
    "_run_id": "VARCHAR",
}


def create_raw_tables(con: duckdb.DuckDBPyConnection) -> None:
    """Create every empty ``raw.<entity>`` table (no-op for tables that already exist)."""
    con.execute("create schema if not exists raw")
    for entity, columns in RAW_COLUMNS.items():
        cols = ", ".join(f"{name} {typ}" for name, typ in {**columns, **LOAD_COLUMNS}.items())
        con.execute(f"create table if not exists raw.{entity} ({cols})")


def append_rows(
    con: duckdb.DuckDBPyConnection,
    entity: str,
    rows: Iterable[Mapping[str, Any]] | pd.DataFrame,
    *,
    source_file: str = "dev.csv",
    loaded_at: datetime | None = None,
    run_id: str = "dev",
) -> int:
    """Append rows (missing columns become null) to ``raw.<entity>`` with load metadata.

    ``_source_line`` numbers the rows from 2 (line 1 is the CSV header) unless given.
    Returns the number of rows appended.
    """
    frame = rows.copy() if isinstance(rows, pd.DataFrame) else pd.DataFrame(list(rows))
    if frame.empty:
        return 0
    columns = {**RAW_COLUMNS[entity], **LOAD_COLUMNS}
    if "_source_line" not in frame:
        frame["_source_line"] = range(2, len(frame) + 2)
    defaults = {
        "_source_file": source_file,
        "_sha256": "0" * 64,
        "_loaded_at": loaded_at or datetime(2024, 1, 1),
        "_run_id": run_id,
    }
    for name, default in defaults.items():
        # a row may carry its own value (e.g. a late load); the others get the default
        frame[name] = (
            frame[name].astype(object).where(frame[name].notna(), default)
            if name in frame
            else default
        )
    for name in columns:
        if name not in frame:
            frame[name] = None
    # Cast in DuckDB so Python values (str dates, ints) land in the contract types.
    select = ", ".join(f"cast({name} as {typ}) as {name}" for name, typ in columns.items())
    con.register("_incoming", frame[list(columns)])
    try:
        con.execute(f"insert into raw.{entity} select {select} from _incoming")
    finally:
        con.unregister("_incoming")
    return len(frame)


def build_from_world(con: duckdb.DuckDBPyConnection, world: Any) -> dict[str, int]:
    """Load a generator World (one DataFrame attribute per entity) into raw tables."""
    create_raw_tables(con)
    counts: dict[str, int] = {}
    for entity in RAW_COLUMNS:
        frame = getattr(world, entity, None)
        if frame is None and hasattr(world, "tables"):
            frame = world.tables.get(entity)
        if frame is None:
            continue
        keep = [c for c in frame.columns if c in RAW_COLUMNS[entity]]
        counts[entity] = append_rows(con, entity, frame[keep], source_file=f"{entity}.csv")
    return counts


def main(argv: list[str]) -> None:
    """Build a dev warehouse at ``argv[0]`` from the generator (n accounts = argv[1])."""
    from pipelines.generate import generate_world  # only available once the generator lands

    path = argv[0]
    n_accounts = int(argv[1]) if len(argv) > 1 else 500
    world = generate_world(n_accounts=n_accounts, seed=7, as_of=date(2024, 6, 30))
    with duckdb.connect(path) as con:
        print(build_from_world(con, world))


if __name__ == "__main__":
    main(sys.argv[1:])
