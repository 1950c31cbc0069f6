"""Fit score: rule contributions add up to the score; missing attributes are named."""

from __future__ import annotations

import pandas as pd
import pytest

from pipelines.config import ConfigError
from pipelines.scoring.fit import FitConfig, score_fit
from tests.config_files import load_config


def test_contributions_sum_to_score_and_ideal_scores_100():
    cfg, version = load_config(FitConfig, "fit.yaml")
    acc = pd.DataFrame(
        {
            "golden_account_id": ["ideal", "partial", "sparse", "empty"],
            "industry": ["SaaS", "fmcg", None, None],
            "size_band": ["enterprise", "small", None, None],
            "region": ["华东", "西北", "华东", None],
            "annual_revenue_cny": [5e8, 2e7, None, None],
        }
    )
    out = score_fit(acc, cfg).set_index("golden_account_id")
    known = out.drop(index="empty")
    parts = known.filter(like="_points").sum(axis=1)
    assert parts.to_numpy() == pytest.approx(known["fit_score"].to_numpy())
    assert out.loc["ideal", "fit_score"] == pytest.approx(100.0)
    assert 0 < out.loc["partial", "fit_score"] < 100
    # Some attributes known: the missing ones score their `missing` value and are named.
    assert out.loc["sparse", "fit_score"] == pytest.approx(20.0)
    assert "industry unknown" in out.loc["sparse", "fit_reason"]
    # Nothing known: no score at all, never 0.
    assert out.filter(like="_points").loc["empty"].isna().all()
    assert pd.isna(out.loc["empty", "fit_score"])
    assert out.loc["empty", "fit_reason"] == (
        "no data: none of industry, company size, region, annual revenue known"
    )
    assert out.loc["empty", "fit_reason_zh"].startswith("无数据：")
    assert out.loc["ideal", "fit_reason"].startswith("ICP fit 100: industry 30/30")
    assert version.startswith("1.1+")


def test_rule_needs_exactly_one_kind(tmp_path):
    p = tmp_path / "fit.yaml"
    p.write_text(
        "version: '1'\nrules:\n  size:\n    column: size_band\n    weight: 1\n    label: size\n"
    )
    with pytest.raises(ConfigError, match="rules.size"):
        load_config(FitConfig, p)
