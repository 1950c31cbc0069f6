"""Persist and present validation outcomes: the ``quality.validation_results`` table and the
markdown table shown in Dagster. Plain functions over a DuckDB connection; no Dagster here."""

from __future__ import annotations

import json

import duckdb
import pandas as pd

from pipelines.metadata import markdown_table
from pipelines.quality.outcomes import ValidationOutcome, jsonable

RESULTS_TABLE = "quality.validation_results"

_DDL = f"""
create schema if not exists quality;
create table if not exists {RESULTS_TABLE} (
    run_id varchar,
    asset_key varchar,
    suite varchar,
    expectation_type varchar,
    column_name varchar,
    kwargs json,
    success boolean,
    severity varchar,
    unexpected_count bigint,
    unexpected_percent double,
    examples json,
    element_count bigint,
    batch_row_count bigint,
    sampled boolean,
    source varchar,
    error varchar,
    validated_at timestamp
);
"""


def write_validation_results(
    con: duckdb.DuckDBPyConnection,
    outcome: ValidationOutcome,
    *,
    run_id: str,
    asset_key: str,
    batch_row_count: int | None = None,
    sampled: bool = False,
) -> int:
    """Append one row per expectation of ``outcome`` to ``quality.validation_results``.

    ``asset_key`` is the user string of the validated asset (e.g. ``raw/orders``);
    ``batch_row_count`` the rows in the batch before any sampling. Returns rows written.
    """
    con.execute(_DDL)
    frame = outcome.to_frame()
    if frame.empty:
        return 0
    frame = frame.assign(
        run_id=run_id,
        asset_key=asset_key,
        suite=outcome.suite,
        element_count=outcome.element_count,
        batch_row_count=outcome.element_count if batch_row_count is None else batch_row_count,
        sampled=sampled,
        # Stored naive UTC, like every timestamp in the warehouse.
        validated_at=pd.Timestamp(outcome.validated_at).tz_convert("UTC").tz_localize(None),
    )
    con.register("_validation_rows", frame)
    try:
        con.execute(
            f"""
            insert into {RESULTS_TABLE}
            select
                run_id, asset_key, suite, expectation_type, column_name,
                kwargs::json, success, severity,
                try_cast(unexpected_count as bigint), try_cast(unexpected_percent as double),
                examples::json, element_count, batch_row_count, sampled, source, error,
                validated_at
            from _validation_rows
            """
        )
    finally:
        con.unregister("_validation_rows")
    return len(frame)


def outcome_markdown(outcome: ValidationOutcome, max_rows: int = 30) -> str:
    """Failed expectations as a markdown table (ERROR first), then a one-line summary."""
    failures = sorted(outcome.failures, key=lambda r: r.severity != "ERROR")
    total = len(outcome.results)
    summary = (
        f"**{outcome.suite}**: {total - len(failures)}/{total} expectations passed on "
        f"{outcome.element_count} rows; {len(outcome.errors)} ERROR and "
        f"{len(outcome.warnings)} WARN failures."
    )
    if not failures:
        return summary
    rows = []
    for r in failures[:max_rows]:
        if r.error:
            detail = f"error: {r.error}"
        elif r.examples:
            detail = json.dumps(r.examples, ensure_ascii=False, default=str)
        else:
            bounds = ", ".join(
                f"{k}={jsonable(r.kwargs[k])}"
                for k in ("min_value", "max_value")
                if r.kwargs.get(k) is not None
            )
            detail = f"observed: {r.observed_value}" + (f" (expected {bounds})" if bounds else "")
        count = "" if r.unexpected_count is None else str(r.unexpected_count)
        pct = "" if r.unexpected_percent is None else f"{r.unexpected_percent:.2f}"
        rows.append((r.severity, r.expectation_type, r.column or "", count, pct, detail[:300]))
    table = markdown_table(
        rows,
        ["severity", "expectation", "column", "unexpected", "unexpected %", "examples / observed"],
        right_align={"unexpected", "unexpected %"},
    )
    more = (
        f"\n\n… and {len(failures) - max_rows} more failures." if len(failures) > max_rows else ""
    )
    return f"{summary}\n\n{table}{more}"
