"""Apply a tier policy to account scores: every account gets exactly one tier, with reasons.

Order of decisions, each recorded in its own column:

1. rules (``proposed_tier``, ``proposed_rule``): prospects first, then tiers best→worst, the
   first rule that holds wins, otherwise the fallback tier;
2. hysteresis against the previous state (only when one is given);
3. risk gates: ``cap`` lowers the tier at once, ``flag`` marks it (``risk_flag``);
4. quotas: the excess of a capped tier, lowest ranked first, drops a tier;
5. overrides: named accounts get their agreed tier until the override expires;
6. control group draw on the final tier.

Each step is its own function: rules in ``rules.py``, hysteresis in ``hysteresis.py``, gates,
quotas and overrides in ``adjustments.py``; this module runs them in order.
"""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd

from pipelines.tiering.adjustments import (
    TierDecisions,
    apply_overrides,
    apply_quotas,
    apply_risk_gates,
    override_report,
)
from pipelines.tiering.evaluator import Evaluator
from pipelines.tiering.holdout import assign_control_group
from pipelines.tiering.hysteresis import apply_hysteresis, in_effect
from pipelines.tiering.policy import Hysteresis, TierPolicy
from pipelines.tiering.rules import (
    evaluate_rules,
    make_evaluator,
    required_columns,
    rule_reasons,
)

HOLD_RULE = "hysteresis_hold"

# The tier columns assign_tiers returns, in order.
TIER_COLUMNS = [
    "golden_account_id",
    "tier",
    "tier_name_en",
    "tier_name_zh",
    "service_strategy_en",
    "service_strategy_zh",
    "owner_team",
    "rule_fired",
    "reason_en",
    "reason_zh",
    "risk_flag",
    "in_control_group",
    "tier_since",
    "pending_downgrade_to",
    "pending_since",
    "previous_tier",
    "proposed_tier",
    "proposed_rule",
    "proposed_tier_strict",
    "proposed_tier_loose",
    "hysteresis_action",
    "risk_gate_applied",
    "quota_applied",
    "override_applied",
    "override_reason",
    "policy_version",
    "as_of_date",
]


def _hold_notes(
    action: np.ndarray, held: np.ndarray, cur: np.ndarray, hyst: pd.DataFrame, policy: TierPolicy
) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """English and Chinese notes per hysteresis action, for the ``held`` rows only (building
    them for every account costs seconds at 1M)."""
    pend = hyst["pending_downgrade_to"].to_numpy(object)[held]
    pend = np.where(pd.isna(pend), "", pend).astype(object)
    pend_since = (
        pd.to_datetime(hyst["pending_since"].iloc[held]).dt.strftime("%Y-%m-%d").fillna("")
    ).to_numpy(object)
    grace = policy.hysteresis.downgrade_grace_days
    dwell = policy.hysteresis.min_dwell_days
    return {
        "promotion_held_margin": (
            "; kept in " + cur + ": not yet clear of the promotion margin",
            "；保持" + cur + "：尚未超过升级缓冲区间",
        ),
        "promotion_held_dwell": (
            "; kept in " + cur + f": promotion needs {dwell} days in the current tier",
            "；保持" + cur + f"：升级需在当前层级停留满{dwell}天",
        ),
        "demotion_held_margin": (
            "; kept in " + cur + ": still within the downgrade margin",
            "；保持" + cur + "：仍在降级缓冲区间内",
        ),
        "downgrade_pending": (
            "; kept in " + cur + ": downgrade to " + pend + " pending since " + pend_since
            + f" (grace {grace} days)",
            "；保持" + cur + "：自" + pend_since + "起待降级至" + pend + f"（宽限{grace}天）",
        ),
    }  # fmt: skip


def apply_hold(
    d: TierDecisions, base: np.ndarray, hyst: pd.DataFrame, policy: TierPolicy, codes: np.ndarray
) -> None:
    """Take hysteresis' tier; rows it kept away from the rules' proposal say why."""
    rank_of = {c: i for i, c in enumerate(policy.codes)}
    d.tier = hyst["tier"].map(rank_of).to_numpy(np.int64).copy()
    d.rule_fired = np.where(d.tier == base, d.rule_fired, HOLD_RULE).astype(object)
    held = np.flatnonzero(d.tier != base)
    if not len(held):
        return
    action = hyst["hysteresis_action"].to_numpy(object)[held]
    for key, (note_en, note_zh) in _hold_notes(
        action, held, codes[d.tier[held]], hyst, policy
    ).items():
        sel = action == key
        d.note(held[sel], note_en[sel], note_zh[sel])


def proposals(ev: Evaluator, policy: TierPolicy) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """The rules' proposal at the policy's thresholds and shifted both ways (hysteresis), as
    codes per account, plus the base ranks and rules."""
    codes = np.asarray(policy.codes, dtype=object)
    base, base_rule = evaluate_rules(ev, policy, 0)
    strict, _ = evaluate_rules(ev, policy, +1)
    loose, _ = evaluate_rules(ev, policy, -1)
    # object dtype on purpose: converting 1M codes to arrow strings and back is pure cost
    frame = pd.DataFrame(
        {
            "golden_account_id": pd.Series(
                ev.frame["golden_account_id"].astype(str).to_numpy(object), dtype=object
            ),
            "proposed_tier": pd.Series(codes[base], dtype=object),
            "proposed_tier_strict": pd.Series(codes[strict], dtype=object),
            "proposed_tier_loose": pd.Series(codes[loose], dtype=object),
        }
    )
    return frame, base, base_rule


def _control_group(ids: np.ndarray, final: np.ndarray, policy: TierPolicy) -> np.ndarray:
    if policy.holdout is None:
        return np.zeros(len(ids), dtype=bool)
    return assign_control_group(
        pd.Series(ids), pd.Series(final), policy.holdout.share, policy.holdout.salt
    )


def _state_columns(d: TierDecisions, hyst: pd.DataFrame, final: np.ndarray, today) -> dict:
    """tier_since and the pending downgrade the next run needs."""
    previous_tier = hyst["previous_tier"].to_numpy(object)
    stayed = previous_tier == final
    action = hyst["hysteresis_action"].to_numpy(object)
    # A pending downgrade only survives while the account really sits in its old tier.
    keep_pending = (action == "downgrade_pending") & stayed & ~d.override_applied
    return {
        "tier_since": np.where(
            stayed, hyst["previous_tier_since"].to_numpy("datetime64[ns]"), today.to_datetime64()
        ),
        "pending_downgrade_to": np.where(
            keep_pending, hyst["pending_downgrade_to"].to_numpy(object), None
        ),
        "pending_since": np.where(
            keep_pending,
            hyst["pending_since"].to_numpy("datetime64[ns]"),
            np.datetime64("NaT", "ns"),
        ),
        "previous_tier": previous_tier,
        "hysteresis_action": action,
    }


def _assemble(
    d: TierDecisions,
    ids: np.ndarray,
    props: pd.DataFrame,
    base_rule: np.ndarray,
    hyst: pd.DataFrame,
    policy: TierPolicy,
    today: pd.Timestamp,
) -> pd.DataFrame:
    codes = np.asarray(policy.codes, dtype=object)
    final = codes[d.tier]
    pick = {
        "tier_name_en": [t.name_en for t in policy.tiers],
        "tier_name_zh": [t.name_zh for t in policy.tiers],
        "service_strategy_en": [t.service_strategy.en for t in policy.tiers],
        "service_strategy_zh": [t.service_strategy.zh for t in policy.tiers],
        "owner_team": [t.owner_team for t in policy.tiers],
    }
    columns: dict[str, object] = {"golden_account_id": ids, "tier": final}
    columns.update({k: np.asarray(v, dtype=object)[d.tier] for k, v in pick.items()})
    columns.update(
        rule_fired=d.rule_fired,
        reason_en=d.reason_en,
        reason_zh=d.reason_zh,
        risk_flag=d.risk_flag,
        in_control_group=_control_group(ids, final, policy),
        **_state_columns(d, hyst, final, today),
        proposed_tier=props["proposed_tier"].to_numpy(object),
        proposed_rule=base_rule,
        proposed_tier_strict=props["proposed_tier_strict"].to_numpy(object),
        proposed_tier_loose=props["proposed_tier_loose"].to_numpy(object),
        risk_gate_applied=d.risk_gate_applied,
        quota_applied=d.quota_applied,
        override_applied=d.override_applied,
        override_reason=d.override_reason,
        policy_version=policy.policy_version,
        as_of_date=today,
    )
    return pd.DataFrame(columns)[TIER_COLUMNS]


def assign_tiers(
    scores: pd.DataFrame,
    policy: TierPolicy,
    as_of: date,
    previous_state: pd.DataFrame | None = None,
    previous_as_of: date | None = None,
) -> pd.DataFrame:
    """One tier per account (row of ``scores``), with the proposal and every adjustment.

    ``scores`` needs ``golden_account_id`` and the score columns the policy references.
    Without ``previous_state`` the rule proposal is taken as is (first run, what-if); with it,
    hysteresis decides promotions and demotions (see :mod:`pipelines.tiering.hysteresis`),
    unless the state (as of ``previous_as_of``) is older than the policy's
    ``hysteresis.stale_after_days``: then the rules decide at once, and the state only carries
    ``tier_since`` on. Returns :data:`TIER_COLUMNS`, aligned row for row with ``scores``.
    """
    missing = sorted(required_columns(policy) - set(scores.columns))
    if missing:
        raise ValueError(f"scores lack columns the tier policy uses: {', '.join(missing)}")
    if scores["golden_account_id"].duplicated().any():
        raise ValueError("scores hold more than one row for some golden_account_id")
    holds = in_effect(policy.hysteresis, as_of, previous_as_of)
    if not holds:
        policy = policy.model_copy(update={"hysteresis": Hysteresis()})
    ev = make_evaluator(scores, policy)
    ids = ev.frame["golden_account_id"].astype(str).to_numpy(dtype=object)
    props, base, base_rule = proposals(ev, policy)
    reason_en, reason_zh = rule_reasons(ev, policy, base_rule)
    decisions = TierDecisions(base.copy(), base_rule.copy(), reason_en, reason_zh)
    hyst = apply_hysteresis(
        props, previous_state, policy.codes, policy.hysteresis, as_of,
        exempt_tiers=[policy.prospects.tier],
    )  # fmt: skip
    apply_hold(decisions, base, hyst, policy, np.asarray(policy.codes, dtype=object))
    apply_risk_gates(decisions, ev, policy)
    # Last run's members keep their quota seats first, while its state still holds.
    seats = hyst["previous_tier"].to_numpy(object) if holds else None
    apply_quotas(decisions, ev, policy, ids, seats)
    apply_overrides(decisions, policy, as_of, ids)
    out = _assemble(decisions, ids, props, base_rule, hyst, policy, pd.Timestamp(as_of))
    out.index = scores.index
    return out


__all__ = [
    "HOLD_RULE",
    "TIER_COLUMNS",
    "assign_tiers",
    "make_evaluator",
    "override_report",
    "required_columns",
]
