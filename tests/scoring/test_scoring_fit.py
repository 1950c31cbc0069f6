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
            "golden_account_id": ["ideal", "partial", "empty"],
            "industry": ["SaaS", "fmcg", None],
            "size_band": ["enterprise", "small", None],
            "region": ["华东", "西北", None],
            "annual_revenue_cny": [5e8, 2e7, None],
        }
    )
    out = score_fit(acc, cfg).set_index("golden_account_id")
    parts = out.filter(like="_points").sum(axis=1)
    assert parts.to_numpy() == pytest.approx(out["fit_score"].to_numpy())
    assert out.loc["ideal", "fit_score"] == pytest.approx(100.0)
    assert out.loc["empty", "fit_score"] == 0.0
    assert 0 < out.loc["partial", "fit_score"] < 100
    assert "industry unknown" in out.loc["empty", "fit_reason"]
    assert out.loc["ideal", "fit_reason"].startswith("ICP fit 100: industry 30/30")
    assert version.startswith("1.1+")


def test_rule_needs_exactly_one_kind(tmp_path):
    p = tmp_path / "fit.yaml"
    p.write_text(
        "version: '1'\nrules:\n  size:\n    column: size_band\n    weight: 1\n    label: size\n"
    )
    with pytest.raises(ConfigError, match="rules.size"):
        load_config(FitConfig, p)
