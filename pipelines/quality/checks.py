"""Dagster asset checks that run the GX suites: a thin layer over ``gx_runner``/``batches``.

* ``raw_quality_checks``: one blocking check ``gx_<entity>`` per ``AssetKey(["raw", entity])``,
  validating only the rows of the latest load batch.
* ``customer_360_quality_checks``: blocking check ``gx_customer_360`` on
  ``AssetKey(["customer_360"])`` (table ``marts.customer_360``).

A failed ERROR-severity expectation fails the check with ERROR severity, which stops
downstream assets in the same run; WARN-only failures fail the check as a warning.
Every validation is appended to ``quality.validation_results`` and rendered in Data Docs.
"""

# No "from __future__ import annotations": Dagster inspects the real annotation types.

from typing import Any

from dagster import (
    AssetCheckExecutionContext,
    AssetCheckResult,
    AssetChecksDefinition,
    AssetCheckSeverity,
    AssetKey,
    MetadataValue,
    asset_check,
)

from pipelines.partitions import AS_OF_PARTITIONS, business_date_of
from pipelines.quality.batches import (
    CUSTOMER_360_TABLE,
    Batch,
    key_outcomes_sql,
    latest_batch_run_id,
    load_raw_batch,
    load_table_columns,
    table_exists,
)
from pipelines.quality.config import freshness_parameters
from pipelines.quality.gx_runner import ValidationOutcome, suite_columns, validate_frame
from pipelines.quality.results import outcome_markdown, write_validation_results
from pipelines.resources import Warehouse
from pipelines.run_context import RunContext, RunContextResource
from pipelines.settings import ENTITIES

CUSTOMER_360_KEY = AssetKey(["customer_360"])


def _result(outcome: ValidationOutcome, batch: Batch, extra: dict[str, Any]) -> AssetCheckResult:
    severity = AssetCheckSeverity.ERROR if outcome.errors else AssetCheckSeverity.WARN
    notes = list(outcome.notes)
    if batch.sampled:
        notes.append(
            f"Batch of {batch.total_rows} rows is larger than max_rows: validated a "
            f"deterministic sample of {outcome.element_count} rows (hash order)."
        )
    if batch.missing_columns:
        notes.append(f"Columns missing from the table: {', '.join(batch.missing_columns)}.")
    metadata: dict[str, Any] = {
        "suite": outcome.suite,
        "element_count": outcome.element_count,
        "batch_row_count": batch.total_rows,
        "sampled": batch.sampled,
        "expectations": len(outcome.results),
        "failed_errors": len(outcome.errors),
        "failed_warnings": len(outcome.warnings),
        "failures": MetadataValue.md(outcome_markdown(outcome)),
        "results_table": "quality.validation_results",
        **extra,
    }
    if outcome.data_docs_index is not None:
        metadata["data_docs"] = MetadataValue.path(str(outcome.data_docs_index))
    if notes:
        metadata["note"] = " ".join(notes)
    return AssetCheckResult(
        passed=not outcome.failures,
        severity=severity,
        metadata=metadata,
    )


def run_raw_gate(entity: str, ctx: RunContext, warehouse: Warehouse) -> AssetCheckResult:
    """Validate the latest load batch of ``raw.<entity>`` and persist the outcome."""
    run_id = ctx.run_id
    config = ctx.config.quality.model
    policy = config.policy(entity)
    with warehouse.connect() as con:
        batch_run_id = latest_batch_run_id(con, entity)
        if batch_run_id is None:
            return AssetCheckResult(
                passed=True,
                metadata={"suite": entity, "note": "Nothing has been loaded for this entity yet."},
            )
        if policy.batch_policy == "current_run" and batch_run_id != run_id:
            return AssetCheckResult(
                passed=True,
                metadata={
                    "suite": entity,
                    "batch_run_id": batch_run_id,
                    "note": "This run loaded no new rows; the latest batch was loaded (and "
                    f"validated) by run {batch_run_id}.",
                },
            )
        batch = load_raw_batch(con, entity, batch_run_id, policy.max_rows)
        if batch.total_rows == 0:
            return AssetCheckResult(
                passed=True,
                metadata={
                    "suite": entity,
                    "batch_run_id": batch_run_id,
                    "note": "The latest load added no rows (all quarantined or empty files).",
                },
            )
        # A raw batch is a delivery: its dates are judged against the day it was loaded, not
        # the run's as-of date (a backfill for a past date loads today's files).
        loaded_on = business_date_of(batch.frame["_loaded_at"].max())
        outcome = validate_frame(
            batch.frame,
            entity,
            freshness_parameters(loaded_on, policy),
            run_name=run_id,
            config=config,
        )
        write_validation_results(
            con,
            outcome,
            run_id=run_id,
            asset_key=f"raw/{entity}",
            batch_row_count=batch.total_rows,
            sampled=batch.sampled,
        )
    return _result(outcome, batch, {"batch_run_id": batch_run_id})


def run_customer_360_gate(ctx: RunContext, warehouse: Warehouse) -> AssetCheckResult:
    """Validate ``marts.customer_360`` (only the suite's columns; key checks in SQL when sampled)."""
    suite = "customer_360"
    run_id = ctx.run_id
    config = ctx.config.quality.model
    policy = config.policy(suite)
    with warehouse.connect() as con:
        if not table_exists(con, CUSTOMER_360_TABLE):
            return AssetCheckResult(
                passed=False,
                severity=AssetCheckSeverity.ERROR,
                metadata={"suite": suite, "note": f"{CUSTOMER_360_TABLE} does not exist."},
            )
        batch = load_table_columns(
            con, CUSTOMER_360_TABLE, suite_columns(suite), policy.max_rows, "golden_account_id"
        )
        outcome = validate_frame(
            batch.frame,
            suite,
            freshness_parameters(ctx.as_of, policy),
            run_name=run_id,
            config=config,
        )
        if batch.sampled:
            # A sample cannot prove the key unique: count nulls and duplicates over the table.
            for sql_outcome in key_outcomes_sql(
                con,
                CUSTOMER_360_TABLE,
                "golden_account_id",
                severity_unique=policy.severity_for(
                    "expect_column_values_to_be_unique:golden_account_id",
                    "expect_column_values_to_be_unique",
                ),
                severity_not_null=policy.severity_for(
                    "expect_column_values_to_not_be_null:golden_account_id",
                    "expect_column_values_to_not_be_null",
                ),
                examples=policy.examples,
            ):
                outcome.replace_result(sql_outcome)
            outcome.notes.append("golden_account_id uniqueness and nulls computed in SQL.")
        write_validation_results(
            con,
            outcome,
            run_id=run_id,
            asset_key=CUSTOMER_360_KEY.to_user_string(),
            batch_row_count=batch.total_rows,
            sampled=batch.sampled,
        )
    return _result(outcome, batch, {"table": CUSTOMER_360_TABLE})


def _raw_check(entity: str) -> AssetChecksDefinition:
    @asset_check(
        asset=AssetKey(["raw", entity]),
        name=f"gx_{entity}",
        blocking=True,
        partitions_def=AS_OF_PARTITIONS,
        description=f"Great Expectations suite expectations/{entity}.json on the rows of the "
        "latest load; severity per config/quality.yaml.",
    )
    def _check(
        context: AssetCheckExecutionContext, warehouse: Warehouse, run: RunContextResource
    ) -> AssetCheckResult:
        return run_raw_gate(entity, run.ctx, warehouse)

    return _check


@asset_check(
    asset=CUSTOMER_360_KEY,
    name="gx_customer_360",
    blocking=True,
    partitions_def=AS_OF_PARTITIONS,
    description="Great Expectations suite expectations/customer_360.json on marts.customer_360.",
)
def gx_customer_360(
    context: AssetCheckExecutionContext, warehouse: Warehouse, run: RunContextResource
) -> AssetCheckResult:
    return run_customer_360_gate(run.ctx, warehouse)


raw_quality_checks: list[AssetChecksDefinition] = [_raw_check(e) for e in ENTITIES]
customer_360_quality_checks: list[AssetChecksDefinition] = [gx_customer_360]

__all__ = [
    "customer_360_quality_checks",
    "raw_quality_checks",
    "run_customer_360_gate",
    "run_raw_gate",
]
