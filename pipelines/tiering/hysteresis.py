"""Hysteresis: keep tiers stable when scores hover around a threshold.

Inputs per account: yesterday's state (tier, tier_since, pending_downgrade_to, pending_since)
and today's three rule proposals — at the policy's thresholds, at the stricter thresholds
(moved up by the margin) and at the looser ones (moved down by the margin).

- A promotion happens only when the *strict* proposal is above the current tier and the
  account has spent ``min_dwell_days`` in its current tier.
- A demotion is considered only when the *loose* proposal is below the current tier. It is
  first recorded as pending; it takes effect once it has been pending for
  ``downgrade_grace_days`` and is cancelled if the account recovers in the meantime.
- Accounts entering or leaving an exempt tier (the prospect tier: a first paid order is a
  fact, not a score) move at once.

With unchanged scores every proposal equals the current tier, so nothing moves.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import date

import numpy as np
import pandas as pd

from pipelines.tiering.policy import Hysteresis

# The state the next run needs, with its types as published in every snapshot (read back from
# the previous in-force snapshot, pipelines.history, so an unpublished run leaves no state).
STATE_COLUMNS = {
    "golden_account_id": "varchar",
    "tier": "varchar",
    "tier_since": "date",
    "pending_downgrade_to": "varchar",
    "pending_since": "date",
}

# hysteresis_action values
NEW = "new"
RECLASSIFIED = "reclassified"  # previous tier unknown to this policy (policy changed codes)
UNCHANGED = "unchanged"
PROMOTED = "promoted"
DEMOTED = "demoted"
HELD_MARGIN = "promotion_held_margin"
HELD_DWELL = "promotion_held_dwell"
DEMOTION_HELD_MARGIN = "demotion_held_margin"
PENDING = "downgrade_pending"
CANCELLED = "downgrade_cancelled"


def empty_state() -> pd.DataFrame:
    """A previous state with no accounts (first run)."""
    return pd.DataFrame(
        {
            "golden_account_id": pd.Series(dtype=object),
            "tier": pd.Series(dtype=object),
            "tier_since": pd.Series(dtype="datetime64[ns]"),
            "pending_downgrade_to": pd.Series(dtype=object),
            "pending_since": pd.Series(dtype="datetime64[ns]"),
        }
    )


def apply_hysteresis(
    proposals: pd.DataFrame,
    previous_state: pd.DataFrame | None,
    tier_order: Sequence[str],
    config: Hysteresis,
    as_of: date,
    exempt_tiers: Collection[str] = (),
) -> pd.DataFrame:
    """Today's stabilised tier per account.

    ``proposals`` has ``golden_account_id``, ``proposed_tier``, ``proposed_tier_strict`` and
    ``proposed_tier_loose`` (codes from ``tier_order``, best first). Returns a frame aligned
    with ``proposals`` holding ``tier``, ``previous_tier``, ``previous_tier_since``,
    ``pending_downgrade_to``, ``pending_since`` and ``hysteresis_action``.
    """
    today = pd.Timestamp(as_of)
    rank = {code: i for i, code in enumerate(tier_order)}
    state = previous_state if previous_state is not None else empty_state()
    prev = (
        state.drop_duplicates("golden_account_id", keep="last")
        .set_index("golden_account_id")
        .reindex(proposals["golden_account_id"])
    )

    base = proposals["proposed_tier"].map(rank).to_numpy(dtype=np.int64)
    strict = proposals["proposed_tier_strict"].map(rank).to_numpy(dtype=np.int64)
    loose = proposals["proposed_tier_loose"].map(rank).to_numpy(dtype=np.int64)
    prev_tier = prev["tier"].to_numpy(dtype=object)
    prev_r = prev["tier"].map(rank).to_numpy(dtype=float)  # NaN: new or unknown tier
    has_prev = prev["tier"].notna().to_numpy(bool)
    known = ~np.isnan(prev_r)
    prev_i = np.where(known, np.nan_to_num(prev_r, nan=0), 0).astype(np.int64)

    since = pd.to_datetime(prev["tier_since"])
    days_in_tier = (today - since).dt.days.to_numpy(dtype=float, na_value=np.inf)
    dwell_ok = days_in_tier >= config.min_dwell_days
    pend_to = prev["pending_downgrade_to"].map(rank).to_numpy(dtype=float)
    had_pending = known & ~np.isnan(pend_to)
    pend_since = pd.to_datetime(prev["pending_since"])
    days_pending = (today - pend_since).dt.days.to_numpy(dtype=float, na_value=0.0)

    exempt_codes = list(exempt_tiers)
    exempt = proposals["proposed_tier"].isin(exempt_codes).to_numpy(bool) | pd.Series(
        prev_tier
    ).isin(exempt_codes).to_numpy(bool)

    out_r = base.copy()
    action = np.full(len(proposals), UNCHANGED, dtype=object)
    new_pending = np.full(len(proposals), np.nan)
    new_pending_since = pd.Series(pd.NaT, index=range(len(proposals)), dtype="datetime64[ns]")

    scored = known & ~exempt
    better = scored & (base < prev_i)
    worse = scored & (base > prev_i)
    same = scored & (base == prev_i)

    # Same tier as proposed: stay; a pending downgrade is cancelled by the recovery.
    out_r[same] = prev_i[same]
    action[same & had_pending] = CANCELLED

    # Promotion: the stricter reading must still be above the current tier, after the dwell.
    promote = better & (strict < prev_i) & dwell_ok
    out_r[better] = prev_i[better]
    out_r[promote] = strict[promote]
    action[promote] = PROMOTED
    action[better & (strict < prev_i) & ~dwell_ok] = HELD_DWELL
    action[better & (strict >= prev_i)] = HELD_MARGIN

    # Demotion: the looser reading must also be below the current tier; then grace.
    demote_wanted = worse & (loose > prev_i)
    out_r[worse] = prev_i[worse]
    held_margin = worse & ~demote_wanted
    action[held_margin] = np.where(had_pending[held_margin], CANCELLED, DEMOTION_HELD_MARGIN)
    grace = config.downgrade_grace_days
    elapsed = np.where(had_pending, days_pending, 0.0)
    due = demote_wanted & (elapsed >= grace)
    out_r[due] = loose[due]
    action[due] = DEMOTED
    waiting = demote_wanted & ~due
    new_pending[waiting] = loose[waiting]
    action[waiting] = PENDING
    starts = waiting & ~had_pending
    keeps = waiting & had_pending
    new_pending_since[starts] = today
    new_pending_since[keeps] = pend_since.to_numpy()[keeps]

    # Prospect moves and unknown previous tiers: the proposal applies at once.
    moved = exempt & known
    action[moved & (base < prev_i)] = PROMOTED
    action[moved & (base > prev_i)] = DEMOTED
    action[~has_prev] = NEW
    action[has_prev & ~known] = RECLASSIFIED

    codes = np.asarray(tier_order, dtype=object)
    pending_codes = np.full(len(proposals), None, dtype=object)
    has_new_pending = ~np.isnan(new_pending)
    pending_codes[has_new_pending] = codes[new_pending[has_new_pending].astype(np.int64)]
    return pd.DataFrame(
        {
            "golden_account_id": proposals["golden_account_id"].to_numpy(),
            "tier": codes[out_r],
            "previous_tier": prev_tier,
            "previous_tier_since": since.to_numpy(),
            "pending_downgrade_to": pending_codes,
            "pending_since": new_pending_since.to_numpy(),
            "hysteresis_action": action,
        },
        index=proposals.index,
    )
