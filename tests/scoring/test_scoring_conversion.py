"""Conversion: model inputs from the feature layer, PSI, the time split, retraining and reuse
decisions, the run's recorded choice and the too-few-positives fallback."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest

from pipelines.scoring.conversion import (
    ConversionConfig,
    ModelChoice,
    account_rows,
    choose_model,
    fallback_scores,
    lead_rows,
    model_matrix,
    psi,
    read_choice,
    record_choice,
    retrain_reason,
    time_split,
    train_conversion_model,
)
from tests.config_files import load_config

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
    # Without a fit score there is nothing to fall back on: null with "no data", never 0.
    assert out["conversion_probability"].iloc[0] == 0.8
    assert pd.isna(out["conversion_probability"].iloc[1])
    assert out["conversion_reason"].iloc[1] == (
        "no data: no conversion model and no profile attributes"
    )
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
    from pipelines.config import ConfigError

    p = tmp_path / "c.yaml"
    p.write_text("version: '1'\ncalibration: platt\n")
    with pytest.raises(ConfigError, match="calibration"):
        load_config(ConversionConfig, p)


AS_OF = date(2024, 6, 30)


def test_accounts_are_scored_as_a_lead_created_today_with_the_same_inputs():
    """Training rows and scoring rows get the same model inputs from the same feature names;
    an account's categorical lead source is its latest lead's (the as-of-lead engagement
    itself is a dbt unit test: test_lead_features_are_as_of_the_lead_creation)."""
    shared = {
        "golden_account_id": ["A"],
        "industry": ["saas"],
        "size_band": [None],
        "region": ["华东"],
        "employee_count": [-5],
        "annual_revenue_cny": [None],
        "engagement_decayed": [1.25],
        "engagement_events": [3],
        "days_since_last_touch": [10.0],
        "prior_paid_orders": [1],
        "prior_net_revenue": [99.0],
    }
    lead = lead_rows(pd.DataFrame({**shared, "lead_id": ["L1"], "lead_source": ["web"]}))
    account = account_rows(pd.DataFrame({**shared, "latest_lead_source": ["web"]}))
    X_lead, X_account = model_matrix(lead, CFG.features), model_matrix(account, CFG.features)
    pd.testing.assert_frame_equal(X_lead, X_account)
    row = X_account.iloc[0]
    assert row["lead_source"] == "web" and row["size_band"] == "(missing)"
    assert row["log_employee_count"] == 0.0  # negative head count clipped, then log1p
    assert row["log_annual_revenue"] == 0.0
    assert row["log_prior_net_revenue"] == pytest.approx(np.log(100.0))
    assert list(X_account.columns) == CFG.features


def test_run_choice_is_recorded_for_the_scoring_step(tmp_path):
    with pytest.raises(FileNotFoundError, match="run the scores/conversion_model step"):
        read_choice(tmp_path, "20240630-abc")
    record_choice(tmp_path, "20240630-abc", ModelChoice(None, "retrain (no stored model): Only 3"))
    assert read_choice(tmp_path, "20240630-abc") == ModelChoice(
        None, "retrain (no stored model): Only 3"
    )


def _learnable_leads(n: int, seed: int = 3) -> pd.DataFrame:
    """Decided leads whose conversion follows engagement (with noise), outcomes interleaved."""
    df = _leads(n, 0)
    rng = np.random.default_rng(seed)
    flip = rng.random(n) < 0.1  # label noise
    converted = (df["engagement_decayed"] > 0.6) ^ flip
    df["status"] = np.where(converted, "converted", "lost")
    return df


def test_a_fresh_stored_model_is_reused_and_a_later_one_never_used(tmp_path):
    leads = _learnable_leads(600)
    cfg = CFG.model_copy(
        update={"calibration_cv": 2, "hgb": CFG.hgb.model_copy(update={"max_iter": 30})}
    )
    first = choose_model(leads, tmp_path, AS_OF, "v1", cfg)
    assert first.choice.status.startswith("retrain (no stored model): Trained conv-20240630-")
    # Engagement decides conversion here (10% noise): the holdout AUC is far from a coin flip.
    assert first.trained is not None and first.card["metrics"]["roc_auc"] > 0.8
    again = choose_model(leads, tmp_path, date(2024, 7, 2), "v1", cfg)
    assert again.choice == ModelChoice(
        first.choice.model_version, f"reused stored model {first.choice.model_version}"
    )
    # A backfill before the model's date cannot see it: it trains its own.
    earlier = choose_model(leads, tmp_path, date(2024, 6, 1), "v1", cfg)
    assert earlier.choice.model_version != first.choice.model_version
    # Rules changed: retrain.
    changed = choose_model(leads, tmp_path, AS_OF, "v2", cfg)
    assert "rules changed (v1 -> v2)" in changed.choice.status
