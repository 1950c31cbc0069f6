"""Scores and identity resolution judged against the generator's ground truth.

The generator knows what the pipeline can only estimate: which CRM records are the same company,
each company's hidden value, its next-12-month revenue and orders, and every lead's true
conversion probability. These tests read the first run's immutable snapshot and the identity
map (no extra pipeline runs), print each figure (visible with ``pytest -s``) and assert floors
that a broken implementation would not reach. Floors were set from measured values on this
world (seed 11) with margin, and all sit clearly above chance.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from scipy.stats import spearmanr
from sklearn.metrics import roc_auc_score

from pipelines.scoring.abc import AbcConfig
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


def test_predicted_clv_ranks_true_future_revenue(scored):
    paying = scored[scored["has_paid_order"]]
    rho = spearmanr(paying["clv_12m"], paying["future_net_revenue_365d"]).statistic
    print(
        f"\nCLV 12m vs true future net revenue, {len(paying)} paying accounts: Spearman {rho:.3f}"
    )
    assert len(paying) >= 300
    assert rho >= 0.6


def test_churn_risk_predicts_future_churn(scored):
    bought = scored[scored["has_paid_order"] & scored["churn_risk"].notna()]
    auc = roc_auc_score(bought["future_churn"], bought["churn_risk"])
    # Harder: churners that still looked active (not already gone before as_of).
    active = bought[~bought["churned_before_as_of"]]
    auc_active = roc_auc_score(active["future_churn"], active["churn_risk"])
    print(
        f"\nchurn risk vs future churn: AUC {auc:.3f} over {len(bought)} buyers "
        f"({int(bought['future_churn'].sum())} churn); "
        f"{auc_active:.3f} among those not churned before as_of "
        f"({int(active['future_churn'].sum())} churn of {len(active)})"
    )
    # Every buyer must have a P(alive): the score may not silently skip customers.
    assert len(bought) == int(scored["has_paid_order"].sum())
    assert bought["future_churn"].sum() >= 30
    # Behaviour before as_of barely hints at a stop still to come (the generator draws future
    # stops from hidden traits), so the AUC among still-active buyers is printed, not floored.
    assert auc >= 0.7


# --- Conversion ---------------------------------------------------------------------------------


def _conversion_metadata(first_run) -> dict:
    """Metadata of the model step (status, holdout metrics) and of the scoring step (the
    version it scored with), merged."""
    found = {}
    for event in first_run["result"].all_events:
        key = event.asset_key.path if event.event_type_value == "ASSET_MATERIALIZATION" else None
        if key in (["scores", "conversion_model"], ["scores", "conversion"]):
            metadata = event.event_specific_data.materialization.metadata
            found[key[-1]] = {k: getattr(v, "value", v) for k, v in metadata.items()}
    assert set(found) == {"conversion_model", "conversion"}, sorted(found)
    return {**found["conversion_model"], **found["conversion"]}


def _conversion_version(snapshot: pd.DataFrame) -> str:
    versions = dict(
        part.split("=", 1) for part in str(snapshot["model_version"].iloc[0]).split(";")
    )
    return versions["conversion"]


def test_conversion_model_holdout_auc(world, first_run, snapshot):
    meta = _conversion_metadata(first_run)
    version = _conversion_version(snapshot)
    sources = set(snapshot["conversion_source"])
    print(f"\nconversion: {version}; sources {sorted(sources)}; status: {meta['model_status']}")
    assert meta["model_version"] == version
    if version == "fit_fallback":
        # Too few converted leads: the run must say so instead of inventing a model.
        assert sources == {"fit_fallback"}
        assert "no model trained" in meta["model_status"]
        return
    card_path = world.data_dir / "models" / "conversion" / version / "card.json"
    card = json.loads(card_path.read_text())
    auc = card["metrics"]["roc_auc"]
    print(
        f"holdout ROC AUC {auc:.3f} on {card['n_holdout']} leads created from "
        f"{card['training_window']['holdout_from']} (trained on {card['n_train']})"
    )
    assert sources == {"model"}
    assert card["model_version"] == version
    assert meta["roc_auc"] == pytest.approx(auc)
    assert card["n_holdout"] >= 100
    # The holdout must be the most recent leads (a time split), not a random sample.
    assert (
        card["training_window"]["holdout_from"] > card["training_window"]["first_lead_created_at"]
    )
    assert auc >= 0.6


def test_conversion_probability_ranks_prospects_true_propensity(world, first_run, snapshot):
    leads = _warehouse_query(
        world, "select lead_id, golden_account_id, created_at from marts.leads"
    ).merge(pd.read_parquet(world.truth / "leads.parquet"), on="lead_id", how="inner")
    # An account is scored as a lead arriving today from its latest lead's source; the truth of
    # that lead is the latest lead's probability (firmographics and propensity are per company).
    latest = (
        leads.sort_values(["created_at", "lead_id"])
        .groupby("golden_account_id")["true_conversion_probability"]
        .last()
        .rename("latest")
    )
    mean = leads.groupby("golden_account_id")["true_conversion_probability"].mean().rename("mean")
    prospects = snapshot[~snapshot["has_paid_order"]].join([latest, mean], how="inner")
    rho = spearmanr(prospects["conversion_probability"], prospects["latest"]).statistic
    rho_mean = spearmanr(prospects["conversion_probability"], prospects["mean"]).statistic
    print(
        f"\nconversion probability vs true propensity, {len(prospects)} prospects with leads: "
        f"Spearman {rho:.3f} (latest lead), {rho_mean:.3f} (mean over leads); "
        f"source {sorted(set(prospects['conversion_source']))}"
    )
    assert len(prospects) >= 100
    if set(prospects["conversion_source"]) == {"fit_fallback"}:
        # No model (test_conversion_model_holdout_auc checks the run says so): the fit score
        # stands in, exactly as documented.
        assert np.allclose(prospects["conversion_probability"], prospects["fit_score"] / 100)
    else:
        # Measured 0.58 (0.53 on average over model seeds); 0.45 leaves room for seed noise.
        assert rho >= 0.45


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
