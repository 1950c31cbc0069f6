"""The prediction models' metrics and contest rules, on small frames with known answers.

The contest on a generated world runs in tests/scoring/test_scoring_assets.py (the asset) and
is judged against the generator's truth in tests/integration/test_integration_truth.py.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import numpy as np
import pandas as pd
import pytest

from pipelines.scoring.models import _conversion_reasons, predict
from pipelines.scoring.models import metrics as m
from pipelines.scoring.models.contest import pick_winner, run_target
from pipelines.scoring.models.matrix import FEATURES, model_matrix, targets, vocabularies
from tests.config_files import run_context


def test_top_k_capture_counts_the_outcome_of_the_top_share_missing_last():
    score = np.array([5.0, np.nan, 3.0, 1.0, 4.0])
    outcome = np.array([10.0, 100.0, 0.0, 5.0, -3.0])  # negative outcomes count 0
    # top 40% = 2 rows: scores 5 and 4 -> 10 + 0 of 115
    assert m.top_k_capture(score, outcome, 0.4) == pytest.approx(10 / 115)
    assert m.top_k_capture(outcome, outcome, 0.2) == pytest.approx(100 / 115)
    assert np.isnan(m.top_k_capture(score, np.zeros(5), 0.2))


def test_auc_and_cross_fitted_calibration():
    rng = np.random.default_rng(1)
    score = rng.random(4000)
    label = (rng.random(4000) < score * 0.3).astype(int)  # true probability 0.3 x score
    assert m.auc(score, label) == pytest.approx(2 / 3, abs=0.03)  # p = 0.3 x U(0, 1)
    assert m.auc(-score, label) == pytest.approx(1 - m.auc(score, label))
    assert np.isnan(m.auc(score, np.zeros(4000, dtype=int)))
    prob = m.cross_fitted_probability(score, label, seed=3)
    table = m.calibration_table(prob, label, 10)
    assert len(table) == 10 and table["n"].sum() == 4000
    # Calibrated: each decile's mean prediction within 5 points of its observed rate, and the
    # Brier score beats the constant base rate.
    assert (table["mean_predicted"] - table["observed_rate"]).abs().max() < 0.05
    assert m.brier(prob, label) < m.brier(np.full(4000, label.mean()), label)
    # Same inputs, same seed: the same probabilities to the bit.
    assert np.array_equal(prob, m.cross_fitted_probability(score, label, seed=3))


def test_calibration_bins_keep_equal_probabilities_together():
    """A rule gives 900 accounts 0.10 and 100 accounts 0.45, both exactly right: two bins,
    each within its sampling noise. Cut into ten equal bins by row order, the 0.10 accounts
    would make nine bins whose observed rates differ by chance alone."""
    rng = np.random.default_rng(4)
    prob = np.r_[np.full(900, 0.10), np.full(100, 0.45)]
    label = (rng.random(1000) < prob).astype(int)
    order = rng.permutation(1000)
    table = m.calibration_table(prob[order], label[order], 10)
    assert table["bin"].tolist() == [0, 1]
    assert table["n"].tolist() == [900, 100]
    assert table["mean_predicted"].tolist() == pytest.approx([0.10, 0.45])
    assert table["observed_rate"].tolist() == pytest.approx(
        [label[:900].mean(), label[900:].mean()]
    )
    # Distinct probabilities: ten bins of 100, numbered in increasing probability; a missing
    # probability is in no bin.
    spread = np.r_[rng.random(1000), np.nan]
    table = m.calibration_table(spread, np.r_[label, 1], 10)
    assert table["n"].tolist() == [100] * 10
    assert table["mean_predicted"].is_monotonic_increasing
    # Partly tied: the tie stays whole in one bin, the rest is cut at its quantiles.
    mixed = np.r_[np.full(500, 0.2), np.linspace(0.3, 0.9, 500)]
    table = m.calibration_table(mixed, label, 10)
    assert table["n"].iloc[0] == 500 and table["n"].sum() == 1000
    assert (table["mean_predicted"].iloc[1:] > 0.2).all()


def test_the_winner_must_beat_the_simpler_by_more_than_the_tolerance():
    contest = pd.DataFrame(
        {"candidate": ["naive", "probabilistic", "learned"], "auc": [0.80, 0.804, 0.83]}
    )
    assert pick_winner(contest, "auc", 0.005) == "learned"
    contest["auc"] = [0.80, 0.804, 0.8049]  # within the tolerance of the naive one: a tie
    assert pick_winner(contest, "auc", 0.005) == "naive"
    contest["auc"] = [0.80, 0.81, 0.8149]  # beats naive, but ties the probabilistic winner
    assert pick_winner(contest, "auc", 0.005) == "probabilistic"
    contest["auc"] = [np.nan, np.nan, 0.6]  # failed candidates never win
    assert pick_winner(contest, "auc", 0.005) == "learned"


def test_matrix_codes_categories_the_same_on_every_window_and_targets_follow_the_outcomes():
    rows = pd.DataFrame(
        {c: [np.nan, np.nan, np.nan] for c in FEATURES}
        | {
            "industry": ["saas", None, "fmcg"],
            "size_band": ["large", "small", "large"],
            "region": [None, None, None],
            "credit_rating": ["A", "AA", None],
            "abnormal_operation": pd.array([True, None, False], dtype="boolean"),
            "next_net_revenue": [100.0, -20.0, None],
            "next_paid_orders": [2, 0, None],
        }
    )
    vocab = vocabularies(rows)
    assert vocab["industry"] == ["fmcg", "saas"]
    X = model_matrix(rows, vocab)
    assert list(X.columns) == FEATURES
    assert X["industry"].tolist()[0] == 1.0 and np.isnan(X["industry"].iloc[1])
    # a value the vocabulary does not hold (a later date's new industry) has no code
    later = rows.assign(industry=["retail", "saas", None], credit_rating=["B", "A", "AA"])
    X_later = model_matrix(later, vocab)
    np.testing.assert_array_equal(X_later["industry"], [np.nan, 1.0, np.nan])
    np.testing.assert_array_equal(X_later["credit_rating"], [np.nan, 0.0, 1.0])
    np.testing.assert_array_equal(X_later["size_band"], [0.0, 1.0, 0.0])
    assert X["abnormal_operation"].tolist()[0] == 1.0 and np.isnan(X["abnormal_operation"][1])
    t = targets(rows)
    assert t["value"].tolist() == [100.0, 0.0, 0.0]
    assert t["churn"].tolist() == [0, 1, 1] and t["conversion"].tolist() == [1, 0, 0]


def test_a_new_book_publishes_the_naive_baseline_and_the_card_says_why_in_plain_numbers():
    """A book with no history one and two horizons back (the as-of date's rows only): no
    contest, the naive baseline, and a note a reader can read; churn without a window to
    calibrate on is null ("no data"), not a made-up probability."""
    ctx = run_context(date(2026, 11, 20))
    cfg, clv_cfg = ctx.config.rules("models"), ctx.config.rules("clv")
    n = 5
    rows = pd.DataFrame(
        {c: [np.nan] * n for c in FEATURES}
        | {
            "golden_account_id": [f"GA-{i}" for i in range(n)],
            "periods_back": [0] * n,
            "has_paid_order": [True] * n,
            **{c: [None] * n for c in ("industry", "size_band", "region", "credit_rating")},
            "abnormal_operation": pd.array([None] * n, dtype="boolean"),
            "next_net_revenue": [None] * n,
            "next_paid_orders": [None] * n,
        }
    )
    result = run_target(rows, "churn", cfg, clv_cfg, vocabularies(rows))
    assert result.winner == "days_since_last_order"
    assert result.note == (
        f"too little history for a contest (0 and 0 rows in the two windows, minimum "
        f"{cfg.min_rows}; [0, 0] positives, minimum {cfg.min_positive}): the naive baseline "
        "is used"
    )
    assert result.predictions["golden_account_id"].tolist() == rows["golden_account_id"].tolist()
    assert result.predictions["prediction"].isna().all()


def _new_book(n: int, seed: int) -> pd.DataFrame:
    """The as-of date's rows of a book with no history a horizon back: buyers with a purchase
    history (BG/NBD's inputs), nothing else known."""
    rng = np.random.default_rng(seed)
    days = rng.integers(1, 12, size=n).astype(float)
    first = rng.integers(60, 180, size=n).astype(float)
    return pd.DataFrame(
        {c: [np.nan] * n for c in FEATURES}
        | {
            "golden_account_id": [f"GA-{i:04d}" for i in range(n)],
            "periods_back": [0] * n,
            "has_paid_order": [True] * n,
            **{c: [None] * n for c in ("industry", "size_band", "region", "credit_rating")},
            "abnormal_operation": pd.array([None] * n, dtype="boolean"),
            "purchase_days": days,
            "days_since_first_purchase": first,
            "days_first_to_last_purchase": np.where(days > 1, first * rng.uniform(0.1, 1, n), 0),
            "repeat_purchase_mean_spend": np.where(days > 1, rng.gamma(2, 50, n), np.nan),
            "net_revenue_365d": days * rng.gamma(2, 50, n),
            "next_net_revenue": [None] * n,
            "next_paid_orders": [None] * n,
        }
    )


def test_a_new_book_ranks_value_by_bgnbd_gamma_gamma_and_falls_back_when_it_cannot_be_fitted():
    """No contest for value: the configured stand-in (BG/NBD x Gamma-Gamma) is published and
    the card says so; where it cannot be fitted (no repeat buyers), trailing revenue is, and the
    card says why."""
    ctx = run_context(date(2026, 11, 20))
    cfg, clv_cfg = ctx.config.rules("models"), ctx.config.rules("clv")
    assert cfg.without_contest == {"value": "bgnbd_gamma_gamma"}
    rows = _new_book(400, seed=3)
    result = run_target(rows, "value", cfg, clv_cfg, vocabularies(rows))
    assert result.winner == "bgnbd_gamma_gamma"
    assert result.note.startswith("too little history for a contest (0 and 0 rows")
    assert result.note.endswith("): bgnbd_gamma_gamma is used")
    assert result.contest.loc[result.contest["winner"], "candidate"].tolist() == [
        "bgnbd_gamma_gamma"
    ]
    values = result.predictions["prediction"]
    assert values.notna().all() and (values >= 0).all()
    # Not trailing revenue under another name: BG/NBD's order differs from it.
    assert not np.array_equal(np.argsort(-values.to_numpy()), np.argsort(-rows["net_revenue_365d"]))
    one_timers = rows.assign(purchase_days=1.0, repeat_purchase_mean_spend=np.nan)
    result = run_target(one_timers, "value", cfg, clv_cfg, vocabularies(one_timers))
    assert result.winner == "trailing_revenue"
    assert "bgnbd_gamma_gamma could not be fitted (Gamma-Gamma needs repeat customers" in (
        result.note
    )
    assert result.note.endswith("the naive baseline is used")
    np.testing.assert_array_equal(result.predictions["prediction"], rows["net_revenue_365d"])
    # Naming a candidate the target does not have is an error naming the key.
    wrong = cfg.model_copy(update={"without_contest": {"value": "hgb_churn"}})
    with pytest.raises(ValueError, match="without_contest: value: unknown candidate 'hgb_churn'"):
        run_target(rows, "value", wrong, clv_cfg, vocabularies(rows))


def test_the_conversion_reason_names_the_winner_and_says_when_the_naive_baseline_stands_in():
    """Prospects get the probability and the winning model (and why the naive baseline is
    published when the history is too short); paying accounts are not prospects; a prospect
    nothing could be learned for, or an account without a window row, has "no data"."""
    ctx = run_context(date(2026, 11, 20))
    cfg, clv_cfg = ctx.config.rules("models"), ctx.config.rules("clv")
    n = 6
    rows = pd.DataFrame(
        {c: [np.nan] * n for c in FEATURES}
        | {
            "golden_account_id": [f"GA-{i}" for i in range(n)],
            "periods_back": [0] * n,
            "has_paid_order": [True, True, True, False, False, None],
            **{c: [None] * n for c in ("industry", "size_band", "region", "credit_rating")},
            "abnormal_operation": pd.array([None] * n, dtype="boolean"),
            "next_net_revenue": [None] * n,
            "next_paid_orders": [None] * n,
        }
    )
    accounts = pd.Series([*rows["golden_account_id"], "GA-new"])
    result = predict(rows, accounts, cfg, clv_cfg, ctx.as_of, "v1")
    reasons = result.scores.set_index("golden_account_id")[
        ["conversion_reason", "conversion_reason_zh"]
    ]
    assert reasons.loc["GA-0"].tolist() == [
        "not a prospect: has a paid order",
        "非潜在客户：已有付费订单",
    ]
    # No prospects a horizon back: nothing to learn a rate from (null, never a made-up 0).
    for prospect in ("GA-3", "GA-4", "GA-5"):
        assert reasons.loc[prospect, "conversion_reason"] == (
            "no data: no prospects a horizon back to learn from"
        )
    assert reasons.loc["GA-new", "conversion_reason"] == "no data: no feature row as of the date"

    # With a probability: the winner, and the naive baseline's reason only when it stood in.
    scores = pd.DataFrame(
        {"golden_account_id": ["P1", "P2"], "conversion_probability": [0.1234, 0.05]}
    )
    conversion = result.results["conversion"]
    won = replace(conversion, winner="hgb_conversion", note="",
                  predictions=scores.rename(columns={"conversion_probability": "prediction"}))  # fmt: skip
    out = _conversion_reasons(scores, {**result.results, "conversion": won})
    assert out["conversion_reason"].tolist() == [
        "conversion within 12m 12.3% (hgb_conversion)",
        "conversion within 12m 5.0% (hgb_conversion)",
    ]
    assert out["conversion_reason_zh"].iloc[0] == "12个月内转化概率12.3%（hgb_conversion）"
    naive = replace(won, winner="base_rate", note="too little history for a contest (...)")
    out = _conversion_reasons(scores, {**result.results, "conversion": naive})
    assert out["conversion_reason"].iloc[1] == (
        "conversion within 12m 5.0% (base_rate; too little history for a contest, naive baseline)"
    )


def test_candidates_built_on_one_model_share_its_fit():
    """hgb_value and the blend that contains it are judged on the same rows: one fit serves
    both; other rows (the winner's refit on the later window) get a fit of their own."""
    from pipelines.scoring.models.candidates import _shared

    fits = []

    def fit(rows, y):
        fits.append(len(rows))
        return lambda r: np.full(len(r), float(np.mean(y)))

    shared = _shared(fit)
    past, later = pd.DataFrame({"a": range(4)}), pd.DataFrame({"a": range(6)})
    y_past, y_later = np.array([0.0, 1.0, 2.0, 3.0]), np.zeros(6)
    first, second = shared(past, y_past), shared(past, y_past)
    assert first is second and fits == [4]
    assert shared(later, y_later)(later).tolist() == [0.0] * 6 and fits == [4, 6]


def test_a_shared_fit_predicts_the_rows_it_is_judged_on_once():
    """The blend scores the rows hgb_value was just judged on: the prediction is remembered
    for those rows (the same frame), never for other rows, even of equal content."""
    from pipelines.scoring.models.candidates import _shared

    calls = []

    def fit(rows, y):
        return lambda r: calls.append(len(r)) or r["a"].to_numpy(float) * float(np.mean(y))

    predictor = _shared(fit)(pd.DataFrame({"a": range(3)}), np.array([2.0, 2.0, 2.0]))
    judged, copy = pd.DataFrame({"a": [1, 2]}), pd.DataFrame({"a": [1, 2]})
    assert predictor(judged).tolist() == [2.0, 4.0] and calls == [2]
    assert predictor(judged).tolist() == [2.0, 4.0] and calls == [2]  # remembered
    assert predictor(copy).tolist() == [2.0, 4.0] and calls == [2, 2]  # another frame
    other = pd.DataFrame({"a": [5]})
    assert predictor(other).tolist() == [10.0] and predictor(judged).tolist() == [2.0, 4.0]
    assert calls == [2, 2, 1, 2]  # only the last rows are remembered


def test_a_part_of_a_window_reads_the_windows_bgnbd_fit_and_other_history_gets_its_own(
    monkeypatch,
):
    """The halves a calibration fits on are parts of a window already fitted: they read that
    fit's outputs. Rows whose purchase history differs (another window, or the same accounts
    a day later) are fitted again, never served a fit of other data."""
    from pipelines.scoring import clv as clv_mod
    from pipelines.scoring.models import candidates

    fits = []
    real = clv_mod.score_clv

    def counted(summary, cfg):
        fits.append(len(summary))
        return real(summary, cfg)

    monkeypatch.setattr(clv_mod, "score_clv", counted)
    outputs = candidates.bgnbd_outputs(clv_mod.ClvConfig(version="t"), 365)
    book = _new_book(600, seed=3)
    whole = outputs(book)
    half = book.iloc[::2]
    assert outputs(half).equals(whole.iloc[::2]) and fits == [600]
    later = book.assign(days_since_first_purchase=book["days_since_first_purchase"] + 1)
    assert not outputs(later.iloc[::2])["p_alive"].equals(whole.iloc[::2]["p_alive"])
    assert fits == [600, 300]
    outputs(book.assign(periods_back=1))  # another window: a fit of its own
    assert fits == [600, 300, 600]


def test_a_sample_asked_first_reads_the_fit_of_its_whole_window_which_is_not_stored(monkeypatch):
    """Gradient boosting fits on a sample of a window larger than max_train_rows, and its
    stacked BG/NBD features are asked for that sample first: they come from the fit of the
    whole window (all its buyers), the fit the window's other rows are scored with, not from a
    fit of the sample. A stored model does not carry the windows: it fits the rows it scores."""
    import cloudpickle

    from pipelines.scoring import clv as clv_mod
    from pipelines.scoring.models import candidates

    fits = []
    real = clv_mod.score_clv

    def counted(summary, cfg):
        fits.append(len(summary))
        return real(summary, cfg)

    monkeypatch.setattr(clv_mod, "score_clv", counted)
    book = _new_book(600, seed=4)
    prospects = book.iloc[:50].assign(  # no purchase history: not in the window's fit
        golden_account_id=[f"GP-{i:02d}" for i in range(50)], has_paid_order=False,
        purchase_days=0.0,
    )  # fmt: skip
    windows = pd.concat([book, book.assign(periods_back=1), prospects], ignore_index=True)
    cfg = clv_mod.ClvConfig(version="t")
    outputs = candidates.bgnbd_outputs(cfg, 365, windows)
    sample = book.iloc[np.random.default_rng(0).permutation(600)[:200]]
    from_window = outputs(sample)
    assert fits == [600]
    ids = sample["golden_account_id"]
    assert from_window.equals(candidates.bgnbd_outputs(cfg, 365)(book).reindex(ids))
    assert outputs(book).reindex(ids).equals(from_window) and fits == [600, 600]
    assert not from_window.equals(candidates.bgnbd_outputs(cfg, 365)(sample))  # a sample's own
    stored = cloudpickle.loads(cloudpickle.dumps(outputs))
    fits.clear()
    stored(sample)
    assert fits == [200]


def test_calibrated_probabilities_rank_as_the_model_and_stay_calibrated():
    """Isotonic calibration pools scores into steps; published probabilities keep the model's
    order inside a step (AUC of the probability = AUC of the score), equal scores stay equal,
    and no probability moves by more than ORDER_WEIGHT."""
    rng = np.random.default_rng(5)
    score = rng.random(3000)
    label = (rng.random(3000) < 0.1 + 0.5 * score**3).astype(int)
    calibrator = m.isotonic(score, label)
    stepwise = calibrator.predict(score)
    new = np.concatenate([rng.random(1000), [0.5, 0.5, np.nan]])
    prob = m.calibrated(calibrator, new)
    # Plain isotonic ties whole steps (fewer distinct values, lower AUC); this keeps the order.
    assert len(np.unique(stepwise)) < 200
    assert len(np.unique(prob[:1000])) == 1000
    assert np.array_equal(np.argsort(prob[:1000], kind="stable"), np.argsort(new[:1000]))
    fresh = rng.random(3000)  # judged on rows the calibration did not see
    fresh_label = (rng.random(3000) < 0.1 + 0.5 * fresh**3).astype(int)
    fresh_auc = m.auc(fresh, fresh_label)
    assert m.auc(m.calibrated(calibrator, fresh), fresh_label) == pytest.approx(fresh_auc)
    assert m.auc(calibrator.predict(fresh), fresh_label) < fresh_auc
    assert prob[1000] == prob[1001]  # equal scores, equal probabilities
    assert (
        prob[1002] == prob[np.nanargmin(new)] or prob[1002] < prob[:1000].min()
    )  # missing: lowest
    expected = calibrator.predict(m._filled(new))
    assert np.abs(prob - expected).max() <= m.ORDER_WEIGHT
    assert ((prob >= 0) & (prob <= 1)).all()


def test_the_learned_winner_is_refitted_on_the_whole_later_window_and_calibrated_out_of_fold():
    """Three fits for a learned classifier: one per half (each scores the half it did not see,
    and the calibration learns those scores), one on the whole window that scores the as-of
    rows. The published probabilities follow the whole-window model's order."""
    from pipelines.scoring.models.candidates import Candidate
    from pipelines.scoring.models.config import ModelsConfig
    from pipelines.scoring.models.contest import _probability_scorer

    cfg = ModelsConfig(version="t", seed=1)
    rng = np.random.default_rng(9)
    recent = pd.DataFrame({"x": rng.random(600)})
    y = (rng.random(600) < recent["x"]).astype(int).to_numpy()
    now = pd.DataFrame({"x": rng.random(200)})
    fits = []

    def fit(rows, labels):
        fits.append(len(rows))
        slope = float(np.corrcoef(rows["x"], labels)[0, 1])
        return lambda r: slope * r["x"].to_numpy()

    prob = _probability_scorer(Candidate("m", "learned", "", fit), recent, y, cfg)(now)
    first, second, whole = sorted(fits)  # two halves (stratified by outcome) and the window
    assert whole == 600 and first + second == 600 and first >= 295
    assert np.array_equal(np.argsort(prob), np.argsort(now["x"].to_numpy()))
    assert prob.mean() == pytest.approx(y.mean(), abs=0.06)
    # One positive in the window: no half could be fitted on both outcomes, so the whole
    # window's model is calibrated on its own scores (one fit, no failure).
    fits.clear()
    single = np.zeros(600, dtype=int)
    single[17] = 1
    prob = _probability_scorer(Candidate("m", "learned", "", fit), recent, single, cfg)(now)
    assert fits == [600] and np.isfinite(prob).all()


@pytest.mark.parametrize("n", [1_500, 2_000, 2_001, 5_000])
def test_a_window_larger_than_two_fits_is_calibrated_on_a_sample_of_it(n):
    """The halves of a calibration fit on at most max_train_rows rows each: a larger window is
    calibrated on the out-of-fold scores of a fixed-seed sample of twice that, not on scores of
    every row; the whole window's model still scores the as-of rows, and the probabilities stay
    in its order and calibrated."""
    from pipelines.scoring.models.candidates import Candidate
    from pipelines.scoring.models.config import ModelsConfig
    from pipelines.scoring.models.contest import _probability_scorer

    cfg = ModelsConfig(version="t", seed=3, max_train_rows=1_000)
    rng = np.random.default_rng(n)
    recent = pd.DataFrame({"x": rng.random(n)})
    y = (rng.random(n) < recent["x"]).astype(int).to_numpy()
    now = pd.DataFrame({"x": rng.random(500)})
    fits, scored = [], []

    def fit(rows, labels):
        fits.append(len(rows))
        slope = float(np.corrcoef(rows["x"], labels)[0, 1])

        def predict(r):
            scored.append(len(r))
            return slope * r["x"].to_numpy()

        return predict

    prob = _probability_scorer(Candidate("m", "learned", "", fit), recent, y, cfg)(now)
    *halves, whole = sorted(fits)
    assert whole == n and sum(halves) == min(n, 2_000) and min(halves) >= min(n, 2_000) // 2 - 5
    assert sum(scored) == min(n, 2_000) + len(now)  # each half's rows once, then the as-of rows
    assert np.array_equal(np.argsort(prob), np.argsort(now["x"].to_numpy()))
    assert prob.mean() == pytest.approx(now["x"].mean(), abs=0.05)


def _prospects_knowing_nothing(n: int) -> pd.DataFrame:
    """``n`` prospects of the judged window (periods_back 1) with every feature unknown."""
    rows = pd.DataFrame({c: [np.nan] * n for c in FEATURES})
    rows["golden_account_id"] = [f"GA-{i:04d}" for i in range(n)]
    rows["periods_back"], rows["has_paid_order"] = 1, False
    return rows


def test_gradient_boosting_fits_when_columns_are_nearly_empty():
    """A small window (or half of one) can know a column for one account only (one NPS answer
    among 140 prospects): early stopping's split may leave it without a value in the part
    scikit-learn bins, which fails; such columns are left out of the fit instead."""
    from pipelines.scoring.clv import ClvConfig
    from pipelines.scoring.models.candidates import candidates
    from pipelines.scoring.models.config import ModelsConfig
    from tests.config_files import load_config
    from tests.conftest import REPO_ROOT

    rng = np.random.default_rng(3)
    n = 400
    rows = _prospects_knowing_nothing(n)
    rows["latest_lead_source"] = "trade_show"  # one category only
    rows["leads_open"] = rng.integers(0, 3, n).astype(float)
    rows["account_age_days"] = rng.integers(10, 900, n).astype(float)
    sparse = [
        c for c in FEATURES if c not in ("leads_open", "account_age_days", "latest_lead_source")
    ]
    for i, column in enumerate(sparse[:30]):  # each known for one account only
        values = np.full(n, np.nan)
        values[i * 7] = 1.0 + i
        rows[column] = (
            values if column not in ("industry", "size_band", "region", "credit_rating") else None
        )
    y = (rng.random(n) < 0.1 + 0.2 * (rows["leads_open"] > 0)).astype(int).to_numpy()
    cfg = ModelsConfig(version="t", min_rows=10, min_positive=1)
    clv_cfg, _ = load_config(ClvConfig, REPO_ROOT / "config" / "scoring" / "clv.yaml")
    vocab = vocabularies(rows)
    hgb = next(c for c in candidates("conversion", cfg, clv_cfg, vocab) if c.kind == "learned")
    p = hgb.fit(rows, y)(rows)
    assert p.shape == (n,) and np.isfinite(p).all()
    assert m.auc(p, y) > 0.6


@pytest.mark.parametrize("n", [120, 300, 2000])
def test_a_small_window_still_gets_a_probability_per_account_not_one_for_all(n):
    """A window of a few hundred prospects: the calibration fits gradient boosting on halves of
    it, which held fewer rows than two leaves of the configured 80 need, so every tree had no
    split, every half scored all its rows alike and the calibration learned one probability for
    everyone (a 1,000-account world published 18% for all its prospects). The leaf shrinks to
    a tenth of the rows a fit trains on; a window large enough keeps the configured leaf."""
    from pipelines.scoring.clv import ClvConfig
    from pipelines.scoring.models.candidates import candidates, leaf_size
    from pipelines.scoring.models.config import ModelsConfig
    from pipelines.scoring.models.contest import _probability_scorer
    from tests.config_files import load_config
    from tests.conftest import REPO_ROOT

    assert leaf_size(80, 150) == 13 and leaf_size(80, 889) == 80 and leaf_size(80, 2) == 1
    rng = np.random.default_rng(n)
    rows = _prospects_knowing_nothing(n)
    rows["leads_open"] = (rng.random(n) < 0.3).astype(float)
    rows["account_age_days"] = rng.integers(10, 900, n).astype(float)
    y = (rng.random(n) < np.where(rows["leads_open"] > 0, 0.45, 0.05)).astype(int)
    cfg, _ = load_config(ModelsConfig, REPO_ROOT / "config" / "scoring" / "models.yaml")
    clv_cfg, _ = load_config(ClvConfig, REPO_ROOT / "config" / "scoring" / "clv.yaml")
    hgb = next(
        c for c in candidates("conversion", cfg, clv_cfg, vocabularies(rows)) if c.kind == "learned"
    )
    prob = _probability_scorer(hgb, rows, y, cfg)(rows)
    lead = rows["leads_open"].to_numpy() > 0
    # Accounts with an open lead get a clearly higher probability than those without, and the
    # probabilities stay calibrated on average.
    assert prob[lead].mean() > prob[~lead].mean() + 0.2
    assert prob.mean() == pytest.approx(y.mean(), abs=0.05)


def test_a_logit_shift_meets_the_rate_keeps_the_order_and_is_bounded():
    rng = np.random.default_rng(4)
    p = rng.beta(2, 8, 5000)  # mean about 0.2
    for rate in (0.05, 0.2, 0.34, 0.6):
        shift = m.logit_shift(p, rate, bound=5.0)
        assert m.shifted(p, shift).mean() == pytest.approx(rate, abs=1e-9)
        assert np.array_equal(np.argsort(m.shifted(p, shift)), np.argsort(p))
    assert m.logit_shift(p, p.mean(), bound=5.0) == pytest.approx(0.0, abs=1e-9)
    assert m.logit_shift(p, 0.95, bound=1.0) == 1.0  # as far as the bound, no further
    assert m.logit_shift(p, 0.001, bound=1.0) == -1.0
    assert m.logit_shift(p, 0.0, bound=1.0) == 0.0 and m.logit_shift(p, 0.5, bound=0) == 0.0
    # Through the calibration: every step moves, the order inside a step stays, no step with
    # no positive comes up from (near) zero past another.
    score = rng.random(3000)
    label = (rng.random(3000) < 0.05 + 0.4 * score**2).astype(int)
    calibrator = m.isotonic(score, label)
    plain, moved = m.calibrated(calibrator, score), m.calibrated(calibrator, score, 0.7)
    assert np.array_equal(np.argsort(plain, kind="stable"), np.argsort(moved, kind="stable"))
    assert moved.mean() > plain.mean() and ((moved >= 0) & (moved <= 1)).all()


def _drifting_windows(n: int, seed: int, intercepts: tuple[float, float, float]) -> pd.DataFrame:
    """Paying accounts on three reference dates whose churn follows one logistic law of
    recency, each date's intercept its own: a book whose churn rate drifts upwards (or not)."""
    rng = np.random.default_rng(seed)
    frames = []
    for back, intercept in zip((2, 1, 0), intercepts, strict=True):
        rows = pd.DataFrame({c: [np.nan] * n for c in FEATURES})
        rows["golden_account_id"] = [f"GA-{i:05d}" for i in range(n)]
        rows["periods_back"], rows["has_paid_order"] = back, True
        recency = rng.exponential(120, n)
        rows["days_since_last_paid_order"] = recency
        rows["paid_orders_365d"] = rng.poisson(3, n).astype(float)
        rows["net_revenue_365d"] = rows["paid_orders_365d"] * 1000.0
        rows["paid_orders_lifetime"] = rows["paid_orders_365d"] + 1
        rows["purchase_days"] = rows["paid_orders_lifetime"]
        churn = rng.random(n) < 1 / (1 + np.exp(-(intercept + recency / 80 - 1.5)))
        rows["next_paid_orders"] = np.where(churn, 0, 2).astype(float)
        rows["next_net_revenue"] = rows["next_paid_orders"] * 1000.0
        frames.append(rows)
    return pd.concat(frames, ignore_index=True).sort_values(["golden_account_id", "periods_back"])


@pytest.mark.parametrize("drift", [0.0, 0.8])
def test_churn_probabilities_carry_the_base_rates_drift_forward(drift):
    """Calibrated on the last observed window, probabilities miss a rate that keeps moving;
    the shift learnt from the window before (what the earlier model missed) is carried
    forward, and on a book without drift it is about zero and changes next to nothing."""
    from pipelines.scoring.clv import ClvConfig
    from pipelines.scoring.models.config import ModelsConfig
    from tests.config_files import load_config
    from tests.conftest import REPO_ROOT

    cfg, _ = load_config(ModelsConfig, REPO_ROOT / "config" / "scoring" / "models.yaml")
    clv_cfg, _ = load_config(ClvConfig, REPO_ROOT / "config" / "scoring" / "clv.yaml")
    rows = _drifting_windows(4000, 2, (-drift, 0.0, drift))
    vocab = vocabularies(rows)
    now = rows[rows["periods_back"] == 0]
    truth = (now["next_paid_orders"] == 0).to_numpy()
    bound = cfg.max_drift_logit["churn"]
    results = {
        b: run_target(
            rows, "churn", cfg.model_copy(update={"max_drift_logit": {"churn": b}}), clv_cfg, vocab
        )
        for b in (0.0, bound)
    }
    plain, carried = (r.predictions["prediction"].to_numpy() for r in results.values())
    assert results[0.0].drift_logit == 0.0
    shift = results[bound].drift_logit
    if drift:
        assert shift == pytest.approx(drift, abs=0.25)
        assert abs(carried.mean() - truth.mean()) < abs(plain.mean() - truth.mean()) / 2
        assert m.brier(carried, truth) < m.brier(plain, truth)
    else:
        assert abs(shift) < 0.15
        assert abs(carried.mean() - plain.mean()) < 0.02
    assert m.auc(carried, truth) == pytest.approx(m.auc(plain, truth), abs=1e-6)


def test_a_negative_drift_bound_is_refused_naming_the_target():
    from pydantic import ValidationError

    from pipelines.scoring.models.config import ModelsConfig

    with pytest.raises(ValidationError, match="must be >= 0 .*not for conversion"):
        ModelsConfig.model_validate({"version": "x", "max_drift_logit": {"conversion": -1}})
    with pytest.raises(ValidationError, match="max_drift_logit.value"):
        ModelsConfig.model_validate({"version": "x", "max_drift_logit": {"value": 1}})
