"""Dagster asset checks that run the GX suites: a thin layer over ``file_gates``/``batches``.

* ``raw_quality_checks``: one blocking check ``gx_<entity>`` per ``AssetKey(["raw", entity])``,
  judging every load batch no run has judged yet and every batch that failed before
  (``file_gates.py``): a failed batch blocks every run until it is fixed, withdrawn or
  accepted in ``config/acceptances.yaml``.
* ``customer_360_quality_checks``: blocking check ``gx_customer_360`` on
  ``AssetKey(["customer_360"])`` (table ``marts.customer_360``), rebuilt and judged every run.

A failed ERROR-severity expectation fails the check with ERROR severity, which stops
downstream assets in the same run; WARN-only failures fail the check as a warning. A blocking
failure says in one sentence what failed and which snapshot stays in force, on the check
result and on the run's ``stratum/blocked`` tag (:mod:`pipelines.quality.blocked`).
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

from pipelines.metadata import markdown_table
from pipelines.partitions import AS_OF_PARTITIONS, business_today
from pipelines.quality.batches import (
    CUSTOMER_360_TABLE,
    Batch,
    key_outcomes_sql,
    load_table_columns,
    table_exists,
)
from pipelines.quality.blocked import BLOCKED_TAG, add_clause, blocked_sentence, clause_of
from pipelines.quality.config import freshness_parameters
from pipelines.quality.file_gates import (
    GateReport,
    files_label,
    gx_judge,
    quarantine_judge,
    run_file_gate,
)
from pipelines.quality.gx_runner import ValidationOutcome, suite_columns, validate_frame
from pipelines.quality.results import outcome_markdown, write_validation_results
from pipelines.resources import Warehouse
from pipelines.run_context import RunContext, RunContextResource
from pipelines.settings import ENTITIES, get_paths

CUSTOMER_360_KEY = AssetKey(["customer_360"])


def with_blocked_reason(result: AssetCheckResult, clause: str) -> AssetCheckResult:
    """``result`` with the one-sentence ``blocked`` metadata when it fails with ERROR severity
    (for checks that do not write it themselves; ``clause`` says what failed)."""
    if result.passed or result.severity != AssetCheckSeverity.ERROR:
        return result
    if result.metadata and "blocked" in result.metadata:
        return result
    sentence = blocked_sentence([clause], get_paths().serving_dir)
    return result._replace(
        metadata={**(result.metadata or {}), "blocked": MetadataValue.text(sentence)}
    )


def tag_blocked_run(context: AssetCheckExecutionContext, result: AssetCheckResult) -> None:
    """Add a blocking failure's clause to the run's ``stratum/blocked`` tag."""
    sentence = result.metadata.get("blocked") if result.metadata else None
    if sentence is None or context.instance is None:
        return
    run = context.instance.get_run_by_id(context.run.run_id) or context.run
    text = add_clause(
        run.tags.get(BLOCKED_TAG), clause_of(str(sentence.value)), get_paths().serving_dir
    )
    context.instance.add_run_tags(context.run.run_id, {BLOCKED_TAG: text})


def _verdict_table(report: GateReport) -> str:
    rows = [*report.judged, *(v for v in report.outstanding if v not in report.judged)]
    if not rows:
        return "No batch to judge: every load batch was judged by an earlier run."
    return markdown_table(
        [(v.batch[:8], files_label(v.files), v.status, v.acceptance or v.detail) for v in rows],
        ["loaded by run", "files", "status", "detail"],
    )


def gate_metadata(report: GateReport) -> dict[str, Any]:
    """Check metadata shared by the raw gates: verdicts, withdrawals, acceptances, and for a
    blocking failure the one-sentence reason and the acceptance to paste."""
    meta: dict[str, Any] = {
        "batches_judged": len(report.judged),
        "outstanding_failures": len(report.outstanding),
        "verdicts": MetadataValue.md(_verdict_table(report)),
    }
    if report.withdrawn:
        meta["withdrawn_files"] = MetadataValue.json([f.path for f in report.withdrawn])
    accepted = [v.acceptance for v in report.judged if v.acceptance]
    if accepted:
        meta["acceptances"] = MetadataValue.json(accepted)
    if report.blocking:
        meta["blocked"] = blocked_sentence([report.clause()], get_paths().serving_dir)
        meta["to_accept"] = MetadataValue.md(
            "Fix or remove the files in the landing folder, or accept them in "
            "config/acceptances.yaml:\n\n```yaml\n"
            + report.acceptance_snippet(business_today())
            + "\n```"
        )
    return meta


def _gx_metadata(outcomes: list[ValidationOutcome]) -> dict[str, Any]:
    if not outcomes:
        return {}
    meta: dict[str, Any] = {
        "element_count": sum(o.element_count for o in outcomes),
        "expectations": sum(len(o.results) for o in outcomes),
        "failed_errors": sum(len(o.errors) for o in outcomes),
        "failed_warnings": sum(len(o.warnings) for o in outcomes),
        "failures": MetadataValue.md("\n\n".join(outcome_markdown(o) for o in outcomes)),
        "results_table": "quality.validation_results",
    }
    notes = [n for o in outcomes for n in o.notes]
    if notes:
        meta["note"] = " ".join(notes)
    docs = outcomes[-1].data_docs_index
    if docs is not None:
        meta["data_docs"] = MetadataValue.path(str(docs))
    return meta


def _check_result(
    report: GateReport, extra: dict[str, Any], severity: AssetCheckSeverity | None = None
) -> AssetCheckResult:
    if severity is None:
        severity = AssetCheckSeverity.ERROR if report.blocking else AssetCheckSeverity.WARN
    return AssetCheckResult(
        passed=report.passed, severity=severity, metadata={**extra, **gate_metadata(report)}
    )


def run_raw_gate(entity: str, ctx: RunContext, warehouse: Warehouse) -> AssetCheckResult:
    """Judge the load batches of ``raw.<entity>`` with its GX suite (module docstring)."""
    config = ctx.config.quality.model
    paths = get_paths()
    outcomes: list[ValidationOutcome] = []
    with warehouse.connect() as con:
        report = run_file_gate(
            con,
            f"gx_{entity}",
            entity,
            gx_judge(con, config, ctx.run_id, outcomes),
            run_id=ctx.run_id,
            landing_dir=paths.landing_dir,
            serving_dir=paths.serving_dir,
            acceptances=ctx.config.acceptances.model,
        )
    return _check_result(report, {"suite": entity, **_gx_metadata(outcomes)})


def run_quarantine_gate(entity: str, ctx: RunContext, warehouse: Warehouse) -> AssetCheckResult:
    """Judge the load batches of ``raw.<entity>`` by their quarantined share of rows against
    ``config/sources.yaml`` (threshold and severity), the same way as the GX gate."""
    source = ctx.config.source_settings[entity]
    paths = get_paths()
    with warehouse.connect() as con:
        report = run_file_gate(
            con,
            "quarantine_rate",
            entity,
            quarantine_judge(con, source.quarantine_rate_threshold, source.severity),
            run_id=ctx.run_id,
            landing_dir=paths.landing_dir,
            serving_dir=paths.serving_dir,
            acceptances=ctx.config.acceptances.model,
        )
    extra = {"threshold": source.quarantine_rate_threshold}
    return _check_result(report, extra, AssetCheckSeverity(source.severity))


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
    if outcome.errors:
        clause = f"{outcome.suite} GX suite failed: " + ", ".join(
            f"{r.expectation_type} on {r.column}" if r.column else r.expectation_type
            for r in outcome.errors[:3]
        )
        metadata["blocked"] = blocked_sentence([clause], get_paths().serving_dir)
    return AssetCheckResult(
        passed=not outcome.failures,
        severity=severity,
        metadata=metadata,
    )


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
        description=f"Great Expectations suite expectations/{entity}.json on each load batch "
        "(the files one run loaded), judged once; a failed batch blocks every run until it is "
        "fixed, withdrawn or accepted (config/acceptances.yaml). Severity per "
        "config/quality.yaml.",
    )
    def _check(
        context: AssetCheckExecutionContext, warehouse: Warehouse, run: RunContextResource
    ) -> AssetCheckResult:
        result = run_raw_gate(entity, run.ctx, warehouse)
        tag_blocked_run(context, result)
        return result

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
    result = run_customer_360_gate(run.ctx, warehouse)
    tag_blocked_run(context, result)
    return result


raw_quality_checks: list[AssetChecksDefinition] = [_raw_check(e) for e in ENTITIES]
customer_360_quality_checks: list[AssetChecksDefinition] = [gx_customer_360]

__all__ = [
    "customer_360_quality_checks",
    "raw_quality_checks",
    "run_customer_360_gate",
    "run_quarantine_gate",
    "run_raw_gate",
    "tag_blocked_run",
    "with_blocked_reason",
]
