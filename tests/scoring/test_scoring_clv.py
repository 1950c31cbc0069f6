"""CLV: the published CDNOW estimates, the purchase summary and the prediction formulas."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from pipelines.scoring.clv import (
    BgNbdParams,
    ClvConfig,
    bgnbd_expected_purchases,
    bgnbd_p_alive,
    clv_scores,
    fit_bgnbd,
    fit_gamma_gamma,
    gamma_gamma_expected_spend,
    purchase_summary,
    score_clv,
)

CDNOW = Path(__file__).resolve().parents[1] / "fixtures" / "cdnow"


def sig3(x: float) -> float:
    return float(f"{x:.3g}")


def test_bgnbd_reproduces_fader_hardie_lee_2005_cdnow_estimates():
    d = pd.read_csv(CDNOW / "cdnow_customers_summary.csv")
    p = fit_bgnbd(d["frequency"], d["recency"], d["T"])
    assert (sig3(p.r), sig3(p.alpha), sig3(p.a), sig3(p.b)) == (0.243, 4.41, 0.793, 2.43)
    # 4-figure agreement with the paper's r=0.243, alpha=4.414, a=0.793, b=2.426
    assert p.alpha == pytest.approx(4.414, abs=6e-4) and p.b == pytest.approx(2.426, abs=6e-4)


def test_gamma_gamma_reproduces_fader_hardie_cdnow_estimates():
    d = pd.read_csv(CDNOW / "cdnow_customers_summary_with_transactions.csv")
    returning = d[d["x"] > 0]
    g = fit_gamma_gamma(returning["x"], returning["zbar"])
    assert (sig3(g.p), sig3(g.q), sig3(g.v)) == (6.25, 3.74, 15.4)


def test_bgnbd_predictions_match_paper_values_for_cdnow():
    # Published parameters; the paper's customer with x=2, t_x=30.43, T=38.86 expects
    # 1.226 purchases in the next 39 weeks (lifetimes gives the same).
    p = BgNbdParams(r=0.2426, alpha=4.4136, a=0.7929, b=2.4259)
    e = bgnbd_expected_purchases(p, 39.0, np.array([2.0]), np.array([30.43]), np.array([38.86]))
    assert e[0] == pytest.approx(1.226, abs=2e-3)
    alive = bgnbd_p_alive(
        p, np.array([0.0, 2.0, 2.0]), np.array([0.0, 38.0, 5.0]), np.array([38.86] * 3)
    )
    assert alive[0] == 1.0
    assert alive[1] > alive[2]  # a recent repeat buyer is more likely alive than a lapsed one


def test_gamma_gamma_spend_shrinks_to_population_mean():
    from pipelines.scoring.clv import GammaGammaParams

    g = GammaGammaParams(p=6.25, q=3.74, v=15.44)
    spend = gamma_gamma_expected_spend(g, np.array([0.0, 1.0, 50.0]), np.array([0.0, 100.0, 100.0]))
    pop_mean = g.p * g.v / (g.q - 1)
    assert spend[0] == pytest.approx(pop_mean)
    assert pop_mean < spend[1] < spend[2] < 100.0


def test_purchase_summary_puts_the_feature_history_in_model_time_units():
    # One purchase per net-positive day is the feature layer's rule (dbt unit test
    # test_purchase_history_counts_one_purchase_per_net_positive_day); here: units, buyers only.
    features = pd.DataFrame(
        {
            "golden_account_id": ["a", "b", "c"],
            "purchase_days": [3, 0, 1],
            "days_first_to_last_purchase": [14, None, 0],
            "days_since_first_purchase": [42, None, 35],
            "repeat_purchase_mean_spend": [30.0, None, 0.0],
        }
    )
    s = purchase_summary(features, 7).set_index("golden_account_id")
    assert list(s.index) == ["a", "c"]
    assert s.loc["a"].tolist() == [2.0, 2.0, 6.0, 30.0]
    assert s.loc["c"].tolist() == [0.0, 0.0, 5.0, 0.0]


def _features_from_cdnow() -> pd.DataFrame:
    d = pd.read_csv(CDNOW / "cdnow_customers_summary_with_transactions.csv")
    return pd.DataFrame(
        {
            "golden_account_id": d["ID"].astype(str),
            "purchase_days": d["x"] + 1,
            "days_first_to_last_purchase": d["t_x"] * 7,
            "days_since_first_purchase": d["T"] * 7,
            "repeat_purchase_mean_spend": d["zbar"],
        }
    )


def test_clv_scores_cover_every_account_and_are_reproducible():
    features = pd.concat(
        [
            _features_from_cdnow(),
            pd.DataFrame({"golden_account_id": ["never"], "purchase_days": [0]}),
        ],
        ignore_index=True,
    )
    cfg = ClvConfig(version="t", time_unit_days=7, horizon_days=273)
    first = clv_scores(features, cfg, date(2024, 6, 30))
    again = clv_scores(features, cfg, date(2024, 6, 30))
    scores = first.scores.set_index("golden_account_id")
    assert len(scores) == len(features) and first.customers_fitted == len(features) - 1
    assert scores.loc["never", ["expected_purchases_12m", "clv_12m"]].tolist() == [0.0, 0.0]
    assert pd.isna(scores.loc["never", "p_alive"])
    assert scores.loc["never", "clv_reason"].startswith("no purchases yet")
    assert scores["clv_percentile"].between(0, 1).all()
    # Same data, same parameters and the same version, to the bit.
    assert first.model_version == again.model_version
    assert first.model_version.startswith("bgnbd-gg-20240630-")
    pd.testing.assert_frame_equal(first.scores, again.scores, check_exact=True)
    assert sig3(first.bgnbd.r) == 0.243


def test_score_clv_churn_is_complement_of_alive_and_sample_fit_runs():
    d = pd.read_csv(CDNOW / "cdnow_customers_summary_with_transactions.csv").rename(
        columns={
            "ID": "golden_account_id",
            "x": "frequency",
            "t_x": "recency",
            "zbar": "monetary_value",
        }
    )
    out, bg, _ = score_clv(
        d, ClvConfig(version="t", time_unit_days=7, horizon_days=273, fit_sample_size=1500)
    )
    assert np.allclose(out["churn_risk"], 1 - out["p_alive"])
    assert np.isfinite(out["clv_12m"]).all() and (out["clv_12m"] >= 0).all()
    assert 0.15 < bg.r < 0.4  # a 1,500 sample still lands near the full-data estimate
