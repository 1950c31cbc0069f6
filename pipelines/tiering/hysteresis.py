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
from dataclasses import dataclass
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


def in_effect(config: Hysteresis, as_of: date, previous_as_of: date | None) -> bool:
    """Whether the previous state is recent enough to hold tiers (``stale_after_days``)."""
    if previous_as_of is None or config.stale_after_days is None:
        return True
    return (as_of - previous_as_of).days < config.stale_after_days


def hysteresis_status(config: Hysteresis, as_of: date, previous_as_of: date | None) -> str:
    """One line for the run's log and metadata: whether the previous state holds tiers."""
    if previous_as_of is None:
        return "first run: no previous state"
    age = (as_of - previous_as_of).days
    if in_effect(config, as_of, previous_as_of):
        return f"applied (previous state as of {previous_as_of}, {age} days earlier)"
    return (
        f"not applied: the previous state is as of {previous_as_of}, {age} days earlier "
        f"(stale after {config.stale_after_days} days); tiers follow the rules at once"
    )


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


@dataclass
class _Previous:
    """Yesterday's state of each account, aligned with today's proposals, as arrays."""

    tier: np.ndarray  # codes (object), None for new accounts
    rank: np.ndarray  # int ranks, 0 where unknown
    known: np.ndarray  # previous tier is one of today's policy's
    has_prev: np.ndarray
    since: pd.Series
    dwell_ok: np.ndarray
    had_pending: np.ndarray
    days_pending: np.ndarray
    pending_since: pd.Series


def _previous(
    proposals: pd.DataFrame,
    previous_state: pd.DataFrame | None,
    rank: dict[str, int],
    today: pd.Timestamp,
    config: Hysteresis,
) -> _Previous:
    state = previous_state if previous_state is not None else empty_state()
    prev = (
        state.drop_duplicates("golden_account_id", keep="last")
        .set_index("golden_account_id")
        .reindex(proposals["golden_account_id"])
    )
    prev_r = prev["tier"].map(rank).to_numpy(dtype=float)  # NaN: new or unknown tier
    known = ~np.isnan(prev_r)
    since = pd.to_datetime(prev["tier_since"])
    days_in_tier = (today - since).dt.days.to_numpy(dtype=float, na_value=np.inf)
    pend_to = prev["pending_downgrade_to"].map(rank).to_numpy(dtype=float)
    pend_since = pd.to_datetime(prev["pending_since"])
    return _Previous(
        tier=prev["tier"].to_numpy(dtype=object),
        rank=np.where(known, np.nan_to_num(prev_r, nan=0), 0).astype(np.int64),
        known=known,
        has_prev=prev["tier"].notna().to_numpy(bool),
        since=since,
        dwell_ok=days_in_tier >= config.min_dwell_days,
        had_pending=known & ~np.isnan(pend_to),
        days_pending=(today - pend_since).dt.days.to_numpy(dtype=float, na_value=0.0),
        pending_since=pend_since,
    )


@dataclass
class _Outcome:
    rank: np.ndarray
    action: np.ndarray
    pending: np.ndarray  # rank of a pending downgrade, NaN when none
    pending_since: pd.Series


def _promotions(o: _Outcome, p: _Previous, better: np.ndarray, strict: np.ndarray) -> None:
    """Promotion: the stricter reading must still be above the current tier, after the dwell."""
    promote = better & (strict < p.rank) & p.dwell_ok
    o.rank[better] = p.rank[better]
    o.rank[promote] = strict[promote]
    o.action[promote] = PROMOTED
    o.action[better & (strict < p.rank) & ~p.dwell_ok] = HELD_DWELL
    o.action[better & (strict >= p.rank)] = HELD_MARGIN


def _demotions(
    o: _Outcome, p: _Previous, worse: np.ndarray, loose: np.ndarray, grace: int, today
) -> None:
    """Demotion: the looser reading must also be below the current tier; then grace."""
    demote_wanted = worse & (loose > p.rank)
    o.rank[worse] = p.rank[worse]
    held_margin = worse & ~demote_wanted
    o.action[held_margin] = np.where(p.had_pending[held_margin], CANCELLED, DEMOTION_HELD_MARGIN)
    elapsed = np.where(p.had_pending, p.days_pending, 0.0)
    due = demote_wanted & (elapsed >= grace)
    o.rank[due] = loose[due]
    o.action[due] = DEMOTED
    waiting = demote_wanted & ~due
    o.pending[waiting] = loose[waiting]
    o.action[waiting] = PENDING
    o.pending_since[waiting & ~p.had_pending] = today
    keeps = waiting & p.had_pending
    o.pending_since[keeps] = p.pending_since.to_numpy()[keeps]


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
    p = _previous(proposals, previous_state, rank, today, config)
    base, strict, loose = (
        proposals[c].map(rank).to_numpy(dtype=np.int64)
        for c in ("proposed_tier", "proposed_tier_strict", "proposed_tier_loose")
    )
    exempt_codes = list(exempt_tiers)
    exempt = proposals["proposed_tier"].isin(exempt_codes).to_numpy(bool) | pd.Series(p.tier).isin(
        exempt_codes
    ).to_numpy(bool)
    n = len(proposals)
    o = _Outcome(
        base.copy(),
        np.full(n, UNCHANGED, dtype=object),
        np.full(n, np.nan),
        pd.Series(pd.NaT, index=range(n), dtype="datetime64[ns]"),
    )
    scored = p.known & ~exempt
    # Same tier as proposed: stay; a pending downgrade is cancelled by the recovery.
    same = scored & (base == p.rank)
    o.rank[same] = p.rank[same]
    o.action[same & p.had_pending] = CANCELLED
    _promotions(o, p, scored & (base < p.rank), strict)
    _demotions(o, p, scored & (base > p.rank), loose, config.downgrade_grace_days, today)
    # Prospect moves and unknown previous tiers: the proposal applies at once.
    moved = exempt & p.known
    o.action[moved & (base < p.rank)] = PROMOTED
    o.action[moved & (base > p.rank)] = DEMOTED
    o.action[~p.has_prev] = NEW
    o.action[p.has_prev & ~p.known] = RECLASSIFIED
    return _frame(proposals, tier_order, p, o)


def _frame(
    proposals: pd.DataFrame, tier_order: Sequence[str], p: _Previous, o: _Outcome
) -> pd.DataFrame:
    codes = np.asarray(tier_order, dtype=object)
    pending_codes = np.full(len(proposals), None, dtype=object)
    has_pending = ~np.isnan(o.pending)
    pending_codes[has_pending] = codes[o.pending[has_pending].astype(np.int64)]
    return pd.DataFrame(
        {
            "golden_account_id": proposals["golden_account_id"].to_numpy(),
            "tier": codes[o.rank],
            "previous_tier": p.tier,
            "previous_tier_since": p.since.to_numpy(),
            "pending_downgrade_to": pending_codes,
            "pending_since": o.pending_since.to_numpy(),
            "hysteresis_action": o.action,
        },
        index=proposals.index,
    )
