"""Scores and identity resolution judged against the generator's ground truth.

The generator knows what the pipeline can only estimate: which CRM records are the same company,
each company's hidden value, its next-12-month revenue and orders, and every lead's true
conversion probability. These tests read the first run's immutable snapshot and the identity
map (no extra pipeline runs), print each figure (visible with ``pytest -s``) and assert floors
that a broken implementation would not reach. Scores are judged against their naive baselines
on the same truth (relative floors); identity resolution against measured values with margin.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from scipy.stats import spearmanr
from sklearn.metrics import brier_score_loss, roc_auc_score

from pipelines.scoring.abc import AbcConfig
from pipelines.scoring.models.metrics import top_k_capture
from tests.config_files import load_config
from tests.conftest import REPO_ROOT, PipelineWorld
from tests.integration.conftest import warehouse

pytestmark = pytest.mark.integration


# --- Loading ------------------------------------------------------------------------------------


def _warehouse_query(world: PipelineWorld, sql: str) -> pd.DataFrame:
    """Run one read-only query on the warehouse and close at once (other modules write to it)."""
    con = warehouse(world)
    try:
        return con.execute(sql).df()
    finally:
        con.close()


def pair_counts(records: pd.DataFrame) -> tuple[int, int, int]:
    """(predicted, true, correct) pairs of records: same golden id / same true company / both."""

    def pairs(sizes: pd.Series) -> int:
        n = sizes.to_numpy(dtype=np.int64)
        return int((n * (n - 1) // 2).sum())

    return (
        pairs(records.groupby("golden_account_id").size()),
        pairs(records.groupby("true_company_id").size()),
        pairs(records.groupby(["golden_account_id", "true_company_id"]).size()),
    )


def truth_by_golden(records: pd.DataFrame) -> pd.DataFrame:
    """Company-level truth summed per golden account (each true company counted once).

    A correctly merged duplicate adds nothing; a wrong merge adds the other company's truth,
    which is what the golden account's scores then have to answer for.
    """
    companies = records.drop_duplicates(["golden_account_id", "true_company_id"])
    # The segment of the golden account is that of its most valuable company.
    top = companies.sort_values("true_value", ascending=False).drop_duplicates("golden_account_id")
    out = companies.groupby("golden_account_id").agg(
        true_value=("true_value", "sum"),
        future_orders_365d=("future_orders_365d", "sum"),
        future_net_revenue_365d=("future_net_revenue_365d", "sum"),
        churned_before_as_of=("churned_before_as_of", "all"),
        companies=("true_company_id", "size"),
    )
    out["true_segment"] = top.set_index("golden_account_id")["true_segment"]
    # The generator's future_churn (a paying company with no paid order in the next 365 days),
    # applied to the golden account as a whole.
    out["future_churn"] = out["future_orders_365d"] == 0
    return out


@pytest.fixture(scope="module")
def records(world, first_run) -> pd.DataFrame:
    """CRM records present in the identity map, with their ground truth (hand cases have none)."""
    identity = _warehouse_query(
        world, "select account_id, golden_account_id from intermediate.int_account_identity_map"
    )
    truth = pd.read_parquet(world.truth / "accounts.parquet")
    return identity.merge(truth, on="account_id", how="inner", validate="one_to_one")


@pytest.fixture(scope="module")
def snapshot(first_run) -> pd.DataFrame:
    return pd.read_parquet(first_run["parquet"]).set_index("golden_account_id")


@pytest.fixture(scope="module")
def scored(snapshot, records) -> pd.DataFrame:
    """Snapshot rows of generated accounts joined to their per-golden-account truth."""
    return snapshot.join(truth_by_golden(records), how="inner")


# --- Identity resolution ------------------------------------------------------------------------


def test_identity_resolution_pairwise_precision_and_recall(records):
    predicted, true, correct = pair_counts(records)
    precision = correct / predicted if predicted else 0.0
    recall = correct / true if true else 0.0
    print(
        f"\nidentity: {len(records)} records, {records['golden_account_id'].nunique()} golden, "
        f"{records['true_company_id'].nunique()} true companies; pairs predicted={predicted} "
        f"true={true} correct={correct}; precision={precision:.3f} recall={recall:.3f}"
    )
    # The world must contain duplicates for this to mean anything.
    assert true >= 15
    assert precision >= 0.95
    assert recall >= 0.85


def test_similar_name_companies_are_never_merged(records):
    lookalikes = records[records["duplicate_kind"] == "similar_name_distinct"]
    # Look-alike companies' golden accounts must hold records of one true company only.
    companies_per_golden = (
        records[records["golden_account_id"].isin(lookalikes["golden_account_id"])]
        .groupby("golden_account_id")["true_company_id"]
        .nunique()
    )
    merged = companies_per_golden[companies_per_golden > 1]
    print(
        f"\nlook-alike records: {len(lookalikes)} of {lookalikes['true_company_id'].nunique()} "
        f"companies, in {lookalikes['golden_account_id'].nunique()} golden accounts; "
        f"wrongly merged golden accounts: {len(merged)}"
    )
    assert len(lookalikes) >= 10
    assert merged.empty, records[records["golden_account_id"].isin(merged.index)]
    # Each look-alike company is its own golden account: every must-not-merge pair stayed apart.
    assert lookalikes["golden_account_id"].nunique() == lookalikes["true_company_id"].nunique()


# --- Value and churn ----------------------------------------------------------------------------
# Each published score must beat its naive baseline on the generator's held-out truth (what
# happens in the year after the as-of date), and tier order must capture at least as much of
# next year's revenue as the best single score at the same size.


@pytest.fixture(scope="module")
def features(world, first_run) -> pd.DataFrame:
    return _warehouse_query(
        world,
        "select golden_account_id, days_since_last_order, leads_open, "
        "has_converted_lead_without_order from features.account_features",
    ).set_index("golden_account_id")


def test_tier_order_captures_next_years_revenue_like_the_best_single_score(scored):
    paying = scored[scored["has_paid_order"]]
    outcome = paying["future_net_revenue_365d"].to_numpy(float)
    tier_order = -paying["tier"].map({"A": 0, "B": 1, "C": 2}).to_numpy(float)
    figures = {
        name: top_k_capture(score, outcome, 0.2)
        for name, score in {
            "tier order": tier_order,
            "expected value": paying["expected_value_12m"].to_numpy(float),
            "CLV alone": paying["clv_12m"].to_numpy(float),
            "trailing revenue": paying["net_revenue_365d"].to_numpy(float),
        }.items()
    }
    rho = spearmanr(paying["expected_value_12m"].fillna(0), outcome).statistic
    rho_naive = spearmanr(paying["net_revenue_365d"], outcome).statistic
    print(
        f"\ntop-20% capture of next year's revenue, {len(paying)} paying accounts: "
        + ", ".join(f"{k} {v:.3f}" for k, v in figures.items())
        + f"; Spearman expected value {rho:.3f} vs trailing revenue {rho_naive:.3f}"
    )
    assert len(paying) >= 300
    # Tier order is the expected value's order at the tiers' sizes (A 5% + B 15% = 20%), with
    # the accounts a risk gate holds back moved below (up to the odd account at the cut: the
    # tiers' sizes are rounded up, and hand-made accounts without truth are left out here).
    gated = paying["rule_fired"].fillna("").str.startswith("risk_gate").to_numpy()
    held_back = np.where(gated, -np.inf, paying["expected_value_12m"].fillna(-1).to_numpy(float))
    figures["expected value, gated held back"] = top_k_capture(held_back, outcome, 0.2)
    assert figures["tier order"] == pytest.approx(
        figures["expected value, gated held back"], abs=0.01
    )
    # The expected value itself ranks at least as well as the better of its inputs, and better
    # than trailing revenue over the whole order.
    best_single = max(figures["CLV alone"], figures["trailing revenue"])
    assert figures["expected value"] >= best_single - 0.02
    # On this small world the contest may crown the naive baseline itself (ties go to the
    # simpler); the published value never ranks clearly worse than it.
    assert rho >= rho_naive - 0.02
    print(
        "with the gate's accounts held back: " + f"{figures['expected value, gated held back']:.3f}"
    )


def test_churn_risk_beats_days_since_last_order(scored, features):
    bought = scored[scored["has_paid_order"]].join(features["days_since_last_order"])
    auc = roc_auc_score(bought["future_churn"], bought["churn_risk"])
    naive = roc_auc_score(bought["future_churn"], bought["days_since_last_order"])
    active = bought[~bought["churned_before_as_of"]]
    auc_active = roc_auc_score(active["future_churn"], active["churn_risk"])
    naive_active = roc_auc_score(active["future_churn"], active["days_since_last_order"])
    print(
        f"\nchurn risk vs future churn: AUC {auc:.3f} (days since last order {naive:.3f}) over "
        f"{len(bought)} buyers ({int(bought['future_churn'].sum())} churn); among those not "
        f"churned before as_of {auc_active:.3f} (recency {naive_active:.3f})"
    )
    # Every buyer has a churn risk: the score may not silently skip customers.
    assert bought["churn_risk"].notna().all()
    assert bought["future_churn"].sum() >= 30
    # The contest may publish the naive baseline (calibrated) when nothing beats it on this
    # world's history; what is published never loses to it by more than the WARN tolerance.
    assert auc >= naive - 0.01


# --- Conversion ---------------------------------------------------------------------------------


def test_conversion_probability_beats_the_base_rate_and_is_calibrated(world, scored, features):
    """Prospects as of the date: did they place a first paid order in the next year?"""
    prospects = scored[~scored["has_paid_order"]].join(features)
    converted = (prospects["future_orders_365d"] > 0).to_numpy()
    p = prospects["conversion_probability"].to_numpy(float)
    rate = converted.mean()
    auc = roc_auc_score(converted, p)
    brier, brier_base = (
        brier_score_loss(converted, p),
        brier_score_loss(converted, np.full(len(p), rate)),
    )
    lead = (prospects["leads_open"] > 0) | prospects["has_converted_lead_without_order"]
    print(
        f"\nconversion of {len(prospects)} prospects ({int(converted.sum())} converted): AUC "
        f"{auc:.3f} (has open lead {roc_auc_score(converted, lead):.3f}); Brier {brier:.4f} vs "
        f"base rate {brier_base:.4f}; mean predicted {p.mean():.3f} vs observed {rate:.3f}; "
        f"models {sorted(set(prospects['conversion_source']))}"
    )
    assert len(prospects) >= 100 and converted.sum() >= 10
    assert np.isfinite(p).all()
    assert auc >= 0.5 + 0.1
    assert auc >= roc_auc_score(converted, lead) - 0.01
    # Calibrated on the prospects of a year earlier: where this year's rate moved away from
    # that year's (on this small world: 5% observed, 13% predicted) the Brier score is printed,
    # not floored; on the 5,000-account worlds it beats the base rate (docs/architecture.md).


def test_lead_conversion_model_holdout_auc(world, first_run):
    """The lead-level model (scores/conversion_model) still trains and reports honestly."""
    meta = _conversion_metadata(first_run)
    version = meta["model_version"]
    print(f"\nlead conversion model: {version}; status: {meta['model_status']}")
    if version == "none (fit fallback)":
        assert "no model trained" in meta["model_status"]
        return
    card = json.loads(
        (world.data_dir / "models" / "conversion" / version / "card.json").read_text()
    )
    auc = card["metrics"]["roc_auc"]
    assert meta["roc_auc"] == pytest.approx(auc)
    assert card["n_holdout"] >= 100
    assert (
        card["training_window"]["holdout_from"] > card["training_window"]["first_lead_created_at"]
    )
    assert auc >= 0.6


def _conversion_metadata(first_run) -> dict:
    """Metadata of the lead model's training step."""
    for event in first_run["result"].all_events:
        key = event.asset_key.path if event.event_type_value == "ASSET_MATERIALIZATION" else None
        if key == ["scores", "conversion_model"]:
            metadata = event.event_specific_data.materialization.metadata
            return {k: getattr(v, "value", v) for k, v in metadata.items()}
    raise AssertionError("no materialization of scores/conversion_model")


# --- ABC and tiers ------------------------------------------------------------------------------


def test_abc_a_share_is_near_the_configured_cut(snapshot):
    cfg, _ = load_config(AbcConfig, REPO_ROOT / "config" / "scoring" / "abc.yaml")
    revenue = snapshot["net_revenue_365d"].clip(lower=0)
    share = revenue[snapshot["abc_class"] == "A"].sum() / revenue.sum()
    largest = revenue.max() / revenue.sum()
    cut = cfg.cuts.A / 100
    print(
        f"\nABC: {int((snapshot['abc_class'] == 'A').sum())} A accounts hold {share:.3f} of "
        f"trailing-12-month revenue (cut {cut:.2f})"
    )
    # A runs up to and including the account that crosses the cut, so the share lies in
    # [cut, cut + that account's share); bounded loosely by the largest account's share.
    assert cut <= share <= min(cut + largest, cut + 0.05) + 1e-9


def test_strategic_accounts_sit_in_top_tiers(scored):
    strategic = scored[scored["true_segment"] == "strategic"]
    top = strategic["tier"].isin(["A", "B"])
    # Legitimately below A/B: customers that stopped buying before as_of, and the risk gate's
    # caps. Every other strategic account must be A or B.
    excused = strategic["churned_before_as_of"] | strategic["risk_flag"].fillna("").str.startswith(
        "cap"
    )
    print(
        f"\nstrategic accounts: {len(strategic)}, {top.mean():.2%} in tier A/B; "
        f"tiers {strategic['tier'].value_counts().to_dict()}; "
        f"outside A/B: {strategic.loc[~top, ['tier', 'rule_fired', 'risk_flag']].to_dict('index')}"
    )
    assert len(strategic) >= 15
    assert top.mean() >= 0.75
    assert top[~excused].mean() >= 0.9


def test_mean_true_value_falls_from_tier_a_to_c(scored):
    means = scored.groupby("tier")["true_value"].mean()
    print(f"\nmean true value by tier: {means.round(0).to_dict()}")
    assert means["A"] > means["B"] > means["C"]
    # Not a coin toss between neighbours: A is worth clearly more than B, B than C.
    assert means["A"] >= 1.5 * means["B"] and means["B"] >= 1.5 * means["C"]
