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


def _share_of_top(score: np.ndarray, outcome: np.ndarray, n: int) -> float:
    """Share of the (non-negative) outcome held by the ``n`` rows ranked first by ``score``."""
    order = np.argsort(-score, kind="stable")
    return float(outcome[order[:n]].clip(min=0).sum() / outcome.clip(min=0).sum())


@pytest.fixture(scope="module")
def value_figures(scored) -> dict:
    """Top-20% capture of next year's revenue by tier order and by each single score, and the
    same at the tiers' own sizes (printed; the tests below assert on them)."""
    paying = scored[scored["has_paid_order"]]
    outcome = paying["future_net_revenue_365d"].to_numpy(float)
    tier_order = -paying["tier"].map({"A": 0, "B": 1, "C": 2}).to_numpy(float)
    scores = {
        "expected value": paying["expected_value_12m"].fillna(-1).to_numpy(float),
        "CLV alone": paying["clv_12m"].fillna(-1).to_numpy(float),
        "trailing revenue": paying["net_revenue_365d"].to_numpy(float),
    }
    figures = {"tier order": top_k_capture(tier_order, outcome, 0.2)}
    figures.update({name: top_k_capture(score, outcome, 0.2) for name, score in scores.items()})
    rho = spearmanr(scores["expected value"], outcome).statistic
    rho_naive = spearmanr(scores["trailing revenue"], outcome).statistic
    # At the tiers' own sizes (quotas are rounded to whole accounts, and hand-made accounts
    # without truth are left out here). A + B: the risk gate caps at B, so A + B is the expected
    # value's top at that size, gated accounts included. A alone: a gated account is kept out of
    # A by a business rule, not a prediction, so it is moved below in every ranking alike.
    gated = paying["rule_fired"].fillna("").str.startswith("risk_gate").to_numpy()
    top = int(paying["tier"].isin(["A", "B"]).sum())
    top_a = int((paying["tier"] == "A").sum())
    at_size = {"tier A+B": _share_of_top(tier_order, outcome, top)}
    at_size.update({name: _share_of_top(score, outcome, top) for name, score in scores.items()})
    at_a = {"tier A": _share_of_top(tier_order, outcome, top_a)}
    for name, score in scores.items():
        at_a[name] = _share_of_top(np.where(gated, -np.inf, score), outcome, top_a)
    print(
        f"\ntop-20% capture of next year's revenue, {len(paying)} paying accounts: "
        + ", ".join(f"{k} {v:.3f}" for k, v in figures.items())
        + f"; Spearman expected value {rho:.3f} vs trailing revenue {rho_naive:.3f}"
        + f"\nat the tiers' size ({top} accounts in A+B): "
        + ", ".join(f"{k} {v:.4f}" for k, v in at_size.items())
        + f"\nat A's size ({top_a} accounts, {int(gated.sum())} held back by the risk gate in "
        + "every ranking): "
        + ", ".join(f"{k} {v:.4f}" for k, v in at_a.items())
    )
    assert len(paying) >= 300 and gated.sum() >= 1
    assert (paying.loc[gated, "tier"] == "B").all()
    return {"top 20%": figures, "A+B": at_size, "A": at_a}


def test_tier_order_captures_next_years_revenue_like_the_expected_value(value_figures):
    figures = value_figures["top 20%"]
    # The contest is decided on top-20% capture, the measure tiers are made of: the published
    # expected value is never below CLV alone (no tolerance). Spearman over the whole order is
    # printed, not floored (the contest does not optimise it).
    assert figures["expected value"] >= figures["CLV alone"]
    # Tier order is the expected value's order at the tiers' sizes: A+B (and A, under the gate)
    # hold exactly what the expected value's top holds (up to float summation).
    for tiers, first in (("tier A+B", "A+B"), ("tier A", "A")):
        figure = value_figures[first]
        assert figure[tiers] == pytest.approx(figure["expected value"], rel=1e-12), first
        assert figure[tiers] >= figure["CLV alone"] * (1 - 1e-12), first


@pytest.mark.xfail(
    strict=True,
    reason="on this 1,000-account world's history gradient boosting and the blend (capture 0.873 "
    "and 0.874) are within the tie tolerance of trailing revenue (0.870), so trailing revenue "
    "is published and tier order is its order: 0.882 = 0.882 at 20%, 0.603 = 0.603 at A's size, "
    "never strictly better; on the 5,000- and 20,000-account worlds tier order beats both single "
    "scores (docs/architecture.md)",
)
def test_tier_order_captures_next_years_revenue_like_the_best_single_score(value_figures):
    figures = value_figures["top 20%"]
    assert figures["expected value"] > figures["trailing revenue"]
    for tiers, first in (("tier A+B", "A+B"), ("tier A", "A")):
        figure = value_figures[first]
        best_single = max(figure["CLV alone"], figure["trailing revenue"])
        assert figure[tiers] >= best_single * (1 - 1e-12), first


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
    # The published churn score beats days since the last order on next year's truth (no
    # tolerance; the contest's own decision is checked below on the history it saw).
    assert auc > naive
    # Among customers still buying at as_of, where churn is announced by fading orders,
    # engagement, NPS and risk rather than by a long silence, by the issue's margin.
    assert active["future_churn"].sum() >= 10
    assert auc_active >= naive_active + 0.03


@pytest.mark.xfail(
    strict=True,
    reason="issue 12's bar (churn AUC >= recency + 0.03) is not met on the generator's worlds "
    "since their churn is one process before and after as_of (2026-12-03): here 0.961 vs 0.936, "
    "on the 5,000- and 20,000-account worlds +0.022 to +0.027; most of next year's churners "
    "had already stopped by as_of, and an observer who knew which (a state no data shows) "
    "reaches 0.971 here and only +0.028 to +0.032 over recency on the 5,000- and "
    "20,000-account worlds (docs/architecture.md)",
)
def test_churn_risk_beats_days_since_last_order_by_the_issues_margin(scored, features):
    bought = scored[scored["has_paid_order"]].join(features["days_since_last_order"])
    auc = roc_auc_score(bought["future_churn"], bought["churn_risk"])
    naive = roc_auc_score(bought["future_churn"], bought["days_since_last_order"])
    knowing = roc_auc_score(
        bought["future_churn"], bought["churned_before_as_of"] * 2 + bought["churn_risk"]
    )
    print(f"\nchurn AUC {auc:.3f}, recency {naive:.3f}, knowing who had stopped {knowing:.3f}")
    assert auc >= naive + 0.03


# --- The model contest ---------------------------------------------------------------------------
# Where the test world is too small for a model to beat the naive baseline, the contest must
# say so honestly: the published candidate is the best on the model card's metric (a more
# complex one must beat every simpler one), the naive candidates' figures on the card are what
# the company's own history gives, and the published scores are the winner's.

NAIVE_ON_HISTORY = {
    # target: (naive candidate, its score on a window's rows, paying population)
    "value": ("trailing_revenue", lambda w: w["net_revenue_365d"].astype(float), True),
    "churn": (
        "days_since_last_order",
        lambda w: w["days_since_last_paid_order"].astype(float),
        True,
    ),
    "conversion": (
        "has_open_lead",
        lambda w: ((w["leads_open"].fillna(0) > 0) | w["has_converted_lead_without_order"]).astype(
            float
        ),
        False,
    ),
}


@pytest.fixture(scope="module")
def contest(world, first_run) -> dict:
    """The first run's model card, its judged window of account_windows, the predictions."""
    (version,) = _warehouse_query(world, "select distinct model_version from scores.model_contest")[
        "model_version"
    ]
    card = json.loads(
        (world.data_dir / "models" / "predictions" / version / "card.json").read_text()
    )
    judged = _warehouse_query(
        world,
        "select golden_account_id, has_paid_order, net_revenue_365d, days_since_last_paid_order, "
        "leads_open, has_converted_lead_without_order, next_net_revenue, next_paid_orders "
        "from features.account_windows where periods_back = 1 order by golden_account_id",
    )
    predictions = _warehouse_query(world, "select * from scores.predictions")
    return {"card": card, "judged": judged, "predictions": predictions.set_index(
        "golden_account_id")}  # fmt: skip


def _naive_metric_on_history(target: str, judged: pd.DataFrame) -> float:
    """The naive candidate's contest metric recomputed from the judged window (as-of - H, its
    outcomes up to as-of), independently of the contest's code."""
    _, score, paying = NAIVE_ON_HISTORY[target]
    rows = judged[judged["has_paid_order"].fillna(False) == paying]
    orders = rows["next_paid_orders"].fillna(0)
    if target == "value":
        outcome = rows["next_net_revenue"].fillna(0).clip(lower=0).to_numpy(float)
        # Top 20% by trailing revenue, ties in account order, as the card's capture_20.
        order = np.argsort(-score(rows).to_numpy(), kind="stable")
        return float(outcome[order[: int(round(0.2 * len(rows)))]].sum() / outcome.sum())
    label = orders == 0 if target == "churn" else orders > 0
    return float(roc_auc_score(label, score(rows)))


def test_each_contest_publishes_its_best_candidate_and_says_so(contest, snapshot):
    card, predictions = contest["card"], contest["predictions"]
    tolerance = card["tie_tolerance"]
    lines = []
    for target, entry in card["targets"].items():
        metric, rows = entry["metric"], entry["contest"]
        values = {r["candidate"]: r[metric] for r in rows if r[metric] is not None}
        names = [r["candidate"] for r in rows]  # simplest first
        winner = entry["winner"]
        lines.append(
            f"{target} ({metric}): "
            + ", ".join(f"{n} {values.get(n, float('nan')):.4f}" for n in names)
            + f" -> {winner}"
            + (f" [{entry['note']}]" if entry["note"] else "")
        )
        assert not entry["note"], entry["note"]  # the test world has history for a contest
        assert len(values) >= 3, rows  # naive baseline and at least two real candidates
        # Best, ties to the simpler: the winner beats every simpler candidate outright and no
        # more complex one beats it by more than the tie tolerance.
        at = names.index(winner)
        for name in names[:at]:
            assert values[winner] > values.get(name, -np.inf), (target, name)
        for name in names[at + 1 :]:
            assert values.get(name, -np.inf) <= values[winner] + tolerance, (target, name)
        # The naive candidate's figure on the card is what the history gives.
        naive, _, _ = NAIVE_ON_HISTORY[target]
        recomputed = _naive_metric_on_history(target, contest["judged"])
        assert values[naive] == pytest.approx(recomputed, abs=1e-9), (target, naive)
        # Every published prediction of the target is the winner's.
        assert set(predictions[f"{target}_model"].dropna()) == {winner}, target
    print("\nmodel contest on the history of the test world:\n  " + "\n  ".join(lines))
    # The snapshot publishes the predictions unchanged.
    published = snapshot.join(predictions, how="inner", rsuffix="_pred")
    for column, source in (
        ("expected_value_12m", "expected_value_12m_pred"),
        ("churn_risk", "churn_probability"),
        ("conversion_probability", "conversion_probability_pred"),
    ):
        pd.testing.assert_series_equal(
            published[column], published[source], check_names=False, obj=column
        )


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
    # Better than the base rate's ranking (a constant: AUC 0.5), no tolerance. Against "has an
    # open lead" and on Brier it does not win on this world: see the strict xfail below.
    assert auc > roc_auc_score(converted, np.full(len(p), rate))


@pytest.mark.xfail(
    strict=True,
    reason="on this 1,000-account world's next year the published conversion probability "
    "(gradient boosting, the contest's winner on the history) loses to 'has an open lead' (AUC "
    "0.633 vs 0.699) and to the base rate's Brier (0.064 vs 0.048: 17% predicted, 5% observed, "
    "the prospects' conversion rate falling from one year to the next); on the 5,000- and "
    "20,000-account worlds 'has an open lead' wins the contest, is published and beats the base "
    "rate's Brier (docs/architecture.md)",
)
def test_conversion_probability_beats_both_naive_baselines(scored, features):
    prospects = scored[~scored["has_paid_order"]].join(features)
    converted = (prospects["future_orders_365d"] > 0).to_numpy()
    p = prospects["conversion_probability"].to_numpy(float)
    lead = (prospects["leads_open"] > 0) | prospects["has_converted_lead_without_order"]
    assert roc_auc_score(converted, p) > roc_auc_score(converted, lead)
    assert brier_score_loss(converted, p) < brier_score_loss(
        converted, np.full(len(p), converted.mean())
    )


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
