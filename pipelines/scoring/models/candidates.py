"""The candidates of each prediction target, simplest first: a naive baseline, a probabilistic
purchase model (BG/NBD x Gamma-Gamma) where it applies, and gradient boosting on the
point-in-time account features.

A candidate is fitted on one window's rows and outcomes and returns a predictor: rows ->
scores (higher = more value / more likely to churn / to convert). Naive and BG/NBD candidates
learn nothing from the outcomes: BG/NBD is fitted on the purchase history of the rows it
scores, which ends on their reference date.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor

from pipelines.scoring import clv as clv_mod
from pipelines.scoring.models.config import ModelsConfig
from pipelines.scoring.models.matrix import CATEGORICAL, model_matrix, window

Predictor = Callable[[pd.DataFrame], np.ndarray]
# Gradient boosting reads a column only where at least this many rows of the fit know it.
MIN_KNOWN = 20


class Cache(dict):
    """A fit's remembered intermediate results (a window's BG/NBD outputs, the last fit's rows),
    which a stored model does not carry: it pickles empty and fills again on first use."""

    def __reduce__(self):
        return (Cache, ())


@dataclass(frozen=True)
class Candidate:
    """One way to predict a target; ``kind`` is naive, probabilistic or learned."""

    name: str
    kind: str
    description: str
    fit: Callable[[pd.DataFrame, np.ndarray], Predictor]


def _column(name: str, sign: float = 1.0) -> Callable[[pd.DataFrame, np.ndarray], Predictor]:
    def fit(rows: pd.DataFrame, y: np.ndarray) -> Predictor:
        return lambda r: sign * pd.to_numeric(r[name], errors="coerce").to_numpy(float)

    return fit


def _constant(rows: pd.DataFrame, y: np.ndarray) -> Predictor:
    rate = float(np.mean(y)) if len(y) else 0.0
    return lambda r: np.full(len(r), rate)


def _has_open_lead(rows: pd.DataFrame, y: np.ndarray) -> Predictor:
    def predict(r: pd.DataFrame) -> np.ndarray:
        open_leads = pd.to_numeric(r["leads_open"]).fillna(0).to_numpy() > 0
        won = r["has_converted_lead_without_order"].astype("boolean").fillna(False).to_numpy()
        return (open_leads | won).astype(float)

    return predict


# What BG/NBD x Gamma-Gamma reads of an account: a remembered fit serves rows that agree on it.
_SUMMARY = ["frequency", "recency", "T", "monetary_value"]


def bgnbd_outputs(
    clv_cfg: clv_mod.ClvConfig, horizon_days: int, windows: pd.DataFrame | None = None
):
    """BG/NBD x Gamma-Gamma fitted on the purchase history of a window (which ends on its
    reference date): per-row expected purchases, P(alive) and CLV over the horizon. One fit
    per window of ``windows`` (rows of features.account_windows in account order), on all its
    buyers, remembered: several candidates and targets (value, churn) read it, and a part of
    the window (the halves a calibration fits on, the sample gradient boosting fits on when
    the window exceeds max_train_rows) reads the window's fit, as the rows it is scored on later
    do. Rows whose purchase history the window does not hold (a stored model scoring a later
    day: the windows are not stored with it) get a fit of their own."""
    cfg = clv_cfg.model_copy(update={"horizon_days": float(horizon_days)})
    memo, source = Cache(), Cache(windows=windows)

    def outputs(rows: pd.DataFrame) -> pd.DataFrame:
        ids = rows["golden_account_id"]
        key = int(rows["periods_back"].iloc[0]) if len(rows) else -1
        summary = clv_mod.purchase_summary(rows, cfg.time_unit_days)
        if not _covers(memo.get(key), summary):
            if source.get("windows") is not None:
                whole = window(source["windows"], key, paying=True)
                whole = clv_mod.purchase_summary(whole, cfg.time_unit_days)
                if _covers(whole.set_index("golden_account_id"), summary):
                    summary = whole
            pred, _, _ = clv_mod.score_clv(summary, cfg)
            memo[key] = pred.set_index("golden_account_id")
        return memo[key].reindex(ids)

    return outputs


def _covers(fitted: pd.DataFrame | None, summary: pd.DataFrame) -> bool:
    """Whether ``fitted`` (a remembered fit's outputs by account) holds every account of
    ``summary`` with the same purchase history: then it has these rows' outputs."""
    if fitted is None:
        return False
    at = fitted.index.get_indexer(summary["golden_account_id"])
    if (at < 0).any():
        return False
    known = fitted[_SUMMARY].to_numpy(float)[at]
    return bool(np.array_equal(known, summary[_SUMMARY].to_numpy(float), equal_nan=True))


def _bgnbd(output: str, outputs):
    """A BG/NBD output as the score: ``clv_12m`` or ``churn_risk`` (1 - P(alive))."""

    def fit(rows: pd.DataFrame, y: np.ndarray) -> Predictor:
        return lambda r: outputs(r)[output].to_numpy(float)

    return fit


def _bgnbd_features(outputs):
    """BG/NBD x Gamma-Gamma outputs as features of the rows: stacked under gradient boosting,
    which learns where to trust them."""

    def features(rows: pd.DataFrame) -> pd.DataFrame:
        pred = outputs(rows)
        return pd.DataFrame(
            {
                "bgnbd_expected_purchases": pred["expected_purchases_12m"].to_numpy(float),
                "bgnbd_p_alive": pred["p_alive"].to_numpy(float),
                "bgnbd_clv": pred["clv_12m"].to_numpy(float),
            },
            index=rows.index,
        )

    return features


def _blend(first, second):
    """The mean of two candidates' predictions (a missing one counts 0)."""

    def fit(rows: pd.DataFrame, y: np.ndarray) -> Predictor:
        a, b = first(rows, y), second(rows, y)
        return lambda r: 0.5 * np.nan_to_num(a(r)) + 0.5 * np.nan_to_num(b(r))

    return fit


def _shared(fit):
    """One fit for every candidate built on it (hgb_value alone and inside the blend): the
    contest hands each candidate the same rows and outcomes, which give the same model, so
    only the first asks for a fit; and it judges them on the same rows, so the fit's last
    prediction is remembered too (a million-row prediction of 300 trees takes seconds)."""
    last = Cache()

    def shared(rows: pd.DataFrame, y: np.ndarray) -> Predictor:
        if last.get("rows") is not rows or last.get("y") is not y:
            last.clear()
            last.update(rows=rows, y=y, predictor=_remembering(fit(rows, y)))
        return last["predictor"]

    return shared


def _remembering(predictor: Predictor) -> Predictor:
    """``predictor`` answering a second call on the same rows (the same frame) from memory."""
    last = Cache()

    def predict(rows: pd.DataFrame) -> np.ndarray:
        if last.get("rows") is not rows:
            last.update(rows=rows, scores=predictor(rows))
        return last["scores"]

    return predict


def sample_rows(rows: pd.DataFrame, y: np.ndarray, limit: int, seed: int):
    """``rows`` and their outcomes ``y``, or a fixed-seed sample of ``limit`` of them (in their
    order) when there are more."""
    if len(rows) <= limit:
        return rows, y
    keep = np.sort(np.random.default_rng(seed).permutation(len(rows))[:limit])
    return rows.iloc[keep], y[keep]


def leaf_size(configured: int, rows: int) -> int:
    """Gradient boosting's smallest leaf for a fit on ``rows`` rows: the configured size, or a
    tenth of the rows it trains on (early stopping holds a tenth out) when that is smaller. A
    half of a small window, which a calibration fits on, would otherwise hold fewer rows than
    two leaves need, or than a group of a third of them (e.g. the prospects with an open lead):
    no split, or none on what matters, the same score for every account, and a calibration of
    those scores one probability for all. Fits on about 900 rows or more are unchanged."""
    return max(1, min(configured, int(rows * 0.9) // 10))


def _hgb(cfg: ModelsConfig, vocabulary: dict, regression: bool, extra=None):
    """Gradient boosting on the point-in-time features (plus ``extra(rows)`` columns)."""

    def matrix(rows: pd.DataFrame) -> pd.DataFrame:
        X = model_matrix(rows, vocabulary)
        return X if extra is None else pd.concat([X, extra(rows)], axis=1)

    def fit(rows: pd.DataFrame, y: np.ndarray) -> Predictor:
        rows, y = sample_rows(rows, y, cfg.max_train_rows, cfg.seed)
        X = matrix(rows)
        # A column with fewer than two distinct values or MIN_KNOWN known values in these rows
        # carries (almost) nothing: prospects have no order history, a small half of a window
        # may hold one NPS answer. Early stopping's split could also leave it without any value
        # in the part that is binned, which scikit-learn cannot bin. Left out of this fit.
        used = X.columns[(X.nunique() >= 2) & (X.notna().sum() >= MIN_KNOWN)].tolist()
        params = {
            **cfg.hgb.model_dump(),
            "min_samples_leaf": leaf_size(cfg.hgb.min_samples_leaf, len(y)),
            "categorical_features": np.isin(used, CATEGORICAL),
            "random_state": cfg.seed,
            # Always stop early on a held-out tenth: the rounds are a ceiling, not a target.
            "early_stopping": True,
        }
        if regression:
            model = HistGradientBoostingRegressor(loss="poisson", **params)
        else:
            model = HistGradientBoostingClassifier(**params)
        model.fit(X[used], y)
        if regression:
            return lambda r: model.predict(matrix(r)[used])
        return lambda r: model.predict_proba(matrix(r)[used])[:, 1]

    return fit


def candidates(
    target: str, cfg: ModelsConfig, clv_cfg: clv_mod.ClvConfig, vocabulary: dict, bgnbd=None
) -> list[Candidate]:
    """The candidates of ``target`` (value, churn or conversion), simplest first; ``bgnbd``
    (from :func:`bgnbd_outputs`) shares the BG/NBD fits with other targets' candidates."""
    hgb = "gradient boosting on point-in-time account features"
    bgnbd = bgnbd or bgnbd_outputs(clv_cfg, cfg.horizon_days)
    stacked = _bgnbd_features(bgnbd)
    if target == "value":
        hgb_value = _shared(_hgb(cfg, vocabulary, True, stacked))
        return [
            Candidate("trailing_revenue", "naive", "net revenue of the last 365 days",
                      _column("net_revenue_365d")),
            Candidate("bgnbd_gamma_gamma", "probabilistic", "BG/NBD x Gamma-Gamma CLV",
                      _bgnbd("clv_12m", bgnbd)),
            Candidate("hgb_value", "learned", hgb + " and BG/NBD outputs (Poisson loss)",
                      hgb_value),
            Candidate("blend_bgnbd_hgb", "learned", "mean of BG/NBD x Gamma-Gamma and hgb_value",
                      _blend(_bgnbd("clv_12m", bgnbd), hgb_value)),
        ]  # fmt: skip
    if target == "churn":
        return [
            Candidate("days_since_last_order", "naive", "days since the last paid order",
                      _column("days_since_last_paid_order")),
            Candidate("bgnbd_p_alive", "probabilistic", "1 - P(alive) of BG/NBD",
                      _bgnbd("churn_risk", bgnbd)),
            Candidate("hgb_churn", "learned", hgb + " and BG/NBD outputs",
                      _hgb(cfg, vocabulary, False, stacked)),
        ]  # fmt: skip
    if target == "conversion":
        return [
            Candidate("base_rate", "naive", "the prospects' conversion rate", _constant),
            Candidate("has_open_lead", "naive", "an open lead, or a converted one not yet ordered",
                      _has_open_lead),
            Candidate("hgb_conversion", "learned", hgb, _hgb(cfg, vocabulary, False)),
        ]  # fmt: skip
    raise ValueError(f"unknown target {target!r}")
