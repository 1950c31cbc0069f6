"""One tiering run as pure data: scores + policy + previous state -> every output table."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np
import pandas as pd

from pipelines.tiering.engine import TIER_COLUMNS, assign_tiers, make_evaluator, override_report
from pipelines.tiering.hysteresis import STATE_COLUMNS
from pipelines.tiering.ledger import downgrade_notices, ledger_events, migration_matrix
from pipelines.tiering.policy import TierPolicy


@dataclass(frozen=True)
class TieringOutputs:
    customer_tier: pd.DataFrame  # tier columns + snapshot_id + every score column
    ledger: pd.DataFrame  # this run's events vs the previous snapshot
    notices: pd.DataFrame
    migration: pd.DataFrame  # long: from_tier, to_tier, accounts
    overrides: pd.DataFrame  # every override with its status
    snapshot_id: str
    policy_version: str


def run_tiering(
    scores: pd.DataFrame,
    policy: TierPolicy,
    as_of: date,
    snapshot_id: str,
    previous_state: pd.DataFrame | None = None,
    previous_as_of: date | None = None,
) -> TieringOutputs:
    """Everything one run writes, computed without touching the warehouse.

    ``previous_state``: the :data:`STATE_COLUMNS` of the previous in-force snapshot (None on
    the first run: the rules' proposal is taken as is), as of ``previous_as_of``."""
    scores = scores.reset_index(drop=True)
    assigned = assign_tiers(scores, policy, as_of, previous_state, previous_as_of)
    ev = make_evaluator(scores, policy)
    score_cols = [c for c in scores.columns if c not in set(TIER_COLUMNS) | {"snapshot_id"}]
    customer_tier = pd.concat(
        [
            pd.DataFrame({"snapshot_id": np.full(len(assigned), snapshot_id, dtype=object)}),
            assigned,
            scores[score_cols],
        ],
        axis=1,
    )
    return TieringOutputs(
        customer_tier=customer_tier,
        ledger=ledger_events(assigned, scores, policy, snapshot_id, ev),
        notices=downgrade_notices(assigned, scores, policy, snapshot_id, ev),
        migration=migration_matrix(assigned),
        overrides=override_report(policy, as_of, scores["golden_account_id"]),
        snapshot_id=snapshot_id,
        policy_version=policy.policy_version,
    )


def tier_summary(outputs: TieringOutputs, policy: TierPolicy) -> pd.DataFrame:
    """Accounts, revenue share (net_revenue_365d) and control group size per tier."""
    frame = outputs.customer_tier
    revenue = (
        pd.to_numeric(frame["net_revenue_365d"], errors="coerce").fillna(0.0)
        if "net_revenue_365d" in frame.columns
        else pd.Series(0.0, index=frame.index)
    )
    total_rev = float(revenue.sum())
    rows = []
    for t in policy.tiers:
        mask = (frame["tier"] == t.code).to_numpy(bool)
        rows.append(
            {
                "tier": t.code,
                "name": f"{t.name_en} {t.name_zh}",
                "accounts": int(mask.sum()),
                "account_share": float(mask.mean()) if len(mask) else 0.0,
                "revenue_share_365d": float(revenue[mask].sum() / total_rev) if total_rev else 0.0,
                "control_group": int(frame["in_control_group"].to_numpy(bool)[mask].sum()),
            }
        )
    return pd.DataFrame(rows)


def change_counts(outputs: TieringOutputs) -> dict[str, int]:
    """Counts of this run's events by type, plus pending downgrades."""
    kinds = outputs.ledger["change_type"].value_counts()
    counts = {
        k: int(kinds.get(k, 0))
        for k in ("new", "promotion", "demotion", "override", "reclassified")
    }
    counts["pending_downgrades"] = int(outputs.customer_tier["pending_downgrade_to"].notna().sum())
    return counts


__all__ = ["STATE_COLUMNS", "TieringOutputs", "change_counts", "run_tiering", "tier_summary"]
