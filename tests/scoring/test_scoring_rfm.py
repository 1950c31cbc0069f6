"""RFM scores: binning with ties, fixed thresholds, the segment grid, no purchase.

The RFM values (recency, frequency, monetary with refunds and cancellations netted) are
features, tested where they are computed: dbt_project/models/features/_features__models.yml.
"""

from __future__ import annotations

import pandas as pd
import pytest

from pipelines.config import ConfigError
from pipelines.scoring.rfm import DimensionRule, RfmConfig, bin_dimension, score_rfm
from tests.config_files import load_config


@pytest.fixture
def cfg() -> RfmConfig:
    return load_config(RfmConfig, "rfm.yaml")[0]


def test_quantile_bins_with_heavy_ties_do_not_crash_and_ties_share_a_bin():
    values = pd.Series([1, 1, 1, 1, 1, 1, 1, 1, 2, 9])
    scores = bin_dimension(values, DimensionRule(method="quantile", bins=5), higher_is_better=True)
    # Eight tied 1s share the middle bin (mean percentile 0.45); the two largest are top.
    assert scores.tolist() == [3.0] * 8 + [5.0, 5.0]
    low_first = bin_dimension(
        values, DimensionRule(method="quantile", bins=5), higher_is_better=False
    )
    assert low_first.iloc[0] > low_first.iloc[9]


def test_recency_thresholds_lower_is_better():
    rule = DimensionRule(method="thresholds", thresholds=[30, 90, 180, 365])
    s = bin_dimension(pd.Series([0, 30, 31, 90, 180, 365, 366, None]), rule, higher_is_better=False)
    assert s.iloc[:7].tolist() == [5, 5, 4, 4, 3, 2, 1]
    assert pd.isna(s.iloc[7])


def test_segment_grid_and_no_purchase(cfg):
    df = pd.DataFrame(
        {
            "golden_account_id": ["champ", "lost", "cant_lose", "none"]
            + [f"x{i}" for i in range(6)],
            "rfm_recency_days": [2, 500, 400, None, 100, 100, 100, 100, 100, 100],
            "rfm_frequency": [50, 1, 50, None, 2, 3, 4, 5, 6, 7],
            "rfm_monetary": [9e5, 10, 8e5, None, 10, 20, 30, 40, 50, 60],
        }
    )
    out = score_rfm(df, cfg).set_index("golden_account_id")
    assert out.loc["champ", "rfm_segment"] == "Champions"
    assert out.loc["lost", "rfm_segment"] == "Lost"
    assert out.loc["cant_lose", "rfm_segment"] == "Can't lose"
    assert out.loc["none", "rfm_segment"] == "No purchase"
    assert out.loc["none", ["rfm_r", "rfm_f", "rfm_m", "rfm_score"]].isna().all()
    assert out["rfm_score"].dropna().between(1, 5).all()
    assert out.loc["champ", "rfm_score"] > out.loc["lost", "rfm_score"]
    assert "500 days" in out.loc["lost", "rfm_reason"]


def test_accounts_without_a_paid_order_in_the_window_are_no_purchase(cfg):
    # The feature layer gives frequency 0 (and null recency / monetary) for them; the values
    # themselves are computed and unit-tested in dbt (models/features, account_features).
    features = pd.DataFrame(
        {
            "golden_account_id": ["a", "b"],
            "rfm_recency_days": [20, None],
            "rfm_frequency": [2, 0],
            "rfm_monetary": [140.0, None],
        }
    )
    out = score_rfm(features, cfg).set_index("golden_account_id")
    assert out.loc["b", ["rfm_recency_days", "rfm_frequency", "rfm_monetary"]].isna().all()
    assert out.loc["b", "rfm_segment"] == "No purchase"
    assert out.loc["b", "rfm_reason"] == f"no paid order in the last {cfg.lookback_days} days"
    assert out.loc["a", "rfm_frequency"] == 2 and out.loc["a", "rfm_r"] == 5
    assert "20 days ago, 2 paid orders, CNY 140" in out.loc["a", "rfm_reason"]


def test_config_errors_name_the_key(tmp_path):
    bad = tmp_path / "rfm.yaml"
    bad.write_text(
        "version: '1'\nlookback_days: 10\nweights: {r: 1, f: 1, m: 1}\n"
        "recency: {method: quantile, bins: 7}\nfrequency: {method: quantile, bins: 5}\n"
        "monetary: {method: quantile, bins: 5}\nsegments: [{name: X, r: [1, 5], f: [1, 5]}]\n"
    )
    with pytest.raises(ConfigError, match=r"recency\.bins"):
        load_config(RfmConfig, bad)
    bad.write_text(bad.read_text().replace("bins: 7", "bins: 5") + "lookback_dayz: 3\n")
    with pytest.raises(ConfigError, match="lookback_dayz"):
        load_config(RfmConfig, bad)
