"""Stored trainings: which one a run may score with, the drift that retrains, and a stored
winner scoring exactly as it did when it was trained.

The asset's decisions on a generated world (a rerun scores with the stored training, a
drifted day retrains) are in tests/scoring/test_scoring_assets.py.
"""

from __future__ import annotations

import json
import pickle
from datetime import date, timedelta

import cloudpickle
import numpy as np
import pandas as pd
import pytest

from pipelines.scoring.models import predict, rescore_with
from pipelines.scoring.models import store as st
from pipelines.scoring.models.candidates import Cache
from pipelines.scoring.models.matrix import FEATURES
from tests.config_files import run_context

AS_OF = date(2026, 6, 30)


def test_stability_index_is_zero_for_the_same_scores_and_large_for_a_shifted_population():
    rng = np.random.default_rng(5)
    then = rng.normal(0, 1, 20_000)
    ref = st.reference(then)
    assert st.stability_index(ref, then) == pytest.approx(0.0, abs=1e-12)
    # Another draw of the same population: sampling noise only, well under the 0.1 of "stable".
    assert st.stability_index(ref, rng.normal(0, 1, 20_000)) < 0.02
    # Half a standard deviation moved: "moved"; a whole one: a different population.
    assert 0.1 < st.stability_index(ref, rng.normal(0.5, 1, 20_000)) < 0.4
    assert st.stability_index(ref, rng.normal(1.0, 1, 20_000)) > 0.6
    # Many equal values (no value for most accounts): the bins merge instead of failing.
    zeros = np.r_[np.zeros(9000), rng.gamma(2, 100, 1000)]
    assert st.stability_index(st.reference(zeros), zeros) == pytest.approx(0.0, abs=1e-12)
    half = np.r_[np.zeros(5000), rng.gamma(2, 100, 5000)]  # 50% with a value instead of 10%
    assert st.stability_index(st.reference(zeros), half) > 0.25
    # NaN (no data) is left out; a population that vanished or appeared always counts as drift.
    assert st.stability_index(ref, np.r_[then, np.full(50, np.nan)]) < 1e-4
    assert st.stability_index(ref, np.array([np.nan])) == np.inf
    assert st.stability_index(st.reference(np.array([])), then) == np.inf
    assert st.stability_index(st.reference(np.array([])), np.array([])) == 0.0


def _stored(models_dir, version: str, trained: date, rules: str = "r1", code: str = "c1"):
    folder = models_dir / "predictions" / version
    folder.mkdir(parents=True)
    card = {"model_version": version, "trained_as_of": trained.isoformat(), "rules_version": rules}
    (folder / "card.json").write_text(json.dumps(card))
    (folder / f"fitted-{code}.pkl").write_bytes(b"x")
    return folder


def test_a_run_scores_with_the_newest_training_within_the_schedule_under_its_rules_and_code(
    tmp_path,
):
    _stored(tmp_path, "m-8", AS_OF - timedelta(days=8))
    _stored(tmp_path, "m-6", AS_OF - timedelta(days=6))
    _stored(tmp_path, "m-2", AS_OF - timedelta(days=2))
    _stored(tmp_path, "m-1-other-rules", AS_OF - timedelta(days=1), rules="r2")
    _stored(tmp_path, "m-1-other-code", AS_OF - timedelta(days=1), code="c0")
    _stored(tmp_path, "m+1", AS_OF + timedelta(days=1))  # never a training after the date
    broken = _stored(tmp_path, "m-0-broken", AS_OF)
    (broken / "card.json").write_text("{not json")  # a card being written: not a candidate

    def found(as_of=AS_OF, days=7, rules="r1", code="c1"):
        path = st.latest(tmp_path, as_of, days, rules, code)
        return None if path is None else path.parent.name

    assert found() == "m-2"
    assert found(rules="r2") == "m-1-other-rules"
    assert found(code="c0") == "m-1-other-code"
    assert found(days=2) is None  # m-2 is 2 days old: outside a 2-day schedule
    assert found(days=3) == "m-2"
    assert found(as_of=AS_OF - timedelta(days=3)) == "m-6"
    assert found(as_of=AS_OF - timedelta(days=7)) == "m-8"
    assert found(days=1) is None  # train on every run
    # A modified checkout or an unknown version can never prove it is the same code.
    (tmp_path / "predictions" / "m-2" / "fitted-c1-dirty.pkl").write_bytes(b"x")
    assert found(code="c1-dirty") is None and found(code="unknown") is None
    # Two trainings of the same date: the higher model version, whatever the folder order.
    _stored(tmp_path, "m-2b", AS_OF - timedelta(days=2))
    assert found() == "m-2b"


def test_a_cache_is_stored_empty():
    cache = Cache()
    cache["window"] = pd.DataFrame({"x": range(1000)})
    assert pickle.loads(pickle.dumps(cache)) == {} and len(cache) == 1
    assert cloudpickle.loads(cloudpickle.dumps(cache)) == {}


def _windows(n: int, seed: int) -> pd.DataFrame:
    """Three reference dates of a book where value and churn follow recency and revenue and
    conversion follows open leads, with outcomes on the two older dates."""
    rng = np.random.default_rng(seed)
    frames = []
    for back in (2, 1, 0):
        paying = rng.random(n) < 0.7
        recency = rng.gamma(2, 60, n)
        revenue = rng.gamma(2, 5000, n) * paying
        days = rng.integers(1, 12, n).astype(float)
        first = recency + rng.integers(30, 700, n)
        leads = rng.integers(0, 3, n).astype(float)
        orders = np.where(
            paying,
            rng.poisson(np.clip(4 - recency / 60, 0.05, None)),
            rng.poisson(0.05 + 0.3 * (leads > 0)),
        )
        frame = pd.DataFrame({c: np.full(n, np.nan) for c in FEATURES})
        frame = frame.assign(
            golden_account_id=[f"GA-{i:05d}" for i in range(n)],
            periods_back=back,
            has_paid_order=paying,
            industry=rng.choice(["fmcg", "saas"], n),
            size_band=None, region=None, credit_rating=None, latest_lead_source=None,
            days_since_last_paid_order=np.where(paying, recency, np.nan),
            days_since_first_purchase=np.where(paying, first, np.nan),
            days_first_to_last_purchase=np.where(paying & (days > 1), first - recency, 0),
            purchase_days=np.where(paying, days, 0),
            repeat_purchase_mean_spend=np.where(paying & (days > 1), revenue / days, np.nan),
            net_revenue_365d=revenue,
            paid_orders_365d=np.where(paying, days, 0),
            leads_open=leads,
            account_age_days=rng.integers(30, 2000, n).astype(float),
            next_paid_orders=np.where(back > 0, orders, np.nan),
            next_net_revenue=np.where(back > 0, orders * rng.gamma(2, 2000, n), np.nan),
        )  # fmt: skip
        frames.append(frame)
    return pd.concat(frames, ignore_index=True).sort_values(
        ["golden_account_id", "periods_back"], ignore_index=True
    )


def test_a_stored_training_scores_exactly_as_it_did_when_trained_and_carries_no_rows(tmp_path):
    ctx = run_context(AS_OF)
    cfg, clv_cfg = ctx.config.rules("models"), ctx.config.rules("clv")
    windows = _windows(1500, seed=11)
    accounts = windows.loc[windows["periods_back"] == 0, "golden_account_id"]
    trained = predict(
        windows, accounts, cfg, clv_cfg, AS_OF, "v1", {"rules_version": "r1", "code_version": "c1"}
    )
    assert {r.winner for r in trained.results.values()} - {"trailing_revenue", "base_rate"}
    stored = st.StoredTraining.of(trained.model_version, AS_OF, trained.card, trained.results)
    assert st.save(tmp_path / "dirty", stored, "c1-dirty") is None
    assert not list((tmp_path / "dirty").rglob("*.pkl"))
    path = st.save(tmp_path, stored, "c1")
    assert path == tmp_path / "predictions" / trained.model_version / "fitted-c1.pkl"
    assert st.latest(tmp_path, AS_OF, 7, "r1", "c1") == path  # its card names it
    # The fitted winners without the windows they were fitted and judged on (the caches of
    # BG/NBD outputs and of the last fit pickle empty).
    assert path.stat().st_size < windows.memory_usage(deep=True).sum() / 4
    # Models and summaries only: no account id (the day's predictions are made by rescoring).
    assert b"GA-0" not in path.read_bytes()
    loaded = st.load(path)
    assert all(len(r.predictions) == 0 for r in loaded.results.values())
    again = rescore_with(loaded, windows, accounts)
    pd.testing.assert_frame_equal(again.scores, trained.scores, check_exact=True)
    assert again.model_version == trained.model_version and again.trained_as_of == AS_OF
    assert st.drift(loaded, {t: r.predictions for t, r in again.results.items()}) == {
        "value": 0.0, "churn": 0.0, "conversion": 0.0,
    }  # fmt: skip
    # A later date's rows: the same winners, each account scored on its new features.
    later = _windows(1500, seed=12)
    moved = rescore_with(loaded, later, accounts)
    assert {t: r.winner for t, r in moved.results.items()} == {
        t: r.winner for t, r in trained.results.items()
    }
    assert not moved.scores["churn_probability"].equals(trained.scores["churn_probability"])
