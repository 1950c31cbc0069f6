"""Conversion: features as of a lead (one SQL for accounts too), PSI, the time split,
retraining decisions and the too-few-positives fallback."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import duckdb
import numpy as np
import pandas as pd
import pytest

from pipelines.scoring.conversion import (
    ConversionConfig,
    fallback_scores,
    lead_features,
    psi,
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
    from pipelines.config import ConfigError

    p = tmp_path / "c.yaml"
    p.write_text("version: '1'\nactivity_types: [meeting]\ncalibration: platt\n")
    with pytest.raises(ConfigError, match="calibration"):
        load_config(ConversionConfig, p)


AS_OF = date(2024, 6, 30)
T = datetime(2024, 6, 30, 23, 59, 59)  # the run time accounts are scored at for AS_OF


def _warehouse() -> duckdb.DuckDBPyConnection:
    """Two accounts; A's lead is created exactly at the run time, so its row and A's
    as-of-today row must agree (one SQL for training and serving)."""
    con = duckdb.connect()
    con.execute("create schema marts")
    con.execute(
        "create table marts.customer_360 as select * from (values "
        "('A', 'saas', 'small', '华东', 50, 1e6), ('B', 'retail', 'large', '华北', 900, 1e8)) "
        "as t(golden_account_id, industry, size_band, region, employee_count, annual_revenue_cny)"
    )
    con.execute(
        "create table marts.leads as select * from (values "
        "('L1', 'A', 'web', 'open', $t::timestamp), "
        "('L2', 'B', 'event', 'lost', $t::timestamp - interval 30 day)) "
        "as t(lead_id, golden_account_id, lead_source, status, created_at)",
        {"t": T},
    )
    acts = [
        ("A", "web_visit", T - timedelta(days=10)),
        ("A", "meeting", T - timedelta(days=100)),
        ("A", "unsubscribe", T - timedelta(days=5)),  # an event, not a touch
        ("A", "email_open", T - timedelta(days=400)),  # outside the 365-day look-back
        ("A", "not_a_configured_type", T - timedelta(days=1)),
        ("B", "meeting", T - timedelta(days=3)),  # after B's lead: not "before" it
    ]
    con.execute(
        "create table marts.activities (golden_account_id varchar, activity_type varchar, "
        "occurred_at timestamp)"
    )
    con.executemany("insert into marts.activities values (?, ?, ?)", acts)
    con.execute(
        "create table marts.orders (golden_account_id varchar, order_date date, "
        "net_amount_cny double)"
    )
    con.execute("insert into marts.orders values ('A', '2024-01-01', 100.0)")
    return con


def test_engagement_features_as_of_the_lead_with_decay_and_last_touch():
    con = _warehouse()
    leads = lead_features(con, AS_OF, CFG).set_index("lead_id")
    a, b = leads.loc["L1"], leads.loc["L2"]
    hl = CFG.half_life_days
    assert a["engagement_decayed"] == pytest.approx(0.5 ** (10 / hl) + 0.5 ** (100 / hl))
    assert a["events_lookback"] == 3
    assert a["days_since_last_touch"] == pytest.approx(10)
    assert a["prior_paid_orders"] == 1
    # Nothing before B's lead: no decayed engagement, last touch "the whole look-back ago".
    assert b["engagement_decayed"] == 0 and b["events_lookback"] == 0
    assert b["days_since_last_touch"] == CFG.lookback_days


def test_accounts_scored_as_of_today_use_the_same_definitions():
    con = _warehouse()
    leads = lead_features(con, AS_OF, CFG).set_index("golden_account_id")
    accounts = lead_features(con, AS_OF, CFG, for_accounts=True).set_index("golden_account_id")
    assert set(CFG.numeric_features) <= set(accounts.columns)
    # A's lead was created at the run time: identical features.
    for f in CFG.numeric_features:
        assert accounts.loc["A", f] == pytest.approx(leads.loc["A", f]), f
    # B as of today sees the meeting 3 days ago that its older lead did not.
    assert accounts.loc["B", "days_since_last_touch"] == pytest.approx(3)
    assert accounts.loc["B", "engagement_decayed"] == pytest.approx(0.5 ** (3 / CFG.half_life_days))
    assert accounts.loc["B", "lead_source"] == "event"


def test_config_rejects_activity_type_names_unsafe_for_sql():
    with pytest.raises(ValueError, match="bad activity type"):
        ConversionConfig(version="1", activity_types=["meeting' or 1=1 --"])
