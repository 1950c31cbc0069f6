"""Effect of tiering: KPIs per tier and treatment group (treated vs control) for one snapshot.

The tier policy holds out a stable, per-tier control group (``in_control_group``, see
``holdout.py``) that receives no tier-specific treatment. Comparing it with the treated accounts
of the same tier measures what the treatment does.

Two kinds of measure, with different populations:

- **state measures** (accounts, revenue, CLV, P(alive), NPS) describe the accounts in each
  (tier, group) of *this* snapshot;
- **outcome measures** follow the *previous run's* cohort: the accounts that were in tier T and
  group g at the previous run (and still exist now), and what became of them by this run.
  ``retention_rate`` is the share of that cohort with at least one order in the 90 days up to
  this run's as-of date (``account_features.orders_90d > 0``) — an observed behaviour rather than a
  model estimate such as ``p_alive``. ``prospect_conversion_rate`` (prospect tier only) is the
  share of the previous run's prospects that now have a paid order (``has_paid_order``).
  Retention is not defined for the prospect tier, conversion only for it. Accounts of the
  previous cohort that no longer exist (deleted or merged in the CRM) leave the denominator:
  they did not churn, they were re-identified.

The previous cohort is read from the previous in-force published snapshot (the latest as-of
date before this one, :mod:`pipelines.history`): it holds each account's tier *and*
control-group flag as they were published. ``tiers.customer_tier.previous_tier`` carries the
tier but not the group the account was in (a mover's control flag is re-drawn for its new
tier), so it is not enough for an intent-to-treat comparison. Before the first snapshot there
is no previous cohort and the outcome measures are null.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd

from pipelines import warehouse as wh
from pipelines.contracts import source_columns
from pipelines.engine import read_model
from pipelines.history import SnapshotInfo, read_snapshot

TREATED = "treated"
CONTROL = "control"
GROUPS = (TREATED, CONTROL)
KEYS = ["tier", "treatment_group"]

KPI_TABLE = "tiers.tier_kpis"

# Per-account columns compute_tier_kpis reads from this run (tier table + feature layer).
CURRENT_COLUMNS = [
    "golden_account_id",
    "tier",
    "in_control_group",
    "net_revenue_365d",
    "clv_12m",
    "p_alive",
    "has_paid_order",
    "orders_90d",
    "nps_avg_365d",
]
# Per-account columns of the previous cohort, with their types in the snapshot.
PREVIOUS_COLUMNS = {
    "golden_account_id": "varchar",
    "tier": "varchar",
    "in_control_group": "boolean",
}

# tiers.tier_kpis, in order, with its types: the tiers source's contract.
KPI_COLUMNS: list[tuple[str, str]] = [
    (c.name, c.data_type) for c in source_columns("tiers", "tier_kpis")
]


def _group(flags: pd.Series) -> np.ndarray:
    control = flags.astype("boolean").fillna(False).to_numpy(bool)
    return np.where(control, CONTROL, TREATED)


def _diff(out: pd.DataFrame, column: str) -> pd.Series:
    """Treated minus control of ``column`` per tier, repeated on both rows of the tier."""
    wide = out.pivot(index="tier", columns="treatment_group", values=column)
    diff = wide[TREATED] - wide[CONTROL]
    return out["tier"].map(diff).astype("Float64")


def _state_measures(current: pd.DataFrame) -> pd.DataFrame:
    """Accounts, revenue, CLV, P(alive) and NPS of this run, per (tier, group)."""
    cur = pd.DataFrame(
        {
            "golden_account_id": current["golden_account_id"].to_numpy(object),
            "tier": current["tier"].astype(object).to_numpy(),
            "treatment_group": _group(current["in_control_group"]),
            "net_revenue_365d": pd.to_numeric(current["net_revenue_365d"], errors="coerce"),
            "clv_12m": pd.to_numeric(current["clv_12m"], errors="coerce"),
            "p_alive": pd.to_numeric(current["p_alive"], errors="coerce"),
            "nps": pd.to_numeric(current["nps_avg_365d"], errors="coerce"),
        }
    )
    return cur.groupby(KEYS, sort=False).agg(
        accounts=("golden_account_id", "size"),
        net_revenue_365d_sum=("net_revenue_365d", "sum"),
        net_revenue_365d_mean=("net_revenue_365d", "mean"),
        clv_12m_mean=("clv_12m", "mean"),
        p_alive_mean=("p_alive", "mean"),
        nps_mean=("nps", "mean"),
        nps_responders=("nps", "count"),
    )


def _cohort_outcomes(current: pd.DataFrame, previous: pd.DataFrame | None) -> pd.DataFrame:
    """The previous run's cohort per (tier, group): size, retained now, converted now."""
    if previous is None or previous.empty:
        cohort = pd.DataFrame(
            {"tier": [], "treatment_group": [], "retained": [], "converted": []}, dtype=object
        )
    else:
        orders_90d = pd.to_numeric(current["orders_90d"], errors="coerce").fillna(0).to_numpy()
        outcome = pd.DataFrame(
            {
                "golden_account_id": current["golden_account_id"].to_numpy(object),
                "retained": orders_90d > 0,
                "converted": current["has_paid_order"].astype("boolean").fillna(False).to_numpy(),
            }
        )
        prev = pd.DataFrame(
            {
                "golden_account_id": previous["golden_account_id"].to_numpy(object),
                "tier": previous["tier"].astype(object).to_numpy(),
                "treatment_group": _group(previous["in_control_group"]),
            }
        )
        # Inner join: accounts gone since the previous run (deleted, merged) leave the cohort.
        cohort = prev.merge(outcome, on="golden_account_id", how="inner")
    return cohort.groupby(KEYS, sort=False).agg(
        previous_accounts=("retained", "size"),
        retained_accounts=("retained", "sum"),
        converted_accounts=("converted", "sum"),
    )


def _rates(out: pd.DataFrame, prospect_tier: str) -> pd.DataFrame:
    """Counts as integers, rates where defined (retention for customers, conversion for
    prospects), and the treated - control differences."""
    for col in ("accounts", "nps_responders", "previous_accounts"):
        out[col] = out[col].fillna(0).astype("int64")
    out["net_revenue_365d_sum"] = out["net_revenue_365d_sum"].fillna(0.0)
    prospect = (out["tier"] == prospect_tier).to_numpy()
    has_cohort = (out["previous_accounts"] > 0).to_numpy()
    retained = pd.to_numeric(out["retained_accounts"]).fillna(0).astype("int64")
    converted = pd.to_numeric(out["converted_accounts"]).fillna(0).astype("int64")
    previous_n = out["previous_accounts"].where(has_cohort)
    out["retained_accounts"] = retained.astype("Int64").where(has_cohort & ~prospect)
    out["retention_rate"] = (retained / previous_n).astype("Float64").where(~prospect)
    out["converted_accounts"] = converted.astype("Int64").where(has_cohort & prospect)
    out["prospect_conversion_rate"] = (converted / previous_n).astype("Float64").where(prospect)
    out["nps_coverage"] = (
        out["nps_responders"] / out["accounts"].where(out["accounts"] > 0)
    ).astype("Float64")
    out["retention_diff_vs_control"] = _diff(out, "retention_rate")
    out["nps_diff_vs_control"] = _diff(out, "nps_mean")
    out["conversion_diff_vs_control"] = _diff(out, "prospect_conversion_rate")
    return out


def compute_tier_kpis(
    current: pd.DataFrame,
    previous: pd.DataFrame | None,
    tiers: Sequence[str],
    prospect_tier: str,
    *,
    snapshot_id: str,
    as_of: date,
    previous_snapshot_id: str | None = None,
    policy_version: str | None = None,
) -> pd.DataFrame:
    """KPIs per (tier, treatment group) of one snapshot, in ``KPI_COLUMNS`` order.

    ``current`` has one row per account of this run (``CURRENT_COLUMNS``); ``previous`` one
    row per account of the previous run (``PREVIOUS_COLUMNS``) or ``None``/empty on the first
    run. Every tier of ``tiers`` gets a treated and a control row (zero accounts and null means
    where a group is empty), so the shape is stable from run to run; a tier seen in the data
    but not in ``tiers`` (e.g. dropped from the policy) is appended after them. Means ignore
    missing values; ``nps_coverage`` is the share of accounts with an ``nps_avg_365d``.
    """
    state = _state_measures(current)
    outcomes = _cohort_outcomes(current, previous)
    seen = pd.concat([state.index.to_frame()["tier"], outcomes.index.to_frame()["tier"]])
    all_tiers = list(tiers) + sorted(set(seen.astype(str)) - set(tiers))
    grid = pd.MultiIndex.from_product([all_tiers, GROUPS], names=KEYS)
    out = pd.concat([state.reindex(grid), outcomes.reindex(grid)], axis=1).reset_index()
    out = _rates(out, prospect_tier)
    out["snapshot_id"] = snapshot_id
    out["as_of_date"] = pd.Timestamp(as_of)
    out["previous_snapshot_id"] = previous_snapshot_id
    out["policy_version"] = policy_version
    return out[[c for c, _ in KPI_COLUMNS]]


# --- warehouse I/O (no Dagster, no SQL: pipelines.warehouse) ------------------------------


def read_current(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """This run's per-account inputs: ``tiers.customer_tier`` with the accounts' orders in the
    last 90 days and NPS from the feature layer."""
    tiers = wh.read_table(con, "tiers.customer_tier", CURRENT_COLUMNS[:7])
    features = read_model(
        con, "features.account_features", ["golden_account_id", "orders_90d", "nps_avg_365d"]
    )
    return tiers.merge(features, on="golden_account_id", how="left")


def read_previous_cohort(
    con: duckdb.DuckDBPyConnection, serving_dir: Path, previous: SnapshotInfo | None
) -> pd.DataFrame:
    """The previous in-force snapshot's accounts, tiers and control flags (empty before the
    first snapshot)."""
    if previous is None:
        return pd.DataFrame({c: [] for c in PREVIOUS_COLUMNS}, dtype=object)
    return read_snapshot(con, serving_dir, previous, PREVIOUS_COLUMNS)


def write_tier_kpis(con: duckdb.DuckDBPyConnection, kpis: pd.DataFrame) -> None:
    """Replace this snapshot's rows of ``tiers.tier_kpis`` (history of other snapshots kept)."""
    snapshot_id = str(kpis["snapshot_id"].iloc[0])
    with wh.transaction(con):
        wh.replace_rows(con, KPI_TABLE, kpis, "snapshot_id", [snapshot_id], dict(KPI_COLUMNS))
