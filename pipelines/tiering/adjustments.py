"""What happens to the rules' proposal after hysteresis: risk gates, quotas, overrides.

Each step is one function over :class:`TierDecisions` (the run's arrays, one entry per
account) that changes the tier of the accounts it concerns and says why in their reasons.
Order matters and is :func:`pipelines.tiering.engine.assign_tiers`'s: gates, then quotas
(best tier first, so a tier's excess can meet the next tier's quota), then overrides.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

import numpy as np
import pandas as pd

from pipelines.tiering.condition_text import join_texts, leaf_text
from pipelines.tiering.evaluator import Evaluator
from pipelines.tiering.policy import RiskGate, Tier, TierPolicy

OVERRIDE_RULE = "override"


def _none(n: int) -> np.ndarray:
    return np.full(n, None, dtype=object)


@dataclass
class TierDecisions:
    """Per account: the tier rank (0 = best) and what decided it, in plain words."""

    tier: np.ndarray
    rule_fired: np.ndarray
    reason_en: np.ndarray
    reason_zh: np.ndarray
    risk_flag: np.ndarray = field(init=False)
    risk_gate_applied: np.ndarray = field(init=False)
    quota_applied: np.ndarray = field(init=False)
    override_applied: np.ndarray = field(init=False)
    override_reason: np.ndarray = field(init=False)

    def __post_init__(self) -> None:
        n = len(self.tier)
        self.risk_flag = _none(n)
        self.risk_gate_applied = _none(n)
        self.quota_applied = _none(n)
        self.override_applied = np.zeros(n, dtype=bool)
        self.override_reason = _none(n)

    def note(self, rows: np.ndarray, en: np.ndarray | str, zh: np.ndarray | str) -> None:
        """Append to the reasons of ``rows`` (a mask or positions)."""
        self.reason_en[rows] = self.reason_en[rows] + en
        self.reason_zh[rows] = self.reason_zh[rows] + zh


def _cap(d: TierDecisions, ev: Evaluator, gate: RiskGate, hit: np.ndarray, cap: int) -> np.ndarray:
    affected = hit & (d.tier < cap)
    pos = np.flatnonzero(affected)
    why_en = join_texts([leaf_text(lf, pos, ev, "en") for lf in gate.when.leaves()], " and ")
    why_zh = join_texts([leaf_text(lf, pos, ev, "zh") for lf in gate.when.leaves()], "且")
    d.tier[affected] = cap
    d.risk_gate_applied[affected] = gate.id
    d.rule_fired[affected] = f"risk_gate:{gate.id}"
    d.note(
        pos,
        f"; capped at {gate.cap_at} by risk gate {gate.id} (" + why_en + ")",
        "；因风险闸门" + gate.id + "（" + why_zh + f"）降至{gate.cap_at}",
    )
    return affected


def apply_risk_gates(d: TierDecisions, ev: Evaluator, policy: TierPolicy) -> None:
    """``cap`` gates lower the tier at once (no grace: risk is urgent); ``flag`` gates mark
    the account for review. ``risk_flag`` lists every gate that applied."""
    for gate in policy.risk_gates:
        hit = ev.mask(gate.when)
        if gate.mode == "cap":
            affected = _cap(d, ev, gate, hit, policy.rank(gate.cap_at))  # type: ignore[arg-type]
            tag = f"cap:{gate.id}"
        else:
            affected = hit
            tag = f"review:{gate.id}"
            d.note(
                affected,
                f"; flagged for review by risk gate {gate.id}",
                f"；风险闸门{gate.id}标记待复核",
            )
        first = affected & pd.isna(d.risk_flag)
        more = affected & ~first
        d.risk_flag[first] = tag
        d.risk_flag[more] = d.risk_flag[more] + "," + tag


def _demote_excess(
    d: TierDecisions,
    ev: Evaluator,
    policy: TierPolicy,
    t_rank: int,
    t: Tier,
    ids: np.ndarray,
    previous: np.ndarray,
) -> None:
    quota = t.quota
    members = np.flatnonzero(d.tier == t_rank)
    limit = quota.limit(int(ev.paying.sum()) if quota.population == "paying" else ev.n)
    if len(members) <= limit:
        return
    values = ev.numeric(quota.rank_by)[members]
    key = -values if quota.descending else values.copy()
    key[np.isnan(key)] = np.inf  # missing ranking values go last
    # Hysteresis for seats: the tier's members of last run keep theirs before newcomers, so a
    # day's small moves in the ranking do not swap accounts across the line.
    newcomer = previous[members] != t.code
    order = np.lexsort((ids[members].astype(str), key, newcomer))
    excess = members[order[limit:]]
    d.tier[excess] = policy.rank(quota.demote_to) if quota.demote_to else t_rank + 1
    d.quota_applied[excess] = t.code
    d.rule_fired[excess] = f"quota:{t.code}"
    rank_txt = np.char.mod("%d", np.arange(limit + 1, len(members) + 1)).astype(object)
    by = quota.rank_by
    d.note(
        excess,
        f"; over the {t.code} quota ({limit} accounts by {by}), rank " + rank_txt,
        f"；超出{t.code}层级名额（按{by}取前{limit}名），排名" + rank_txt,
    )


def _fill(
    d: TierDecisions, ev: Evaluator, policy: TierPolicy, t_rank: int, t: Tier, ids: np.ndarray
) -> None:
    """Promote the best-ranked accounts of the tier below into ``t``'s free capacity; gated,
    overridden and unranked accounts stay where they are."""
    quota = t.quota
    below = t_rank + 1
    if below >= len(policy.tiers) or policy.tiers[below].code == policy.prospects.tier:
        return
    limit = quota.limit(int(ev.paying.sum()) if quota.population == "paying" else ev.n)
    free = limit - int((d.tier == t_rank).sum())
    values = ev.numeric(quota.rank_by)
    # A cap gate that would put the account below this tier keeps it out, applied or not.
    blocked = np.zeros(ev.n, dtype=bool)
    for gate in policy.risk_gates:
        if gate.mode == "cap" and policy.rank(gate.cap_at) > t_rank:  # type: ignore[arg-type]
            blocked |= ev.mask(gate.when)
    pool = np.flatnonzero((d.tier == below) & ~blocked & ~d.override_applied & ~np.isnan(values))
    if free <= 0 or not len(pool):
        return
    key = -values[pool] if quota.descending else values[pool]
    chosen = pool[np.lexsort((ids[pool].astype(str), key))[:free]]
    d.tier[chosen] = t_rank
    d.rule_fired[chosen] = f"quota_fill:{t.code}"
    d.note(
        chosen,
        f"; promoted to fill the {t.code} capacity ({limit} accounts by {quota.rank_by})",
        f"；按{quota.rank_by}递补{t.code}层级名额（共{limit}名）",
    )


def apply_quotas(
    d: TierDecisions,
    ev: Evaluator,
    policy: TierPolicy,
    ids: np.ndarray,
    previous: np.ndarray | None = None,
) -> None:
    """A tier over its quota keeps its members of last run (``previous``: last run's tier
    codes), then its best-ranked accounts; the excess drops a tier (or to ``demote_to``). A
    tier whose quota ``fill``s takes the best of the tier below into its free capacity. Best
    tier first, so the excess can meet the next tier's quota."""
    if previous is None:
        previous = np.full(len(ids), None, dtype=object)
    for t_rank, t in enumerate(policy.tiers):
        if t.quota is not None:
            _demote_excess(d, ev, policy, t_rank, t, ids, previous)
            if t.quota.fill:
                _fill(d, ev, policy, t_rank, t, ids)


def apply_overrides(d: TierDecisions, policy: TierPolicy, as_of: date, ids: np.ndarray) -> None:
    """Agreed exceptions win over everything, until they expire."""
    active = {o.golden_account_id: o for o in policy.active_overrides(as_of)}
    if not active:
        return
    pos_of = pd.Series(np.arange(len(ids)), index=ids)
    for account, o in active.items():
        if account not in pos_of.index:
            continue
        i = int(pos_of[account])
        until_en = f" (until {o.expires.isoformat()})" if o.expires else ""
        until_zh = f"（有效期至{o.expires.isoformat()}）" if o.expires else ""
        d.tier[i] = policy.rank(o.tier)
        d.override_applied[i] = True
        d.override_reason[i] = o.reason
        d.rule_fired[i] = OVERRIDE_RULE
        d.reason_en[i] = f"Override: {o.reason}{until_en}"
        d.reason_zh[i] = f"人工指定：{o.reason}{until_zh}"


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
