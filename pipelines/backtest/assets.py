"""Dagster asset of the backtest: the snapshot published one horizon ago, judged on what
happened since, beside the naive baselines; written per snapshot id to
``tiers.tier_backtest`` (published to the serving table ``tier_backtest``).

No ``from __future__ import annotations`` here: Dagster inspects the real ``context`` type.
"""

from datetime import date, timedelta

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
from pipelines.backtest.evaluate import BACKTEST_TYPES, backtest_rows, losses
from pipelines.backtest.outcomes import outcomes_since
from pipelines.history import SnapshotInfo, in_force, list_snapshots, read_snapshot
from pipelines.metadata import markdown_table
from pipelines.partitions import AS_OF_PARTITIONS
from pipelines.resources import Warehouse
from pipelines.run_context import RunContextResource
from pipelines.settings import get_paths

BACKTEST_KEY = AssetKey(["tiers", "tier_backtest"])
TABLE = "tiers.tier_backtest"
CHECK_NAME = "published_scores_beat_naive_baselines"
# The published columns the backtest reads (typed nulls where a snapshot predates one).
SNAPSHOT_COLUMNS = {
    "golden_account_id": "varchar",
    "tier": "varchar",
    "has_paid_order": "boolean",
    "net_revenue_365d": "double",
    "expected_value_12m": "double",
    "clv_12m": "double",
    "churn_risk": "double",
    "conversion_probability": "double",
}


def snapshot_for(snapshots: list[SnapshotInfo], reference: date, slack_days: int):
    """The in-force snapshot of the latest as-of date on or before ``reference`` and at most
    ``slack_days`` before it (a weekly backfill is close enough), or None."""
    close = [
        s for s in in_force(snapshots) if reference - timedelta(slack_days) <= s.as_of <= reference
    ]
    return close[-1] if close else None


def horizon_rows(con, ctx, info: SnapshotInfo, cfg) -> pd.DataFrame:
    """One horizon's rows for the snapshot ``info``, stamped with this run's keys."""
    paths = get_paths()
    published = read_snapshot(con, paths.serving_dir, info, SNAPSHOT_COLUMNS)
    facts = outcomes_since(con, info.as_of, ctx.as_of)
    codes = ctx.config.policy.model.codes
    rows = backtest_rows(published, facts, codes, cfg.calibration_bins, cfg.seed)
    rows.insert(0, "source", f"snapshot {info.snapshot_id}")
    rows.insert(0, "backtest_from", info.as_of)
    rows.insert(0, "horizon_days", (ctx.as_of - info.as_of).days)
    rows.insert(0, "as_of_date", ctx.as_of)
    rows.insert(0, "snapshot_id", ctx.snapshot_id)
    return rows[list(BACKTEST_TYPES)]


@asset(
    key=BACKTEST_KEY,
    deps=[AssetKey(["account_features"])],
    group_name="tiering",  # owned and catalogued with the tiers it judges
    kinds={"python", "duckdb"},
    partitions_def=AS_OF_PARTITIONS,
    description=(
        "For each horizon of config/scoring/models.yaml, the tiers and scores published one "
        "horizon ago judged on what happened since (revenue capture, tier lift, AUC, Brier, "
        "calibration), beside the naive baselines (trailing revenue, days since the last order, "
        "base rate, has an open lead). Written per snapshot to tiers.tier_backtest."
    ),
    check_specs=[
        AssetCheckSpec(
            CHECK_NAME,
            asset=BACKTEST_KEY,
            blocking=False,
            description="No published score (nor tier order) loses to its naive baseline.",
            partitions_def=AS_OF_PARTITIONS,
        )
    ],
)
def tier_backtest(context: AssetExecutionContext, warehouse: Warehouse, run: RunContextResource):
    ctx = run.ctx
    cfg = ctx.config.rules("models")
    snapshots = list_snapshots(get_paths().serving_dir / "snapshots")
    frames, missing = [], []
    with warehouse.connect() as con:
        for horizon in cfg.backtest_horizons_days:
            reference = ctx.as_of - timedelta(horizon)
            info = snapshot_for(snapshots, reference, cfg.backtest_slack_days)
            if info is None:
                missing.append(f"{horizon} days (no snapshot for {reference})")
                continue
            frames.append(horizon_rows(con, ctx, info, cfg))
        rows = (
            pd.concat(frames, ignore_index=True)
            if frames
            else pd.DataFrame(columns=list(BACKTEST_TYPES))
        )
        with wh.transaction(con):
            wh.replace_rows(con, TABLE, rows, "snapshot_id", [ctx.snapshot_id], BACKTEST_TYPES)
    for note in missing:
        context.log.warning(f"backtest skipped for {note}: run make backfill for that date")
    yield MaterializeResult(metadata=backtest_metadata(rows, missing))
    yield backtest_check(rows, missing, cfg.backtest_tolerance)


def headline_figures(rows: pd.DataFrame) -> dict[str, float]:
    """Numbers an analyst plots over as-of dates: per horizon, capture of the top 20% by tier
    order and by trailing revenue, tier A's revenue share, churn and conversion AUC/Brier."""
    out = {}
    pick = {
        "capture20_tier_order": ("tier_order", "capture", 0.2),
        "capture20_trailing_revenue": ("trailing_revenue", "capture", 0.2),
        "tier_A_revenue_share": ("A", "revenue_share", None),
        "tier_A_account_share": ("A", "account_share", None),
        "churn_auc": ("churn_risk", "auc", None),
        "churn_auc_recency": ("days_since_last_order", "auc", None),
        "conversion_auc": ("conversion_probability", "auc", None),
        "conversion_brier": ("conversion_probability", "brier", None),
        "conversion_brier_base_rate": ("base_rate", "brier", None),
    }
    for horizon, group in rows.groupby("horizon_days"):
        for name, (subject, metric, k) in pick.items():
            sel = (group["subject"] == subject) & (group["metric"] == metric)
            if k is not None:
                sel &= group["k"] == k
            if sel.any():
                out[f"{name}_{horizon}d"] = float(group.loc[sel, "value"].iloc[0])
    return out


def backtest_metadata(rows: pd.DataFrame, missing: list[str]) -> dict:
    meta: dict = {"rows": MetadataValue.int(len(rows))}
    meta.update({k: MetadataValue.float(v) for k, v in headline_figures(rows).items()})
    if missing:
        meta["skipped"] = MetadataValue.text("; ".join(missing))
    if len(rows):
        shown = rows[rows["metric"].isin(["capture", "auc", "brier", "revenue_share", "retention"])]
        shown = shown[(shown["metric"] != "capture") | (shown["k"] == 0.2)]
        table = shown[["horizon_days", "target", "subject", "is_baseline", "metric", "value"]]
        meta["backtest"] = MetadataValue.md(markdown_table(table.round(4)))
    return meta


def backtest_check(rows: pd.DataFrame, missing: list[str], tolerance: float) -> AssetCheckResult:
    """WARN: a published score (or tier order) lost to its naive baseline."""
    lost = []
    for horizon, group in rows.groupby("horizon_days"):
        lost += [f"{horizon}d: {text}" for text in losses(group, tolerance)]
    return AssetCheckResult(
        check_name=CHECK_NAME,
        passed=not lost,
        severity=AssetCheckSeverity.WARN,
        metadata={
            "losses": "; ".join(lost) or "none",
            "horizons_judged": int(rows["horizon_days"].nunique()) if len(rows) else 0,
            "horizons_skipped": "; ".join(missing) or "none",
        },
    )
