"""Rule evaluation, risk gates, quotas, overrides and reasons of assign_tiers."""

from __future__ import annotations

import math
from datetime import date

import numpy as np
import pandas as pd
import pytest

from pipelines.tiering.engine import assign_tiers, override_report
from tests.tiering.tier_fixtures import make_policy, make_scores, policy_data, random_scores

AS_OF = date(2025, 6, 1)


def _values(series):
    """List with None for missing values (pandas may store None as NaN)."""
    return [None if v is None or v != v else v for v in series.tolist()]


def _single_rule_policy(when):
    """A policy whose tier A is granted by exactly one rule ``when``; everything else is C."""
    data = policy_data()
    data["tiers"][0]["rules"] = [{"id": "only", "when": when}]
    data["tiers"][1]["rules"] = []
    from pipelines.tiering.policy import parse_policy

    return parse_policy(data)


@pytest.mark.parametrize(
    ("leaf", "column", "values", "expected"),
    [
        ({"gte": 0.5}, "p_alive", [0.49, 0.5, 0.51], [False, True, True]),
        ({"gt": 0.5}, "p_alive", [0.49, 0.5, 0.51], [False, False, True]),
        ({"lte": 0.5}, "p_alive", [0.49, 0.5, 0.51], [True, True, False]),
        ({"lt": 0.5}, "p_alive", [0.49, 0.5, 0.51], [True, False, False]),
        ({"between": [0.2, 0.5]}, "p_alive", [0.1, 0.2, 0.5, 0.6], [False, True, True, False]),
        ({"eq": "A"}, "abc_class", ["A", "B", None], [True, False, False]),
        ({"ne": "A"}, "abc_class", ["A", "B", None], [False, True, False]),
        ({"in": ["A", "B"]}, "abc_class", ["A", "B", "C"], [True, True, False]),
        ({"not_in": ["A", "B"]}, "abc_class", ["A", "B", "C"], [False, False, True]),
        ({"gte": 0.5}, "p_alive", [np.nan, 0.9], [False, True]),
    ],
)
def test_comparison_operators(leaf, column, values, expected):
    policy = _single_rule_policy({"score": column, **leaf})
    scores = make_scores([{column: v} for v in values])
    out = assign_tiers(scores, policy, AS_OF)
    assert (out["tier"] == "A").tolist() == expected


def test_all_and_any_groups():
    policy = _single_rule_policy(
        {
            "any": [
                {"all": [{"score": "abc_class", "in": ["A"]}, {"score": "p_alive", "gte": 0.5}]},
                {"score": "clv_percentile", "gte": 0.95},
            ]
        }
    )
    scores = make_scores(
        [
            {"abc_class": "A", "p_alive": 0.8, "clv_percentile": 0.1},  # all holds
            {"abc_class": "A", "p_alive": 0.2, "clv_percentile": 0.1},  # all fails
            {"abc_class": "C", "p_alive": 0.2, "clv_percentile": 0.97},  # any via clv
            {"abc_class": "B", "p_alive": 0.9, "clv_percentile": 0.5},  # nothing
        ]
    )
    assert assign_tiers(scores, policy, AS_OF)["tier"].tolist() == ["A", "C", "A", "C"]


def test_top_percent_ranks_paying_accounts_with_id_tie_break():
    policy = _single_rule_policy({"score": "clv_12m", "top_percent": 20})
    # 10 paying accounts; a prospect with the largest CLV must not take a slot.
    rows = [{"clv_12m": float(v)} for v in [10, 90, 30, 90, 50, 60, 70, 20, 80, 40]]
    rows.append({"clv_12m": 1000.0, "has_paid_order": False})
    out = assign_tiers(make_scores(rows), policy, AS_OF)
    # top 20% of 10 = 2 accounts: the two 90s (G002, G004); G011 is a prospect.
    assert out.loc[out["tier"] == "A", "golden_account_id"].tolist() == ["G002", "G004"]
    assert out["tier"].iloc[-1] == "P"

    # With 3 slots tied at the boundary (80 vs none), ids decide among equal values.
    top3 = _single_rule_policy({"score": "clv_12m", "top_n": 3})
    rows = [
        {"clv_12m": 5.0},
        {"clv_12m": 9.0},
        {"clv_12m": 5.0},
        {"clv_12m": 5.0},
        {"clv_12m": 9.0},
    ]
    out = assign_tiers(make_scores(rows), top3, AS_OF)
    assert out.loc[out["tier"] == "A", "golden_account_id"].tolist() == ["G001", "G002", "G005"]


def test_prospects_and_fallback():
    policy = make_policy()
    scores = make_scores(
        [
            {"has_paid_order": False, "abc_class": "A", "p_alive": 0.9},  # prospect wins
            {"abc_class": "C", "rfm_score": 2.0, "clv_percentile": 0.3},  # no rule -> C
            {"abc_class": "B"},
        ]
    )
    out = assign_tiers(scores, policy, AS_OF)
    assert out["tier"].tolist() == ["P", "C", "B"]
    assert out["rule_fired"].tolist() == ["prospect", "fallback", "B_abc_b"]
    assert out["tier_name_zh"].tolist() == ["潜在客户", "普通客户", "重点客户"]
    assert out["service_strategy_en"].iloc[0] == "Lead nurturing"


def test_reasons_are_bilingual_and_carry_the_values():
    scores = make_scores([{"abc_class": "A", "p_alive": 0.82}, {"clv_percentile": 0.97}])
    out = assign_tiers(scores, make_policy(), AS_OF)
    assert out["reason_en"].iloc[0] == "ABC class A and P(alive) 0.82 ≥ 0.50"
    assert out["reason_zh"].iloc[0] == "ABC等级A且存活概率0.82≥0.50"
    assert out["rule_fired"].tolist() == ["A_abc_alive", "A_top_clv"]
    assert out["reason_en"].iloc[1] == "CLV percentile 0.97 ≥ 0.95"


def _gates(mode):
    gate = {"id": "high_risk", "when": {"score": "risk_level", "eq": "high"}, "mode": mode}
    if mode == "cap":
        gate["cap_at"] = "C"
    return make_policy(risk_gates=[gate])


def test_risk_gate_cap_lowers_tier():
    scores = make_scores(
        [
            {"abc_class": "A", "p_alive": 0.9, "risk_level": "high"},
            {"abc_class": "A", "p_alive": 0.9, "risk_level": "low"},
            {"risk_level": "high"},  # already C: nothing to cap
        ]
    )
    out = assign_tiers(scores, _gates("cap"), AS_OF)
    assert out["tier"].tolist() == ["C", "A", "C"]
    assert out["proposed_tier"].tolist() == ["A", "A", "C"]
    assert _values(out["risk_gate_applied"]) == ["high_risk", None, None]
    assert out["risk_flag"].iloc[0] == "cap:high_risk"
    assert out["rule_fired"].iloc[0] == "risk_gate:high_risk"
    assert (
        "capped at C" in out["reason_en"].iloc[0] and "risk level high" in out["reason_en"].iloc[0]
    )


def test_risk_gate_flag_keeps_tier():
    scores = make_scores([{"abc_class": "A", "p_alive": 0.9, "risk_level": "high"}, {}])
    out = assign_tiers(scores, _gates("flag"), AS_OF)
    assert out["tier"].tolist() == ["A", "C"]
    assert out["risk_flag"].iloc[0] == "review:high_risk"
    assert _values(out["risk_flag"])[1] is None
    assert "review" in out["reason_en"].iloc[0]


def test_quota_keeps_best_ranked_and_breaks_ties_by_id():
    data = policy_data()
    data["tiers"][0]["quota"] = {"max_accounts": 2, "rank_by": "clv_12m"}
    from pipelines.tiering.policy import parse_policy

    policy = parse_policy(data)
    rows = [
        {"abc_class": "A", "p_alive": 0.9, "clv_12m": 100.0},  # G001 lowest -> demoted
        {"abc_class": "A", "p_alive": 0.9, "clv_12m": 300.0},  # G002 kept
        {"abc_class": "A", "p_alive": 0.9, "clv_12m": 200.0},  # G003 tie -> id wins
        {"abc_class": "A", "p_alive": 0.9, "clv_12m": 200.0},  # G004 tie -> demoted
        {"abc_class": "A", "p_alive": 0.9, "clv_12m": np.nan},  # G005 missing -> last
    ]
    out = assign_tiers(make_scores(rows), policy, AS_OF)
    assert out["tier"].tolist() == ["B", "A", "A", "B", "B"]
    assert _values(out["quota_applied"]) == ["A", None, None, "A", "A"]
    assert out["rule_fired"].iloc[3] == "quota:A"


def test_quota_share_cascades_into_next_tier_quota():
    data = policy_data()
    data["tiers"][0]["quota"] = {"max_share": 0.2, "rank_by": "clv_12m"}  # 1 of 5
    data["tiers"][1]["quota"] = {"max_accounts": 1, "rank_by": "clv_12m"}
    from pipelines.tiering.policy import parse_policy

    rows = [{"abc_class": "A", "p_alive": 0.9, "clv_12m": float(v)} for v in (5, 4, 3)]
    rows += [{"abc_class": "C"}, {"abc_class": "C"}]
    out = assign_tiers(make_scores(rows), parse_policy(data), AS_OF)
    assert out["tier"].tolist() == ["A", "B", "C", "C", "C"]


def test_overrides_active_and_expired():
    policy = make_policy(
        overrides=[
            {
                "golden_account_id": "G001",
                "tier": "A",
                "reason": "Strategic pilot",
                "expires": date(2025, 12, 31),
            },
            {
                "golden_account_id": "G002",
                "tier": "A",
                "reason": "Old deal",
                "expires": date(2025, 5, 31),
            },
            {"golden_account_id": "G999", "tier": "B", "reason": "Unknown id"},
        ]
    )
    out = assign_tiers(make_scores([{}, {}]), policy, AS_OF)
    assert out["tier"].tolist() == ["A", "C"]
    assert out["override_applied"].tolist() == [True, False]
    assert out["reason_en"].iloc[0] == "Override: Strategic pilot (until 2025-12-31)"
    assert out["reason_zh"].iloc[0].startswith("人工指定：Strategic pilot")
    report = override_report(policy, AS_OF, out["golden_account_id"])
    assert report.set_index("golden_account_id")["status"].to_dict() == {
        "G001": "active",
        "G002": "expired",
        "G999": "unknown_account",
    }


def test_every_account_gets_exactly_one_tier_and_rows_stay_aligned():
    scores = random_scores(3000).sample(frac=1.0, random_state=1)
    policy = make_policy()
    out = assign_tiers(scores, policy, AS_OF)
    assert out.index.equals(scores.index)
    assert (out["golden_account_id"].to_numpy() == scores["golden_account_id"].to_numpy()).all()
    assert out["tier"].isin(policy.codes).all()
    assert out["policy_version"].eq(policy.policy_version).all()
    assert set(out.loc[~scores["has_paid_order"], "tier"]) == {"P"}


def test_duplicate_accounts_are_rejected():
    scores = make_scores([{}, {}])
    scores.loc[1, "golden_account_id"] = "G001"
    with pytest.raises(ValueError, match="more than one row"):
        assign_tiers(scores, make_policy(), AS_OF)


def test_missing_score_column_is_named():
    scores = make_scores([{}]).drop(columns=["clv_percentile"])
    with pytest.raises(ValueError, match="clv_percentile"):
        assign_tiers(scores, make_policy(), AS_OF)


def test_default_policy_tier_order_is_the_expected_value_order_at_its_sizes():
    """Tiers A, B, C hold the top 5%, the next 15% and the rest of paying accounts by expected
    value, whatever else the scores say; prospects stay P; nulls are never A or B; a gated
    account's place is not handed to anyone else; quotas hold after hysteresis."""
    from pipelines.tiering.policy import load_policy
    from tests.config_files import CONFIG_DIR
    from tests.tiering.tier_fixtures import random_scores

    policy = load_policy(CONFIG_DIR / "tiers" / "default.yaml")
    scores = random_scores(2000, seed=3)
    scores["expected_value_12m"] = scores["expected_value_12m"].where(
        np.arange(2000) % 97 != 0
    )  # some unknown
    scores["risk_level"] = "low"
    scores["risk_stale"] = False
    # The highest expected value of all is a high risk: capped at B (no dedicated team), its A
    # place goes to the next best account instead of staying empty.
    top = scores.loc[scores["has_paid_order"], "expected_value_12m"].idxmax()
    scores.loc[top, "risk_level"] = "high"
    out = assign_tiers(scores, policy, AS_OF)
    assert out.loc[top, "tier"] == "B" and out.loc[top, "risk_gate_applied"] == "high_risk_cap"
    assert "capped at B by risk gate high_risk_cap" in out.loc[top, "reason_en"]
    assert (out["rule_fired"] == "quota_fill:A").sum() == 1
    # B's capacity is 15% of all paying accounts, its rule ranks those with a known value:
    # the account A took from B and the unknown-value accounts' share are filled from C.
    assert (out["rule_fired"] == "quota_fill:B").sum() >= 1
    filled = out.index[out["rule_fired"] == "quota_fill:A"][0]
    assert scores.loc[out["rule_fired"].str.startswith("quota_fill"), "risk_level"].eq("low").all()
    assert "promoted to fill the A capacity" in out.loc[filled, "reason_en"]
    scores = scores.drop(index=top)
    out = out.drop(index=top)
    paying = scores["has_paid_order"].to_numpy()
    assert (out.loc[~paying, "tier"] == "P").all()
    n_paying = int(paying.sum())
    # Filled to capacity: 5% and 15% of the paying accounts (the one capped at B counted; it
    # holds one of B's seats and was dropped above).
    sizes = out.loc[paying, "tier"].value_counts()
    assert sizes["A"] == math.ceil(0.05 * (n_paying + 1))
    assert sizes["B"] + 1 == math.ceil(0.15 * (n_paying + 1))
    assert sizes["A"] <= sizes["B"] <= sizes["C"]
    ev = scores.loc[paying, "expected_value_12m"]
    tier = out.loc[paying, "tier"]
    assert ev[tier == "A"].min() >= ev[tier == "B"].max()
    assert ev[tier == "B"].min() >= ev[tier == "C"].max()
    assert tier[ev.isna()].eq("C").all()
    # Last run's tiers held by hysteresis: the quotas still bound A and B, best first.
    previous = out.assign(tier_since=pd.Timestamp("2024-01-01"))
    paying = scores["has_paid_order"].to_numpy()
    shuffled = scores.assign(expected_value_12m=scores["expected_value_12m"].sample(
        frac=1, random_state=1).to_numpy())  # fmt: skip
    again = assign_tiers(shuffled, policy, AS_OF, previous_state=previous)
    sizes = again.loc[paying, "tier"].value_counts()
    assert sizes["A"] <= math.ceil(0.05 * n_paying) and sizes["B"] <= math.ceil(0.15 * n_paying)


def test_small_daily_moves_in_expected_value_do_not_swap_accounts_across_quota_lines():
    """Quotas keep last run's members before newcomers: a day later, with every expected value
    moved by a little noise, (almost) nobody changes tier."""
    from datetime import timedelta

    from pipelines.tiering.policy import load_policy
    from tests.config_files import CONFIG_DIR
    from tests.tiering.test_tiering_hysteresis import state_of

    policy = load_policy(CONFIG_DIR / "tiers" / "default.yaml")
    scores = random_scores(3000, seed=5).assign(risk_level="low", risk_stale=False)
    first = assign_tiers(scores, policy, AS_OF)
    noise = np.random.default_rng(2).normal(1.0, 0.05, len(scores))
    nudged = scores.assign(expected_value_12m=scores["expected_value_12m"] * noise)
    # Last run's tiers were held long enough for promotions to be allowed.
    previous = state_of(first).assign(tier_since=pd.Timestamp(AS_OF - timedelta(90)))
    second = assign_tiers(nudged, policy, AS_OF + timedelta(1), previous)
    moved = second["tier"] != first["tier"]
    quota_moves = second["rule_fired"].str.startswith("quota")
    print(f"\n{int(moved.sum())} moved, {int((moved & quota_moves).sum())} by a quota")
    assert not (moved & quota_moves).any()
    paying = scores["has_paid_order"].to_numpy()
    sizes = second.loc[paying, "tier"].value_counts()
    assert sizes["A"] <= math.ceil(0.05 * paying.sum()) and sizes["B"] <= math.ceil(
        0.15 * paying.sum()
    )
