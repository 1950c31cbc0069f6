"""Plottable tier numbers and the movers table of the tier asset (ids only, biggest first)."""

from __future__ import annotations

from datetime import date

import pytest
from dagster import IntMetadataValue, TableMetadataValue

from pipelines.tiering.metadata import movers_metadata, tier_share_metadata, top_movers
from pipelines.tiering.outputs import run_tiering, tier_summary
from tests.tiering.tier_fixtures import make_policy, make_scores, state_of

POLICY = make_policy(
    hysteresis={"margins": {}, "min_dwell_days": 0, "downgrade_grace_days": 0},
)
DAY_1 = [
    {"abc_class": "A", "p_alive": 0.9, "net_revenue_365d": 8000.0},  # G001 A
    {"abc_class": "B", "net_revenue_365d": 2000.0},  # G002 B
    {"net_revenue_365d": 5000.0},  # G003 C
    {"has_paid_order": False, "net_revenue_365d": 0.0},  # G004 P
    {"net_revenue_365d": 9000.0},  # G005 C
]
DAY_2 = [
    {"abc_class": "C", "p_alive": 0.1, "net_revenue_365d": 8000.0},  # A -> C: two tiers down
    {"abc_class": "A", "p_alive": 0.9, "net_revenue_365d": 2000.0},  # B -> A
    {"abc_class": "B", "net_revenue_365d": 5000.0},  # C -> B
    {"has_paid_order": False, "net_revenue_365d": 0.0},  # P stays
    {"abc_class": "B", "net_revenue_365d": 9000.0},  # C -> B, more revenue
    {"abc_class": "A", "p_alive": 0.9, "net_revenue_365d": 100.0},  # G006: new, not a mover
]


@pytest.fixture(scope="module")
def second_run():
    first = run_tiering(make_scores(DAY_1), POLICY, date(2025, 6, 1), "20250601-aaaa")
    previous = state_of(first.customer_tier)
    return run_tiering(
        make_scores(DAY_2), POLICY, date(2025, 6, 8), "20250608-bbbb", previous_state=previous
    )


def test_accounts_and_revenue_share_per_tier_are_numbers(second_run) -> None:
    meta = tier_share_metadata(tier_summary(second_run, POLICY))
    assert isinstance(meta["accounts_A"], IntMetadataValue)
    assert {t: meta[f"accounts_{t}"].value for t in "ABCP"} == {"A": 2, "B": 2, "C": 1, "P": 1}
    total = 8000 + 2000 + 5000 + 9000 + 100
    expected = {"A": 2100 / total, "B": 14000 / total, "C": 8000 / total, "P": 0.0}
    assert {t: meta[f"revenue_share_{t}"].value for t in "ABCP"} == pytest.approx(expected)


def test_movers_are_ranked_by_tiers_moved_then_revenue(second_run) -> None:
    movers = top_movers(second_run, POLICY)
    assert movers[["golden_account_id", "move", "change_type", "tiers_moved"]].values.tolist() == [
        ["G001", "A → C", "demotion", 2],
        ["G005", "C → B", "promotion", 1],
        ["G003", "C → B", "promotion", 1],
        ["G002", "B → A", "promotion", 1],
    ]
    assert movers["rule_fired"].tolist()[1:] == ["B_abc_b", "B_abc_b", "A_abc_alive"]
    assert movers["reason_en"].str.len().gt(5).all()
    assert len(top_movers(second_run, POLICY, limit=2)) == 2


def test_the_movers_table_carries_ids_never_names(second_run) -> None:
    named = [dict(row, account_name=f"杭州甲{i}科技有限公司") for i, row in enumerate(DAY_2)]
    previous = state_of(
        run_tiering(make_scores(DAY_1), POLICY, date(2025, 6, 1), "x").customer_tier
    )
    out = run_tiering(make_scores(named), POLICY, date(2025, 6, 8), "y", previous_state=previous)
    assert "account_name" in out.customer_tier.columns
    meta = movers_metadata(second_run, POLICY)
    table = meta["movers"]
    assert isinstance(table, TableMetadataValue)
    assert [c.name for c in table.schema.columns] == [
        "golden_account_id", "move", "change_type", "tiers_moved", "net_revenue_365d",
        "rule_fired", "reason_en",
    ]  # fmt: skip
    assert [r.data["golden_account_id"] for r in table.records] == ["G001", "G005", "G003", "G002"]
    assert meta["movers_total"].value == 4
    shown = movers_metadata(out, POLICY)
    assert shown["movers_total"].value == 4
    assert "科技有限公司" not in str(shown["movers"])
