"""Apply a tier policy to account scores: every account gets exactly one tier, with reasons.

Order of decisions, each recorded in its own column:

1. rules (``proposed_tier``, ``proposed_rule``): prospects first, then tiers best→worst, the
   first rule that holds wins, otherwise the fallback tier;
2. hysteresis against the previous state (only when one is given);
3. risk gates: ``cap`` lowers the tier at once, ``flag`` marks it (``risk_flag``);
4. quotas: the excess of a capped tier, lowest ranked first, drops a tier;
5. overrides: named accounts get their agreed tier until the override expires;
6. control group draw on the final tier.
"""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd

from pipelines.tiering.conditions import Evaluator, join_texts, leaf_text, satisfied_leaves
from pipelines.tiering.holdout import assign_control_group
from pipelines.tiering.hysteresis import apply_hysteresis
from pipelines.tiering.policy import TierPolicy

PROSPECT_RULE = "prospect"
FALLBACK_RULE = "fallback"
HOLD_RULE = "hysteresis_hold"
OVERRIDE_RULE = "override"

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


def required_columns(policy: TierPolicy) -> set[str]:
    """Score columns the policy reads (rules, risk gates, quota rankings) plus the basics."""
    cols = {"golden_account_id", "has_paid_order"}
    for t in policy.tiers:
        cols.update(leaf.score for r in t.rules for leaf in r.when.leaves())
        if t.quota is not None:
            cols.add(t.quota.rank_by)
    for gate in policy.risk_gates:
        cols.update(leaf.score for leaf in gate.when.leaves())
    return cols


def make_evaluator(scores: pd.DataFrame, policy: TierPolicy) -> Evaluator:
    """An evaluator over ``scores`` (re-indexed 0..n-1) with the policy's margins."""
    return Evaluator(
        scores.reset_index(drop=True),
        margins=policy.hysteresis.margins,
        rank_margin=policy.hysteresis.rank_margin,
    )


def evaluate_rules(
    ev: Evaluator, policy: TierPolicy, mode: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Tier rank (0 = best) and rule id per row; ``mode`` +1/-1 shifts thresholds by the margin."""
    tier = np.full(ev.n, -1, dtype=np.int64)
    rule = np.full(ev.n, FALLBACK_RULE, dtype=object)
    prospect = ~ev.paying
    tier[prospect] = policy.rank(policy.prospects.tier)
    rule[prospect] = PROSPECT_RULE
    for t_rank, t in enumerate(policy.tiers):
        for r in t.rules:
            hit = (tier == -1) & ev.mask(r.when, mode)
            tier[hit] = t_rank
            rule[hit] = r.id
    tier[tier == -1] = policy.rank(policy.fallback_tier)
    return tier, rule


def rule_reasons(
    ev: Evaluator, policy: TierPolicy, rules: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Plain-word reasons (en, zh) from the conditions of the fired rule that granted it."""
    en = np.full(ev.n, "", dtype=object)
    zh = np.full(ev.n, "", dtype=object)
    en[rules == PROSPECT_RULE] = "No paid order yet"
    zh[rules == PROSPECT_RULE] = "尚无付费订单"
    fb = policy.fallback_tier
    en[rules == FALLBACK_RULE] = f"Paying account; no rule of a tier above {fb} holds"
    zh[rules == FALLBACK_RULE] = f"付费客户，未满足高于{fb}层级的规则"
    for t in policy.tiers:
        for r in t.rules:
            fired = rules == r.id
            if not fired.any():
                continue
            parts_en, parts_zh = [], []
            for leaf, held in satisfied_leaves(r.when, ev):
                pos = np.flatnonzero(fired & held)
                piece_en = np.full(ev.n, "", dtype=object)
                piece_zh = np.full(ev.n, "", dtype=object)
                piece_en[pos] = leaf_text(leaf, pos, ev, "en")
                piece_zh[pos] = leaf_text(leaf, pos, ev, "zh")
                parts_en.append(piece_en[fired])
                parts_zh.append(piece_zh[fired])
            en[fired] = join_texts(parts_en, " and ")
            zh[fired] = join_texts(parts_zh, "且")
    return en, zh


def _scatter(n: int, rows: np.ndarray, values: np.ndarray | str) -> np.ndarray:
    out = np.full(n, "", dtype=object)
    out[rows] = values
    return out


def assign_tiers(
    scores: pd.DataFrame,
    policy: TierPolicy,
    as_of: date,
    previous_state: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """One tier per account (row of ``scores``), with the proposal and every adjustment.

    ``scores`` needs ``golden_account_id`` and the score columns the policy references.
    Without ``previous_state`` the rule proposal is taken as is (first run, what-if); with it,
    hysteresis decides promotions and demotions (see :mod:`pipelines.tiering.hysteresis`).
    Returns :data:`TIER_COLUMNS`, aligned row for row with ``scores``.
    """
    missing = sorted(required_columns(policy) - set(scores.columns))
    if missing:
        raise ValueError(f"scores lack columns the tier policy uses: {', '.join(missing)}")
    if scores["golden_account_id"].duplicated().any():
        raise ValueError("scores hold more than one row for some golden_account_id")
    today = pd.Timestamp(as_of)
    ev = make_evaluator(scores, policy)
    n = ev.n
    codes = np.asarray(policy.codes, dtype=object)
    ids = ev.frame["golden_account_id"].astype(str).to_numpy(dtype=object)

    # 1. rules, at the policy's thresholds and shifted both ways for hysteresis
    base, base_rule = evaluate_rules(ev, policy, 0)
    strict, _ = evaluate_rules(ev, policy, +1)
    loose, _ = evaluate_rules(ev, policy, -1)
    reason_en, reason_zh = rule_reasons(ev, policy, base_rule)
    # object dtype on purpose: converting 1M codes to arrow strings and back is pure cost
    proposals = pd.DataFrame(
        {
            "golden_account_id": pd.Series(ids, dtype=object),
            "proposed_tier": pd.Series(codes[base], dtype=object),
            "proposed_tier_strict": pd.Series(codes[strict], dtype=object),
            "proposed_tier_loose": pd.Series(codes[loose], dtype=object),
        }
    )

    # 2. hysteresis
    hyst = apply_hysteresis(
        proposals,
        previous_state,
        policy.codes,
        policy.hysteresis,
        as_of,
        exempt_tiers=[policy.prospects.tier],
    )
    rank_of = {c: i for i, c in enumerate(policy.codes)}
    tier = hyst["tier"].map(rank_of).to_numpy(np.int64).copy()
    rule_fired = np.where(tier == base, base_rule, HOLD_RULE).astype(object)
    action = hyst["hysteresis_action"].to_numpy(object)
    held = np.flatnonzero(tier != base)
    if len(held):
        # Notes only for the held rows: building them for every account costs seconds at 1M.
        cur = codes[tier[held]]
        pend = hyst["pending_downgrade_to"].to_numpy(object)[held]
        pend = np.where(pd.isna(pend), "", pend).astype(object)
        pend_since = (
            pd.to_datetime(hyst["pending_since"].iloc[held])
            .dt.strftime("%Y-%m-%d")
            .fillna("")
            .to_numpy(object)
        )
        grace = policy.hysteresis.downgrade_grace_days
        dwell = policy.hysteresis.min_dwell_days
        notes = {
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
                "; kept in "
                + cur
                + ": downgrade to "
                + pend
                + " pending since "
                + pend_since
                + f" (grace {grace} days)",
                "；保持" + cur + "：自" + pend_since + "起待降级至" + pend + f"（宽限{grace}天）",
            ),
        }
        held_action = action[held]
        for key, (note_en, note_zh) in notes.items():
            sel = held_action == key
            rows = held[sel]
            reason_en[rows] = reason_en[rows] + note_en[sel]
            reason_zh[rows] = reason_zh[rows] + note_zh[sel]

    # 3. risk gates: cap lowers the tier now (no grace: risk is urgent); flag marks for review
    risk_flag = np.full(n, None, dtype=object)
    risk_gate_applied = np.full(n, None, dtype=object)
    for gate in policy.risk_gates:
        hit = ev.mask(gate.when)
        if gate.mode == "cap":
            cap = policy.rank(gate.cap_at)  # type: ignore[arg-type]
            affected = hit & (tier < cap)
            tag = f"cap:{gate.id}"
            pos = np.flatnonzero(affected)
            why_en = join_texts(
                [leaf_text(lf, pos, ev, "en") for lf in gate.when.leaves()], " and "
            )
            why_zh = join_texts([leaf_text(lf, pos, ev, "zh") for lf in gate.when.leaves()], "且")
            tier[affected] = cap
            risk_gate_applied[affected] = gate.id
            rule_fired[affected] = f"risk_gate:{gate.id}"
            reason_en[pos] = (
                reason_en[pos]
                + f"; capped at {gate.cap_at} by risk gate {gate.id} ("
                + why_en
                + ")"
            )
            reason_zh[pos] = (
                reason_zh[pos] + f"；因风险闸门{gate.id}（" + why_zh + f"）降至{gate.cap_at}"
            )
        else:
            affected = hit
            tag = f"review:{gate.id}"
            reason_en[affected] = (
                reason_en[affected] + f"; flagged for review by risk gate {gate.id}"
            )
            reason_zh[affected] = reason_zh[affected] + f"；风险闸门{gate.id}标记待复核"
        first = affected & pd.isna(risk_flag)
        more = affected & ~first
        risk_flag[first] = tag
        risk_flag[more] = risk_flag[more] + "," + tag

    # 4. quotas, best tier first so that the excess can meet the next tier's quota
    quota_applied = np.full(n, None, dtype=object)
    for t_rank, t in enumerate(policy.tiers):
        if t.quota is None:
            continue
        members = np.flatnonzero(tier == t_rank)
        limit = t.quota.limit(n)
        if len(members) <= limit:
            continue
        values = ev.numeric(t.quota.rank_by)[members]
        key = -values if t.quota.descending else values.copy()
        key[np.isnan(key)] = np.inf  # missing ranking values go last
        order = np.lexsort((ids[members].astype(str), key))
        excess = members[order[limit:]]
        target = policy.rank(t.quota.demote_to) if t.quota.demote_to else t_rank + 1
        tier[excess] = target
        quota_applied[excess] = t.code
        rule_fired[excess] = f"quota:{t.code}"
        rank_txt = np.char.mod("%d", np.arange(limit + 1, len(members) + 1)).astype(object)
        by = t.quota.rank_by
        reason_en[excess] = (
            reason_en[excess]
            + f"; over the {t.code} quota ({limit} accounts by {by}), rank "
            + rank_txt
        )
        reason_zh[excess] = (
            reason_zh[excess] + f"；超出{t.code}层级名额（按{by}取前{limit}名），排名" + rank_txt
        )

    # 5. overrides: agreed exceptions win over everything, until they expire
    override_applied = np.zeros(n, dtype=bool)
    override_reason = np.full(n, None, dtype=object)
    active = {o.golden_account_id: o for o in policy.active_overrides(as_of)}
    if active:
        pos_of = pd.Series(np.arange(n), index=ids)
        for account, o in active.items():
            if account not in pos_of.index:
                continue
            i = int(pos_of[account])
            until_en = f" (until {o.expires.isoformat()})" if o.expires else ""
            until_zh = f"（有效期至{o.expires.isoformat()}）" if o.expires else ""
            tier[i] = policy.rank(o.tier)
            override_applied[i] = True
            override_reason[i] = o.reason
            rule_fired[i] = OVERRIDE_RULE
            reason_en[i] = f"Override: {o.reason}{until_en}"
            reason_zh[i] = f"人工指定：{o.reason}{until_zh}"

    # 6. names, state, control group
    final = codes[tier]
    pick = {
        "tier_name_en": [t.name_en for t in policy.tiers],
        "tier_name_zh": [t.name_zh for t in policy.tiers],
        "service_strategy_en": [t.service_strategy.en for t in policy.tiers],
        "service_strategy_zh": [t.service_strategy.zh for t in policy.tiers],
        "owner_team": [t.owner_team for t in policy.tiers],
    }
    previous_tier = hyst["previous_tier"].to_numpy(object)
    stayed = previous_tier == final
    tier_since = np.where(
        stayed, hyst["previous_tier_since"].to_numpy("datetime64[ns]"), today.to_datetime64()
    )
    # A pending downgrade only survives while the account really sits in its old tier.
    keep_pending = (action == "downgrade_pending") & stayed & ~override_applied
    pending_to = np.where(keep_pending, hyst["pending_downgrade_to"].to_numpy(object), None)
    pending_since = np.where(
        keep_pending, hyst["pending_since"].to_numpy("datetime64[ns]"), np.datetime64("NaT", "ns")
    )
    in_control = (
        assign_control_group(
            pd.Series(ids), pd.Series(final), policy.holdout.share, policy.holdout.salt
        )
        if policy.holdout is not None
        else np.zeros(n, dtype=bool)
    )
    columns: dict[str, object] = {"golden_account_id": ids, "tier": final}
    columns.update({k: np.asarray(v, dtype=object)[tier] for k, v in pick.items()})
    columns.update(
        {
            "rule_fired": rule_fired,
            "reason_en": reason_en,
            "reason_zh": reason_zh,
            "risk_flag": risk_flag,
            "in_control_group": in_control,
            "tier_since": tier_since,
            "pending_downgrade_to": pending_to,
            "pending_since": pending_since,
            "previous_tier": previous_tier,
            "proposed_tier": codes[base],
            "proposed_rule": base_rule,
            "proposed_tier_strict": codes[strict],
            "proposed_tier_loose": codes[loose],
            "hysteresis_action": action,
            "risk_gate_applied": risk_gate_applied,
            "quota_applied": quota_applied,
            "override_applied": override_applied,
            "override_reason": override_reason,
            "policy_version": policy.policy_version,
            "as_of_date": today,
        }
    )
    out = pd.DataFrame(columns)
    out.index = scores.index
    return out[TIER_COLUMNS]


def override_report(policy: TierPolicy, as_of: date, account_ids: pd.Series) -> pd.DataFrame:
    """Every override in the policy with its status: active, expired or unknown_account."""
    known = set(account_ids.astype(str))
    rows = [
        {
            "golden_account_id": o.golden_account_id,
            "tier": o.tier,
            "reason": o.reason,
            "expires": o.expires,
            "status": (
                "expired"
                if not o.active(as_of)
                else ("active" if o.golden_account_id in known else "unknown_account")
            ),
        }
        for o in policy.overrides
    ]
    return pd.DataFrame(rows, columns=["golden_account_id", "tier", "reason", "expires", "status"])
