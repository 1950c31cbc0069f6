"""Conversion: PSI, the time split, retraining decisions and the too-few-positives fallback."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest

from pipelines.scoring.config import load_config
from pipelines.scoring.conversion import (
    ConversionConfig,
    fallback_scores,
    psi,
    retrain_reason,
    time_split,
    train_conversion_model,
)

CFG = load_config(ConversionConfig, "conversion.yaml")[0]


def test_psi_zero_for_same_distribution_and_large_for_shift():
    rng = np.random.default_rng(0)
    base = rng.normal(0, 1, 5000)
    assert psi(base, rng.normal(0, 1, 5000)) < 0.02
    assert psi(base, rng.normal(1.0, 1, 5000)) > 0.25


def test_time_split_holds_out_the_most_recent_leads():
    df = pd.DataFrame(
        {"lead_id": list("abcdefghij"), "created_at": pd.date_range("2024-01-01", periods=10)[::-1]}
    )
    train, hold = time_split(df, 0.2)
    assert len(hold) == 2 and train["created_at"].max() < hold["created_at"].min()


def _leads(n: int, n_converted: int) -> pd.DataFrame:
    rng = np.random.default_rng(1)
    df = pd.DataFrame({c: rng.random(n) for c in CFG.numeric_features})
    df["lead_source"], df["industry"], df["size_band"], df["region"] = (
        "web",
        "saas",
        "small",
        "华东",
    )
    df["lead_id"] = [f"L{i}" for i in range(n)]
    df["created_at"] = pd.date_range("2023-01-01", periods=n, freq="D")
    df["status"] = ["converted"] * n_converted + ["lost"] * (n - n_converted)
    return df


def test_too_few_converted_leads_means_no_model_and_fit_fallback():
    result = train_conversion_model(_leads(300, CFG.min_positive - 1), CFG, date(2024, 6, 30), "v1")
    assert result.model is None
    assert f"Only {CFG.min_positive - 1} converted leads" in result.message
    out = fallback_scores(
        pd.DataFrame({"golden_account_id": ["a", "b"], "fit_score": [80.0, None]}), result.message
    )
    assert out["conversion_probability"].tolist() == [0.8, 0.0]
    assert (out["conversion_source"] == "fit_fallback").all()


def test_retrain_reasons():
    card = {"rules_version": "v1", "trained_as_of": "2024-06-01"}
    assert retrain_reason(None, date(2024, 6, 2), "v1", CFG) == "no stored model"
    assert retrain_reason(card, date(2024, 6, 2), "v1", CFG) is None
    assert "rules changed" in retrain_reason(card, date(2024, 6, 2), "v2", CFG)
    assert "days old" in retrain_reason(card, date(2024, 9, 1), "v1", CFG)  # > max_age_days (30)
    assert "PSI(score)" in retrain_reason(
        card, date(2024, 6, 2), "v1", CFG, {"score": CFG.psi_threshold + 0.1}
    )
    assert (
        retrain_reason(card, date(2024, 6, 2), "v1", CFG, {"score": CFG.psi_threshold / 2}) is None
    )


def test_config_rejects_bad_calibration(tmp_path):
    from pipelines.scoring.config import ScoringConfigError

    p = tmp_path / "c.yaml"
    p.write_text("version: '1'\nactivity_types: [meeting]\ncalibration: platt\n")
    with pytest.raises(ScoringConfigError, match="calibration"):
        load_config(ConversionConfig, p)
