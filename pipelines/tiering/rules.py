"""Rule evaluation: the tier the policy's rules propose for each account, and why.

Prospects (no paid order) go to the prospect tier; paying accounts to the best tier with a
rule that holds (tiers best → worst, rules in order, the first that holds wins), otherwise the
fallback tier. ``mode`` +1/-1 evaluates at thresholds shifted by the hysteresis margins.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from pipelines.tiering.condition_text import join_texts, leaf_text
from pipelines.tiering.evaluator import Evaluator, satisfied_leaves
from pipelines.tiering.policy import TierPolicy

PROSPECT_RULE = "prospect"
FALLBACK_RULE = "fallback"


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
            if fired.any():
                en[fired], zh[fired] = _condition_text(ev, r.when, fired)
    return en, zh


def _condition_text(ev: Evaluator, when, fired: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    parts_en, parts_zh = [], []
    for leaf, held in satisfied_leaves(when, ev):
        pos = np.flatnonzero(fired & held)
        piece_en = np.full(ev.n, "", dtype=object)
        piece_zh = np.full(ev.n, "", dtype=object)
        piece_en[pos] = leaf_text(leaf, pos, ev, "en")
        piece_zh[pos] = leaf_text(leaf, pos, ev, "zh")
        parts_en.append(piece_en[fired])
        parts_zh.append(piece_zh[fired])
    return join_texts(parts_en, " and "), join_texts(parts_zh, "且")
