"""Dagster wrapper: scores.account_scores + tier policy -> the tiers schema.

No ``from __future__ import annotations`` here: Dagster inspects the context annotation.
"""

from datetime import date

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

from pipelines import warehouse as wh
from pipelines.catalog import table_metadata
from pipelines.metadata import markdown_table
from pipelines.partitions import AS_OF_PARTITIONS
from pipelines.resources import Warehouse
from pipelines.run_context import RunContextResource
from pipelines.settings import get_paths
from pipelines.tiering.hysteresis import hysteresis_status
from pipelines.tiering.kpis import (
    KPI_TABLE,
    compute_tier_kpis,
    read_current,
    read_previous_cohort,
    write_tier_kpis,
)
from pipelines.tiering.ledger import migration_pivot
from pipelines.tiering.metadata import movers_metadata, tier_share_metadata
from pipelines.tiering.outputs import (
    TieringOutputs,
    change_counts,
    run_tiering,
    tier_summary,
)
from pipelines.tiering.policy import TierPolicy
from pipelines.tiering.store import (
    CUSTOMER_TIER,
    check_tier_table,
    follow_identity_merges,
    follow_merges,
    previous_snapshot,
    read_scores,
    read_state,
    write_outputs,
)

SCORES_KEY = AssetKey(["scores", "account_scores"])
CUSTOMER_TIER_KEY = AssetKey(["tiers", "customer_tier"])
TIER_KPIS_KEY = AssetKey(["tiers", "tier_kpis"])
CHECK_NAME = "one_tier_per_account"


@asset(
    key=CUSTOMER_TIER_KEY,
    deps=[SCORES_KEY],
    group_name="tiering",
    kinds={"python", "duckdb"},
    partitions_def=AS_OF_PARTITIONS,
    description=(
        "Applies the run's tier policy (config/tiers/default.yaml unless the run names another) "
        "to scores.account_scores, with hysteresis against the previous published snapshot "
        "(the in-force one of the latest earlier date). Writes tiers.customer_tier and, per "
        "snapshot, tier_ledger, downgrade_notices and migration_matrix."
    ),
    check_specs=[
        AssetCheckSpec(
            CHECK_NAME,
            asset=CUSTOMER_TIER_KEY,
            blocking=True,
            description="Every scored account has exactly one tier from the policy.",
            partitions_def=AS_OF_PARTITIONS,
        )
    ],
)
def customer_tier(
    context: AssetExecutionContext, warehouse: Warehouse, run: RunContextResource
) -> MaterializeResult:
    ctx = run.ctx
    policy = ctx.config.policy.model
    serving_dir = get_paths().serving_dir
    previous = previous_snapshot(serving_dir, ctx.as_of)
    previous_as_of = date.fromisoformat(previous.as_of_date) if previous else None
    hysteresis = hysteresis_status(policy.hysteresis, ctx.as_of, previous_as_of)
    context.log.info(f"hysteresis: {hysteresis}")
    with warehouse.connect() as con:
        scores = read_scores(con)
        redirects = follow_identity_merges(con)  # ids retired by identity merges -> survivors
        out = run_tiering(
            scores,
            policy,
            ctx.as_of,
            ctx.snapshot_id,
            previous_state=follow_merges(read_state(con, serving_dir, previous), redirects),
            previous_as_of=previous_as_of,
        )
        write_outputs(con, out, ctx.as_of)
        written = wh.read_table(con, CUSTOMER_TIER, ["golden_account_id", "tier"])
    check = tier_check(written, policy.codes, len(scores))

    expired = out.overrides[out.overrides["status"] != "active"]
    for row in expired.itertuples():
        context.log.warning(
            "Override for %s (%s) not applied: %s", row.golden_account_id, row.tier, row.status
        )
    return MaterializeResult(
        metadata={
            "snapshot_id": ctx.snapshot_id,
            "as_of_date": ctx.as_of.isoformat(),
            "previous_snapshot_id": previous.snapshot_id if previous else "none",
            "hysteresis": hysteresis,
            "policy_version": ctx.policy_version,
            **tier_metadata(out, policy, expired),
            **table_metadata(warehouse, "tiers.customer_tier"),
        },
        check_results=[check],
    )


def tier_metadata(
    out: TieringOutputs, policy: TierPolicy, expired: pd.DataFrame
) -> dict[str, object]:
    """What the run did to the tiers: sizes, movers, migrations, gates, quotas, overrides."""
    summary = tier_summary(out, policy)
    tiers = out.customer_tier
    return {
        "accounts": MetadataValue.int(len(tiers)),
        "tier_summary": MetadataValue.md(markdown_table(summary)),
        **tier_share_metadata(summary),
        **movers_metadata(out, policy),
        "migration_matrix": MetadataValue.md(
            markdown_table(migration_pivot(out.migration, policy.codes), index=True)
        ),
        **{k: MetadataValue.int(v) for k, v in change_counts(out).items()},
        "risk_capped": MetadataValue.int(int(tiers["risk_gate_applied"].notna().sum())),
        "quota_demoted": MetadataValue.int(int(tiers["quota_applied"].notna().sum())),
        "overrides_applied": MetadataValue.int(int(tiers["override_applied"].sum())),
        "overrides_not_applied": MetadataValue.md(
            markdown_table(expired) if len(expired) else "none"
        ),
    }


def tier_check(written: pd.DataFrame, codes: list[str], scored: int) -> AssetCheckResult:
    """Every scored account has exactly one tier, and it is one of the policy's."""
    rows = len(written)
    distinct = int(written["golden_account_id"].nunique())
    bad = int((~written["tier"].isin(codes)).sum())
    return AssetCheckResult(
        check_name=CHECK_NAME,
        passed=rows == scored and distinct == rows and bad == 0,
        severity=AssetCheckSeverity.ERROR,
        metadata={
            "rows": rows,
            "distinct_accounts": distinct,
            "invalid_tier": bad,
            "scored": scored,
        },
    )


@asset(
    key=TIER_KPIS_KEY,
    deps=[CUSTOMER_TIER_KEY],
    group_name="tiering",
    kinds={"python", "duckdb"},
    partitions_def=AS_OF_PARTITIONS,
    description=(
        "Effect of tiering: per tier and treatment group (treated vs control) accounts, "
        "revenue, CLV, P(alive), NPS, and the previous run's cohort's retention (order in the "
        "last 90 days) and prospect conversion, with treated - control differences. Rows of "
        "this snapshot in tiers.tier_kpis are replaced, other snapshots kept. The previous "
        "cohort is the previous published snapshot's."
    ),
)
def tier_kpis(
    context: AssetExecutionContext, warehouse: Warehouse, run: RunContextResource
) -> MaterializeResult:
    ctx = run.ctx
    policy = ctx.config.policy.model
    serving_dir = get_paths().serving_dir
    previous = previous_snapshot(serving_dir, ctx.as_of)
    previous_id = previous.snapshot_id if previous else None
    with warehouse.connect() as con:
        check_tier_table(con, ctx.snapshot_id)
        kpis = compute_tier_kpis(
            read_current(con),
            read_previous_cohort(con, serving_dir, previous),
            policy.codes,
            policy.prospects.tier,
            snapshot_id=ctx.snapshot_id,
            as_of=ctx.as_of,
            previous_snapshot_id=previous_id,
            policy_version=ctx.policy_version,
        )
        write_tier_kpis(con, kpis)
        snapshots, _ = wh.distinct_values(con, KPI_TABLE, "snapshot_id")
    if previous_id is None:
        context.log.info("No previous cohort: retention and conversion are null for this run")
    shown = kpis[
        [
            "tier",
            "treatment_group",
            "accounts",
            "net_revenue_365d_mean",
            "clv_12m_mean",
            "p_alive_mean",
            "nps_mean",
            "nps_coverage",
            "previous_accounts",
            "retention_rate",
            "prospect_conversion_rate",
            "retention_diff_vs_control",
            "nps_diff_vs_control",
        ]
    ].astype(object)
    return MaterializeResult(
        metadata={
            "snapshot_id": ctx.snapshot_id,
            "previous_snapshot_id": previous_id or "none",
            "rows": MetadataValue.int(len(kpis)),
            "snapshots_in_history": MetadataValue.int(len(snapshots)),
            "tier_kpis": MetadataValue.md(markdown_table(shown)),
            **table_metadata(warehouse, "tiers.tier_kpis"),
        }
    )


tiering_assets = [customer_tier, tier_kpis]
