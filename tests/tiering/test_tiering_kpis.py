"""Tier KPIs (treated vs control): the pure function on hand-made frames, then the asset."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest
import yaml
from dagster import AssetKey, materialize

from pipelines.resources import Warehouse
from pipelines.run_context import RunContextResource
from pipelines.tiering.assets import TIER_KPIS_KEY, customer_tier, tier_kpis, tiering_assets
from pipelines.tiering.kpis import KPI_COLUMNS, compute_tier_kpis
from tests.tiering.tier_fixtures import (
    make_scores,
    policy_data,
    publish_tier_table,
    query,
    write_tables,
)

TIERS = ["A", "B", "C", "P"]


def _current() -> pd.DataFrame:
    rows = [
        # id, tier, control, revenue, clv, p_alive, paid, orders_90d, nps
        ("c1", "C", False, 100.0, 10.0, 0.9, True, 2, 8.0),
        ("c2", "C", False, 200.0, 20.0, 0.5, True, 0, None),
        ("c3", "B", False, 900.0, 90.0, 0.8, True, 1, 6.0),  # promoted out of C
        ("c4", "C", False, 300.0, 30.0, 0.1, True, 0, None),
        ("c5", "C", True, 50.0, 5.0, 0.4, True, 0, 5.0),
        ("c6", "C", True, 70.0, None, 0.6, True, 0, None),
        ("p1", "C", False, 400.0, 40.0, 0.7, True, 1, 6.0),  # converted prospect
        ("p2", "P", False, 0.0, 0.0, 0.0, False, 0, None),
        ("p3", "P", True, 0.0, 0.0, 0.0, False, 0, 9.0),
        ("n1", "A", False, 5000.0, 500.0, 0.95, True, 3, None),  # new account
    ]
    cols = [
        "golden_account_id",
        "tier",
        "in_control_group",
        "net_revenue_365d",
        "clv_12m",
        "p_alive",
        "has_paid_order",
        "orders_90d",
        "nps_avg_365d",
    ]
    return pd.DataFrame(rows, columns=cols)


def _previous() -> pd.DataFrame:
    rows = [
        ("c1", "C", False),
        ("c2", "C", False),
        ("c3", "C", False),
        ("c4", "C", False),
        ("c5", "C", True),
        ("c6", "C", True),
        ("p1", "P", False),
        ("p2", "P", False),
        ("p3", "P", True),
        ("b1", "B", False),  # deleted since: leaves the cohort
    ]
    return pd.DataFrame(rows, columns=["golden_account_id", "tier", "in_control_group"])


def _kpis(previous: pd.DataFrame | None) -> pd.DataFrame:
    out = compute_tier_kpis(
        _current(),
        previous,
        TIERS,
        "P",
        snapshot_id="s2",
        as_of=date(2025, 6, 8),
        previous_snapshot_id="s1" if previous is not None else None,
        policy_version="v1",
    )
    return out.set_index(["tier", "treatment_group"])


def test_state_measures_by_tier_and_group():
    k = _kpis(_previous())
    assert [*k.index.names, *k.columns] == ["tier", "treatment_group"] + [
        c for c, _ in KPI_COLUMNS if c not in ("tier", "treatment_group")
    ]
    assert list(k.index) == [(t, g) for t in TIERS for g in ("treated", "control")]
    assert k["accounts"].to_dict() == {
        ("A", "treated"): 1,
        ("A", "control"): 0,
        ("B", "treated"): 1,
        ("B", "control"): 0,
        ("C", "treated"): 4,
        ("C", "control"): 2,
        ("P", "treated"): 1,
        ("P", "control"): 1,
    }
    ct, cc = k.loc[("C", "treated")], k.loc[("C", "control")]
    assert ct["net_revenue_365d_sum"] == pytest.approx(1000.0)
    assert ct["net_revenue_365d_mean"] == pytest.approx(250.0)
    assert ct["clv_12m_mean"] == pytest.approx(25.0)
    assert ct["p_alive_mean"] == pytest.approx((0.9 + 0.5 + 0.1 + 0.7) / 4)
    assert cc["clv_12m_mean"] == pytest.approx(5.0)  # missing CLV ignored, not zero
    # NPS: treated C has c1 (8) and p1 (6) of 4 accounts; control C has c5 (5) of 2.
    assert (ct["nps_mean"], ct["nps_responders"], ct["nps_coverage"]) == (7.0, 2, 0.5)
    assert (cc["nps_mean"], cc["nps_responders"], cc["nps_coverage"]) == (5.0, 1, 0.5)
    assert ct["nps_diff_vs_control"] == pytest.approx(2.0)
    assert cc["nps_diff_vs_control"] == pytest.approx(2.0)
    # An empty group has zero accounts and null means, and so no difference.
    ac = k.loc[("A", "control")]
    assert ac["net_revenue_365d_sum"] == 0.0 and pd.isna(ac["net_revenue_365d_mean"])
    assert pd.isna(k.loc[("A", "treated"), "nps_diff_vs_control"])
    assert (k["snapshot_id"] == "s2").all() and (k["previous_snapshot_id"] == "s1").all()


def test_retention_and_conversion_follow_the_previous_cohort():
    k = _kpis(_previous())
    ct, cc = k.loc[("C", "treated")], k.loc[("C", "control")]
    # Cohort C treated was c1..c4 (c3 promoted since, still counted): c1 and c3 ordered.
    assert (ct["previous_accounts"], ct["retained_accounts"]) == (4, 2)
    assert ct["retention_rate"] == pytest.approx(0.5)
    assert (cc["previous_accounts"], cc["retained_accounts"]) == (2, 0)
    assert cc["retention_rate"] == pytest.approx(0.0)
    assert ct["retention_diff_vs_control"] == pytest.approx(0.5)
    # Prospects: p1 converted (treated), p2 did not; p3 (control) did not.
    pt, pc = k.loc[("P", "treated")], k.loc[("P", "control")]
    assert (pt["previous_accounts"], pt["converted_accounts"]) == (2, 1)
    assert pt["prospect_conversion_rate"] == pytest.approx(0.5)
    assert pc["prospect_conversion_rate"] == pytest.approx(0.0)
    assert pt["conversion_diff_vs_control"] == pytest.approx(0.5)
    # Retention is not defined for prospects, conversion only for prospects.
    assert pd.isna(pt["retention_rate"]) and pd.isna(pt["retained_accounts"])
    assert pd.isna(ct["prospect_conversion_rate"]) and pd.isna(ct["converted_accounts"])
    # b1 was B and no longer exists: not in the denominator, so no rate at all.
    bt = k.loc[("B", "treated")]
    assert bt["previous_accounts"] == 0 and pd.isna(bt["retention_rate"])
    assert k["previous_accounts"].sum() == 9


def test_control_flag_comes_from_the_previous_run():
    previous = _previous()
    previous.loc[previous["golden_account_id"] == "c1", "in_control_group"] = True
    k = _kpis(previous)
    # c1 (retained) now counts in the control cohort although it is treated today.
    assert k.loc[("C", "control"), "previous_accounts"] == 3
    assert k.loc[("C", "control"), "retention_rate"] == pytest.approx(1 / 3)
    assert k.loc[("C", "treated"), "retention_rate"] == pytest.approx(1 / 3)
    assert k.loc[("C", "treated"), "accounts"] == 4


def test_first_run_has_no_outcomes():
    for previous in (None, _previous().iloc[0:0]):
        k = _kpis(previous)
        assert len(k) == 8
        assert (k["previous_accounts"] == 0).all()
        for col in ("retention_rate", "prospect_conversion_rate", "retention_diff_vs_control"):
            assert k[col].isna().all(), col
        assert k.loc[("C", "treated"), "accounts"] == 4
        assert k.loc[("C", "treated"), "nps_diff_vs_control"] == pytest.approx(2.0)


def test_tier_outside_the_policy_is_kept():
    previous = _previous()
    previous.loc[previous["golden_account_id"] == "c1", "tier"] = "D"
    k = _kpis(previous)
    assert list(k.index.get_level_values(0).unique()) == TIERS + ["D"]
    assert k.loc[("D", "treated"), "previous_accounts"] == 1
    assert k.loc[("D", "treated"), "accounts"] == 0
    assert k.loc[("D", "treated"), "retention_rate"] == pytest.approx(1.0)


# --- the asset ------------------------------------------------------------------------------

N_PAYING, N_PROSPECTS = 24, 16


def _world(day: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Scores and a tiny feature table; on day 2 every third prospect has converted."""
    n = N_PAYING + N_PROSPECTS
    paid = np.arange(n) < N_PAYING
    if day == 2:
        paid |= np.arange(n) % 3 == 0
    rows = [
        {"has_paid_order": bool(p), "net_revenue_365d": 100.0 * i if p else 0.0}
        for i, p in enumerate(paid)
    ]
    scores = make_scores(rows)
    rng = np.random.default_rng(day)
    profile = pd.DataFrame(
        {
            "golden_account_id": scores["golden_account_id"],
            "orders_90d": np.where(paid, rng.integers(0, 3, n), 0),
            "nps_avg_365d": np.where(rng.random(n) < 0.5, rng.integers(0, 11, n), np.nan),
        }
    )
    return scores, profile


def test_asset_definition():
    assert tier_kpis.key == AssetKey(["tiers", "tier_kpis"]) == TIER_KPIS_KEY
    assert AssetKey(["tiers", "customer_tier"]) in tier_kpis.dependency_keys
    assert tier_kpis.group_names_by_key[tier_kpis.key] == "tiering"
    assert tier_kpis in tiering_assets and customer_tier in tiering_assets
    from pipelines.publish.assets import tier_snapshot

    assert TIER_KPIS_KEY in tier_snapshot.dependency_keys


def test_materialize_two_runs_and_a_rerun(tmp_path, monkeypatch):
    policy_file = tmp_path / "policy.yaml"
    data = policy_data(version="kpi-test", holdout={"salt": "kpi", "share": {"C": 0.5, "P": 0.5}})
    data["hysteresis"].update(min_dwell_days=0, downgrade_grace_days=0)
    policy_file.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    monkeypatch.setenv("STRATUM_DATA_DIR", str(tmp_path / "data"))
    db = tmp_path / "wh.duckdb"
    resources = {
        "warehouse": Warehouse(path=str(db)),
        "run": RunContextResource(tier_policy=str(policy_file)),
    }

    scores1, profile1 = _world(1)
    write_tables(db, {"scores.account_scores": scores1, "features.account_features": profile1})
    first = materialize([customer_tier, tier_kpis], resources=resources, partition_key="2025-06-01")
    assert first.success
    tiers1 = query(db, "select golden_account_id, tier, in_control_group from tiers.customer_tier")
    assert tiers1.groupby("tier")["in_control_group"].agg(["any", "all"]).loc[
        ["C", "P"]
    ].values.tolist() == [[True, False], [True, False]]  # both groups present
    kpis1 = query(db, "select * from tiers.tier_kpis")
    assert len(kpis1) == 8 and kpis1["previous_snapshot_id"].isna().all()
    assert kpis1["retention_rate"].isna().all()
    assert kpis1["accounts"].sum() == N_PAYING + N_PROSPECTS
    meta = first.asset_materializations_for_node("tiers__tier_kpis")[0].metadata
    assert "| C | control |" in meta["tier_kpis"].value
    assert meta["previous_snapshot_id"].value == "none"
    publish_tier_table(db, tmp_path / "data" / "serving", first.run_id)

    scores2, profile2 = _world(2)
    write_tables(db, {"scores.account_scores": scores2, "features.account_features": profile2})
    second = materialize(
        [customer_tier, tier_kpis], resources=resources, partition_key="2025-06-08"
    )
    assert second.success
    kpis = query(db, "select * from tiers.tier_kpis order by as_of_date, tier, treatment_group")
    assert kpis["snapshot_id"].nunique() == 2 and len(kpis) == 16  # history kept
    snap1 = kpis1["snapshot_id"].iloc[0]
    now = kpis[kpis["as_of_date"] == pd.Timestamp("2025-06-08")].set_index(
        ["tier", "treatment_group"]
    )
    assert (now["previous_snapshot_id"] == snap1).all()

    # Expected outcomes, from the first run's tiers and the second day's profile.
    cohort = tiers1.merge(
        profile2.merge(scores2[["golden_account_id", "has_paid_order"]]), on="golden_account_id"
    )
    cohort["group"] = np.where(cohort["in_control_group"], "control", "treated")
    for (tier, group), part in cohort.groupby(["tier", "group"]):
        row = now.loc[(tier, group)]
        assert row["previous_accounts"] == len(part)
        if tier == "P":
            assert row["prospect_conversion_rate"] == pytest.approx(part["has_paid_order"].mean())
        else:
            assert row["retention_rate"] == pytest.approx((part["orders_90d"] > 0).mean())
    p = now.loc["P"]
    assert p.loc["treated", "prospect_conversion_rate"] > 0
    assert now.loc[("P", "treated"), "conversion_diff_vs_control"] == pytest.approx(
        p.loc["treated", "prospect_conversion_rate"] - p.loc["control", "prospect_conversion_rate"]
    )

    # A new run of only the KPI step must not label the second run's tiers as its own.
    again = materialize(
        [customer_tier, tier_kpis],
        resources=resources,
        selection=[TIER_KPIS_KEY],
        partition_key="2025-06-08",
        raise_on_error=False,
    )
    assert not again.success
    assert len(query(db, "select * from tiers.tier_kpis")) == 16

    # Rerunning the date (tier and KPI steps) compares with the published first snapshot again.
    rerun = materialize([customer_tier, tier_kpis], resources=resources, partition_key="2025-06-08")
    assert rerun.success
    kpis_rerun = query(db, "select * from tiers.tier_kpis where snapshot_id like ?",
                       [f"%{rerun.run_id[:8]}"])  # fmt: skip
    assert len(kpis_rerun) == 8 and (kpis_rerun["previous_snapshot_id"] == snap1).all()
    assert kpis_rerun["previous_accounts"].sum() == N_PAYING + N_PROSPECTS
