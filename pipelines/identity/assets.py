"""Dagster wrapper of the matching step, between dbt staging and the identity models.

No ``from __future__ import annotations`` here: Dagster inspects the context annotation.
"""

from datetime import date
from pathlib import Path
from typing import Any

import pandas as pd
from dagster import (
    AssetCheckResult,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetExecutionContext,
    AssetKey,
    MaterializeResult,
    MetadataValue,
    asset,
)

from pipelines.identity.evaluation import evaluate
from pipelines.identity.matching import MatchOutcome, match_accounts, persist
from pipelines.identity.store import inputs_fingerprint, read_state
from pipelines.metadata import markdown_table
from pipelines.partitions import AS_OF_PARTITIONS
from pipelines.resources import Warehouse
from pipelines.run_context import RunContextResource
from pipelines.settings import comparable_code_version, engine, get_paths

ACCOUNT_MATCHES_KEY = AssetKey(["identity", "account_matches"])
LIMITS_CHECK = "golden_accounts_within_limits"


def truth_metrics(outcome: MatchOutcome, truth_path: Path) -> dict[str, float] | None:
    """Precision/recall against a ground-truth file when one exists (generated worlds)."""
    if not truth_path.exists():
        return None
    truth = pd.read_parquet(truth_path, columns=["account_id", "true_company_id"])
    predicted = outcome.current.rename(columns={"golden_account_id": "cluster"})
    return evaluate(predicted[["account_id", "cluster"]], truth)


def _markdown(frame: pd.DataFrame) -> str:
    return markdown_table(frame) if len(frame) else "none"


def violations_sentence(violations: pd.DataFrame, shown: int = 2) -> str:
    """What the blocking check refused, in one line (ids and counts, no names): it becomes the
    run's ``stratum/blocked`` clause."""
    parts = [
        f"golden account {r.golden_account_id} {r.reason}"
        for r in violations.head(shown).itertuples()
    ]
    more = len(violations) - shown
    text = ", ".join(parts) + (f" and {more} more" if more > 0 else "")
    return f"{text}: the previous golden ids are kept"


def _metadata(outcome: MatchOutcome, versions: dict[str, str], metrics: dict | None) -> dict:
    meta: dict[str, Any] = {
        "records": MetadataValue.int(outcome.stats["records"]),
        "golden_accounts": MetadataValue.int(outcome.stats["golden_accounts"]),
        "review_pairs": MetadataValue.int(outcome.stats["review_pairs"]),
        "match_stats": MetadataValue.json(outcome.stats),
        "match_rules": MetadataValue.json(
            {k: int(v) for k, v in outcome.current["match_rule"].value_counts().items()}
        ),
        "identity_events": MetadataValue.md(
            _markdown(outcome.assignment.events["event_type"].value_counts().reset_index())
        ),
        "violations": MetadataValue.md(_markdown(outcome.violations)),
        **versions,
    }
    if metrics is not None:
        meta["evaluation_vs_ground_truth"] = MetadataValue.json(metrics)
        meta["pairwise_precision"] = MetadataValue.float(float(metrics["precision"]))
        meta["pairwise_recall"] = MetadataValue.float(float(metrics["recall"]))
    return meta


@asset(
    key=ACCOUNT_MATCHES_KEY,
    deps=[AssetKey("stg_crm__accounts"), AssetKey("stg_crm__contacts"), AssetKey("china_regions")],
    group_name="identity",
    kinds={"python", "duckdb", "splink"},
    partitions_def=AS_OF_PARTITIONS,
    description=(
        "Probabilistic matching of CRM account records (Splink on the engine: DuckDB, or Spark "
        "with STRATUM_ENGINE=spark; config/identity.yaml) "
        "with deterministic credit-code rules and the reviewers' decisions "
        "(config/identity_decisions.yaml), for the run's as-of date. Writes "
        "identity.account_identity (record -> golden "
        "id, the dbt source), the golden-id registry and identity_events, match_pairs and "
        "the review queue identity_review. When the records, region seed, config, decisions "
        "and code are those behind the ids in force (identity.match_state), nothing is matched "
        "again and the ids stand (a rebuild matches anyway)."
    ),
    check_specs=[
        AssetCheckSpec(
            LIMITS_CHECK,
            asset=ACCOUNT_MATCHES_KEY,
            blocking=True,
            description=(
                "No golden account absorbs more CRM records than max_records_per_golden_account "
                "or holds two different valid credit codes; a failing run keeps the previous ids."
            ),
            partitions_def=AS_OF_PARTITIONS,
        )
    ],
)
def account_matches(
    context: AssetExecutionContext, warehouse: Warehouse, run: RunContextResource
) -> MaterializeResult:
    ctx = run.ctx
    config, decisions = ctx.config.identity, ctx.config.identity_decisions
    versions = {"identity_config_version": config.version, "decisions_version": decisions.version}
    with warehouse.connect() as con:
        fingerprint = (
            inputs_fingerprint(con, {**versions, "code_version": ctx.code_version})
            if comparable_code_version(ctx.code_version)
            else None
        )
        state = read_state(con)
        if fingerprint and state and state["fingerprint"] == fingerprint and not run.rebuild:
            return _unchanged(context, ctx.as_of, state, versions)
        outcome = match_accounts(con, config.model, decisions.model, ctx.as_of, engine())
        written = persist(con, outcome, ctx.as_of, ctx.run_id, fingerprint)
    metrics = truth_metrics(outcome, get_paths().data_dir / "ground_truth" / "accounts.parquet")
    violations = outcome.violations
    for row in violations.itertuples():
        context.log.error(
            "Golden account %s %s (records %s...)",
            row.golden_account_id,
            row.reason,
            row.sample_records,
        )
    return MaterializeResult(
        metadata={"as_of_date": ctx.as_of.isoformat(), **_metadata(outcome, versions, metrics)},
        check_results=[
            AssetCheckResult(
                check_name=LIMITS_CHECK,
                passed=bool(written),
                severity=AssetCheckSeverity.ERROR,
                description=None if written else violations_sentence(violations),
                metadata={
                    "violations": MetadataValue.md(_markdown(violations)),
                    "max_records_per_golden_account": config.model.max_records_per_golden_account,
                    "largest_golden_account": int(outcome.current["cluster_size"].max() or 0),
                },
            )
        ],
    )


def _unchanged(
    context: AssetExecutionContext, as_of: date, state: dict, versions: dict[str, str]
) -> MaterializeResult:
    """The result of a run with nothing to match: the ids, pairs and review queue of the run
    that matched these inputs stand; its statistics are reported again."""
    stats, matched = state["stats"], state["as_of_date"]
    sentence = (
        f"inputs unchanged since the matching as of {matched:%Y-%m-%d} "
        f"(run {state['run_id'][:8]}): its golden ids stand"
    )
    context.log.info("Identity matching skipped: %s", sentence)
    return MaterializeResult(
        metadata={
            "as_of_date": as_of.isoformat(),
            "matching": MetadataValue.text(f"skipped: {sentence}"),
            "matched_as_of": matched.isoformat(),
            "records": MetadataValue.int(int(stats["records"])),
            "golden_accounts": MetadataValue.int(int(stats["golden_accounts"])),
            "review_pairs": MetadataValue.int(int(stats["review_pairs"])),
            "match_stats": MetadataValue.json(stats),
            **versions,
        },
        check_results=[
            AssetCheckResult(
                check_name=LIMITS_CHECK,
                passed=True,
                severity=AssetCheckSeverity.ERROR,
                description=sentence,
            )
        ],
    )


identity_assets = [account_matches]
