"""What changed this run: tier change events, downgrade notices, migration matrix.

The SCD2 tier history is not built here: it is derived from the published snapshots
(:func:`pipelines.publish.snapshot.build_serving_db`), the one place it is computed.

All functions take the frame returned by :func:`pipelines.tiering.engine.assign_tiers` and
the score frame it was computed from (aligned row for row).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from pipelines.contracts import source_columns
from pipelines.tiering.condition_text import join_texts, leaf_text, shortfall_text
from pipelines.tiering.conditions import AllOf, AnyOf, Condition, Leaf
from pipelines.tiering.evaluator import Evaluator, satisfied_leaves
from pipelines.tiering.policy import TierPolicy
from pipelines.tiering.rules import make_evaluator

# Columns of tiers.tier_ledger and tiers.downgrade_notices: the tiers source's contract.
LEDGER_COLUMNS = [c.name for c in source_columns("tiers", "tier_ledger")]
NOTICE_COLUMNS = [c.name for c in source_columns("tiers", "downgrade_notices")]
NEW_ACCOUNT = "new"  # from_tier label of first-seen accounts in the migration matrix


def change_types(assigned: pd.DataFrame, policy: TierPolicy) -> np.ndarray:
    """Per row: new / promotion / demotion / override / reclassified, or None if unchanged."""
    prev = assigned["previous_tier"].to_numpy(object)
    cur = assigned["tier"].to_numpy(object)
    rank = {c: i for i, c in enumerate(policy.codes)}
    prev_r = pd.Series(prev).map(rank).to_numpy(float)
    cur_r = pd.Series(cur).map(rank).to_numpy(float)
    has_prev = pd.notna(prev)
    out = np.full(len(assigned), None, dtype=object)
    changed = has_prev & (prev != cur)
    out[changed & (cur_r < prev_r)] = "promotion"
    out[changed & (cur_r > prev_r)] = "demotion"
    out[changed & np.isnan(prev_r)] = "reclassified"
    out[changed & assigned["override_applied"].to_numpy(bool)] = "override"
    out[~has_prev] = "new"
    return out


def _shortfall(
    cond: Condition, pos: np.ndarray, ev: Evaluator
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Conditions still missing for ``cond`` to hold: (count, text en, text zh) per row.

    ``all`` needs every failing item; ``any`` needs only its cheapest item.
    """
    if isinstance(cond, Leaf):
        fail = ~ev.leaf_mask(cond)[pos]
        en = np.where(fail, shortfall_text(cond, pos, ev, "en"), "").astype(object)
        zh = np.where(fail, shortfall_text(cond, pos, ev, "zh"), "").astype(object)
        return fail.astype(np.int64), en, zh
    parts = [_shortfall(item, pos, ev) for item in cond.items]
    if isinstance(cond, AllOf):
        count = np.sum([p[0] for p in parts], axis=0)
        return (
            count,
            join_texts([p[1] for p in parts], "; "),
            join_texts([p[2] for p in parts], "；"),
        )
    counts = np.vstack([p[0] for p in parts])
    best = np.argmin(counts, axis=0)
    cols = np.arange(len(pos))
    en = np.vstack([p[1] for p in parts])[best, cols]
    zh = np.vstack([p[2] for p in parts])[best, cols]
    return counts[best, cols], en, zh


def regain_requirements(
    ev: Evaluator, policy: TierPolicy, pos: np.ndarray, tiers: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """For rows at ``pos``: what it takes to reach ``tiers`` (one code per row) by its rules —
    the failing conditions of its closest rule, current vs required value."""
    en = np.full(len(pos), "", dtype=object)
    zh = np.full(len(pos), "", dtype=object)
    for t in policy.tiers:
        sel = np.flatnonzero(tiers == t.code)
        if len(sel) == 0 or not t.rules:
            continue
        cond = AnyOf(tuple(r.when for r in t.rules))
        _, t_en, t_zh = _shortfall(cond, pos[sel], ev)
        en[sel], zh[sel] = t_en, t_zh
    return en, zh


def _gate_and_quota_notes(
    assigned: pd.DataFrame, ev: Evaluator, policy: TierPolicy, pos: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    en = np.full(len(pos), "", dtype=object)
    zh = np.full(len(pos), "", dtype=object)
    gates = assigned["risk_gate_applied"].to_numpy(object)[pos]
    quotas = assigned["quota_applied"].to_numpy(object)[pos]
    for gate in policy.risk_gates:
        sel = np.flatnonzero(gates == gate.id)
        if len(sel):
            leaves = list(gate.when.leaves())
            g_en = join_texts([leaf_text(lf, pos[sel], ev, "en") for lf in leaves], " and ")
            g_zh = join_texts([leaf_text(lf, pos[sel], ev, "zh") for lf in leaves], "且")
            en[sel] = f"clear risk gate {gate.id} (now " + g_en + ")"
            zh[sel] = f"解除风险闸门{gate.id}（当前" + g_zh + "）"
    for t in policy.tiers:
        sel = np.flatnonzero(quotas == t.code)
        if len(sel) and t.quota is not None:
            limit = t.quota.limit(ev.n)
            en[sel] = f"rank within the {t.code} quota (top {limit} by {t.quota.rank_by})"
            zh[sel] = f"排名进入{t.code}层级名额（按{t.quota.rank_by}前{limit}名）"
    return en, zh


def ledger_events(
    assigned: pd.DataFrame,
    scores: pd.DataFrame,
    policy: TierPolicy,
    snapshot_id: str,
    evaluator: Evaluator | None = None,
) -> pd.DataFrame:
    """One event per account whose tier changed this run (or that is new)."""
    ev = evaluator or make_evaluator(scores, policy)
    kinds = change_types(assigned, policy)
    pos = np.flatnonzero(pd.notna(kinds))
    sub = assigned.iloc[pos]
    kind = kinds[pos]
    crossed = np.full(len(pos), "", dtype=object)

    # Promotions and new accounts: the values that satisfy the rule now in force.
    up = np.isin(kind, ["promotion", "new", "reclassified"])
    rules = sub["proposed_rule"].to_numpy(object)
    for t in policy.tiers:
        for r in t.rules:
            sel = np.flatnonzero(up & (rules == r.id))
            if len(sel) == 0:
                continue
            parts = []
            for leaf, held in satisfied_leaves(r.when, ev):
                piece = np.full(len(sel), "", dtype=object)
                ok = held[pos[sel]]
                piece[ok] = leaf_text(leaf, pos[sel][ok], ev, "en")
                parts.append(piece)
            crossed[sel] = join_texts(parts, "; ")
    # Demotions: what no longer holds for the old tier, and any gate or quota.
    down = np.flatnonzero(kind == "demotion")
    if len(down):
        need_en, _ = regain_requirements(
            ev, policy, pos[down], sub["previous_tier"].to_numpy(object)[down]
        )
        extra_en, _ = _gate_and_quota_notes(assigned, ev, policy, pos[down])
        crossed[down] = join_texts([need_en, extra_en], "; ")

    out = pd.DataFrame(
        {
            "golden_account_id": sub["golden_account_id"].to_numpy(object),
            "from_tier": sub["previous_tier"].to_numpy(object),
            "to_tier": sub["tier"].to_numpy(object),
            "change_type": kind,
            "effective_date": sub["as_of_date"].to_numpy(),
            "snapshot_id": snapshot_id,
            "policy_version": sub["policy_version"].to_numpy(object),
            "rule_fired": sub["rule_fired"].to_numpy(object),
            "reason_en": sub["reason_en"].to_numpy(object),
            "reason_zh": sub["reason_zh"].to_numpy(object),
            "scores_crossed": crossed,
        }
    )
    return out[LEDGER_COLUMNS]


def downgrade_notices(
    assigned: pd.DataFrame,
    scores: pd.DataFrame,
    policy: TierPolicy,
    snapshot_id: str,
    evaluator: Evaluator | None = None,
) -> pd.DataFrame:
    """Accounts demoted this run, why, and what it takes to regain the tier they lost.

    The source documents ask that demoted customers be told and offered a way back
    (对降级客户进行沟通和说明，提供改进建议); the old tier's owner team sends the notice.
    """
    ev = evaluator or make_evaluator(scores, policy)
    kinds = change_types(assigned, policy)
    pos = np.flatnonzero(kinds == "demotion")
    sub = assigned.iloc[pos]
    from_t = sub["previous_tier"].to_numpy(object)
    to_t = sub["tier"].to_numpy(object)
    need_en, need_zh = regain_requirements(ev, policy, pos, from_t)
    extra_en, extra_zh = _gate_and_quota_notes(assigned, ev, policy, pos)
    meta = {t.code: t for t in policy.tiers}

    def attr(codes: np.ndarray, name: str) -> list[str]:
        return [getattr(meta[c], name) for c in codes]

    out = pd.DataFrame(
        {
            "golden_account_id": sub["golden_account_id"].to_numpy(object),
            "effective_date": sub["as_of_date"].to_numpy(),
            "snapshot_id": snapshot_id,
            "from_tier": from_t,
            "to_tier": to_t,
            "from_tier_name_en": attr(from_t, "name_en"),
            "from_tier_name_zh": attr(from_t, "name_zh"),
            "to_tier_name_en": attr(to_t, "name_en"),
            "to_tier_name_zh": attr(to_t, "name_zh"),
            "owner_team": attr(from_t, "owner_team"),
            "reason_en": sub["reason_en"].to_numpy(object),
            "reason_zh": sub["reason_zh"].to_numpy(object),
            "regain_en": join_texts([need_en, extra_en], "; "),
            "regain_zh": join_texts([need_zh, extra_zh], "；"),
            "policy_version": sub["policy_version"].to_numpy(object),
        }
    )
    return out[NOTICE_COLUMNS]


def migration_matrix(assigned: pd.DataFrame) -> pd.DataFrame:
    """Long from × to counts over all accounts; first-seen accounts come from 'new'."""
    frm = assigned["previous_tier"].fillna(NEW_ACCOUNT).astype(str)
    counts = (
        pd.DataFrame({"from_tier": frm, "to_tier": assigned["tier"].astype(str)})
        .groupby(["from_tier", "to_tier"], sort=True)
        .size()
        .rename("accounts")
        .reset_index()
    )
    return counts


def migration_pivot(long: pd.DataFrame, order: list[str]) -> pd.DataFrame:
    """The matrix as a table: one row per from-tier, one column per to-tier, in policy order."""
    extra_from = sorted(set(long["from_tier"]) - set(order))
    table = long.pivot_table(
        index="from_tier", columns="to_tier", values="accounts", aggfunc="sum", fill_value=0
    )
    rows = [c for c in order + extra_from if c in table.index]
    cols = [c for c in order if c in table.columns] + sorted(set(table.columns) - set(order))
    table = table.reindex(index=rows, columns=cols, fill_value=0).astype(int)
    table.index.name = "from \\ to"
    table.columns.name = None
    return table
