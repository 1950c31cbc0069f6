"""The backtest's arithmetic on small frames with known answers: capture, tier lift, the
probability metrics beside their baselines, and the losses the WARN check reports."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pandas as pd
import pytest

from pipelines.backtest.assets import snapshot_for
from pipelines.backtest.evaluate import backtest_rows, losses
from pipelines.history import SnapshotInfo


def _frames(n: int = 400, seed: int = 5) -> tuple[pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    ids = [f"G{i:04d}" for i in range(n)]
    paying = np.arange(n) < 300
    value = rng.gamma(1.5, 1000.0, n) * paying
    future = value * rng.lognormal(0, 0.3, n)
    tier = np.where(~paying, "P", np.where(value >= np.quantile(value[paying], 0.8), "B", "C"))
    tier = np.where(paying & (value >= np.quantile(value[paying], 0.95)), "A", tier)
    churned = paying & (rng.random(n) < 0.3)
    converts = ~paying & (rng.random(n) < 0.2)
    published = pd.DataFrame({
        "golden_account_id": ids, "tier": tier, "has_paid_order": paying,
        "net_revenue_365d": value, "expected_value_12m": np.where(paying, future, np.nan),
        "clv_12m": value, "churn_risk": np.where(paying, 0.3 + 0.6 * churned - 0.3 * rng.random(n), np.nan),
        "conversion_probability": np.where(paying, np.nan, 0.1 + 0.5 * converts * rng.random(n)),
    })  # fmt: skip
    facts = pd.DataFrame({
        "golden_account_id": ids,
        "next_net_revenue": np.where(churned, 0.0, future) + np.where(converts, 500.0, 0.0),
        "next_paid_orders": np.where(churned, 0, np.where(paying | converts, 3, 0)),
        "days_since_last_order": np.where(paying, rng.integers(1, 400, n), np.nan),
        "has_open_lead": converts & (rng.random(n) < 0.5),
    })  # fmt: skip
    # A perfect value model: next revenue itself.
    published["expected_value_12m"] = np.where(paying, facts["next_net_revenue"], np.nan)
    return published, facts


def test_capture_lift_and_probability_metrics():
    published, facts = _frames()
    rows = backtest_rows(published, facts, ["A", "B", "C", "P"], bins=5, seed=1)

    def value(subject, metric, k=None):
        sel = (rows["subject"] == subject) & (rows["metric"] == metric)
        if k is not None:
            sel &= rows["k"] == k
        return rows.loc[sel, "value"].item()

    # expected_value_12m is next revenue itself: it captures the most there is.
    paying = published["has_paid_order"]
    nxt = facts.loc[paying, "next_net_revenue"].clip(lower=0)
    top = nxt.sort_values(ascending=False).iloc[:60].sum() / nxt.sum()
    assert value("expected_value_12m", "capture", 0.2) == pytest.approx(top)
    for subject in ("tier_order", "expected_value_12m", "clv_12m", "trailing_revenue"):
        curve = [value(subject, "capture", k) for k in (0.05, 0.1, 0.2, 0.5)]
        assert curve == sorted(curve) and curve[0] > 0 and curve[-1] <= 1
    lift = rows[rows["target"] == "tiers"]
    shares = lift[lift["metric"] == "account_share"]
    assert shares["subject"].tolist() == ["A", "B", "C"] and shares["value"].sum() == pytest.approx(
        1
    )
    assert lift.loc[lift["metric"] == "revenue_share", "value"].sum() == pytest.approx(1)
    assert value("A", "account_share") == pytest.approx(15 / 300)
    # churn_risk was built to separate churners: it beats recency (random here).
    assert value("churn_risk", "auc") > 0.8 > value("days_since_last_order", "auc") + 0.2
    assert rows.loc[rows["subject"] == "days_since_last_order", "is_baseline"].all()
    deciles = rows[(rows["metric"] == "decile_observed") & (rows["subject"] == "churn_risk")]
    assert deciles["k"].tolist() == [1.0, 2.0, 3.0, 4.0, 5.0]
    assert value("base_rate", "auc") == 0.5
    assert value("conversion_probability", "observed_rate") == pytest.approx(
        (facts.loc[~paying, "next_paid_orders"] > 0).mean()
    )
    assert losses(rows, 0.01) == []


def test_a_score_that_loses_to_its_baseline_is_reported():
    published, facts = _frames()
    published["churn_risk"] = published["churn_risk"].sample(frac=1, random_state=3).to_numpy()
    facts["days_since_last_order"] = np.where(facts["next_paid_orders"] == 0, 500.0, 10.0)
    facts.loc[~published["has_paid_order"], "days_since_last_order"] = np.nan
    rows = backtest_rows(published, facts, ["A", "B", "C", "P"], bins=5, seed=1)
    found = losses(rows, 0.01)
    assert len(found) == 1 and found[0].startswith("churn_risk auc 0.")
    assert found[0].endswith("vs days_since_last_order 1.000")


def test_the_snapshot_one_horizon_back_is_the_in_force_one_within_the_slack():
    def info(day: date, created: str, sid: str) -> SnapshotInfo:
        return SnapshotInfo(sid, day.isoformat(), created, 1, "p", "r", "c", "run", "x", "h")

    ref = date(2025, 11, 20)
    snapshots = [
        info(ref - timedelta(10), "1", "too-old"),
        info(ref - timedelta(3), "1", "first"),
        info(ref - timedelta(3), "2", "rerun"),
        info(ref + timedelta(1), "1", "too-late"),
    ]
    assert snapshot_for(snapshots, ref, 7).snapshot_id == "rerun"
    assert snapshot_for(snapshots, ref, 2) is None


def test_headline_reads_the_current_snapshots_backtest(tmp_path, monkeypatch, capsys):
    import duckdb

    from pipelines.backtest import headline

    monkeypatch.setenv("STRATUM_DATA_DIR", str(tmp_path))
    (tmp_path / "serving").mkdir()
    assert headline.main() == 0
    assert "nothing published yet" in capsys.readouterr().out
    published, facts = _frames()
    rows = backtest_rows(published, facts, ["A", "B", "C", "P"], bins=5, seed=1)
    rows.insert(0, "backtest_from", date(2025, 11, 20))
    rows.insert(0, "horizon_days", 365)
    rows.insert(0, "snapshot_id", "S2")
    con = duckdb.connect(str(tmp_path / "serving" / "stratum_serving.duckdb"))
    con.execute("create table tier_backtest as select * from rows")
    con.execute(
        "create table tier_snapshots as select * from (values "
        "('S1', date '2026-11-20', false), ('S2', date '2026-11-20', true)) "
        "as t(snapshot_id, as_of_date, in_force)"
    )
    con.close()
    assert headline.main() == 0
    out = capsys.readouterr().out
    capture = rows.loc[(rows["subject"] == "tier_order") & (rows["k"] == 0.2), "value"].item()
    assert out.startswith("Backtest over 365 days (tiers published for 2025-11-20, judged")
    assert f"top 20% by tier order captured {capture:.1%} of revenue" in out
    assert "tier A: 5.0% of paying accounts" in out
