"""How a score is judged against what happened: capture, rank correlation, AUC, Brier and
calibration. Plain NumPy/pandas functions, shared by the model contest and the backtest."""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.special import expit, logit
from scipy.stats import spearmanr
from sklearn.isotonic import IsotonicRegression
from sklearn.metrics import brier_score_loss, roc_auc_score

CAPTURE_SHARES = (0.05, 0.10, 0.20, 0.50)


def top_k_capture(score: np.ndarray, outcome: np.ndarray, share: float) -> float:
    """Share of the (non-negative) ``outcome`` held by the top ``share`` of rows by ``score``
    (missing scores last; ties in row order, so a constant score captures at random)."""
    score = np.asarray(score, dtype=float)
    outcome = np.clip(np.asarray(outcome, dtype=float), 0, None)
    total = outcome.sum()
    if len(score) == 0 or total <= 0:
        return float("nan")
    key = np.where(np.isnan(score), -np.inf, score)
    order = np.argsort(-key, kind="stable")
    k = int(round(len(score) * share))
    return float(outcome[order[:k]].sum() / total)


def spearman(score: np.ndarray, outcome: np.ndarray) -> float:
    """Spearman rank correlation (missing scores ranked lowest); NaN when either is constant."""
    score = np.nan_to_num(np.asarray(score, dtype=float), nan=-np.inf)
    if len(score) < 3 or np.unique(score).size < 2 or np.unique(outcome).size < 2:
        return float("nan")
    return float(spearmanr(score, outcome).statistic)


def auc(score: np.ndarray, label: np.ndarray) -> float:
    """ROC AUC, missing scores treated as the lowest; NaN with only one class."""
    label = np.asarray(label, dtype=int)
    if label.min(initial=0) == label.max(initial=0):
        return float("nan")
    score = np.asarray(score, dtype=float)
    filled = np.where(np.isnan(score), np.nanmin(score, initial=0.0) - 1.0, score)
    return float(roc_auc_score(label, filled))


def brier(probability: np.ndarray, label: np.ndarray) -> float:
    """Mean squared error of a probability; NaN without rows."""
    if len(label) == 0:
        return float("nan")
    return float(brier_score_loss(label, np.clip(probability, 0, 1)))


def isotonic(score: np.ndarray, label: np.ndarray) -> IsotonicRegression:
    """Score -> probability, monotone, fitted on (score, label); missing scores count lowest."""
    model = IsotonicRegression(out_of_bounds="clip", y_min=0.0, y_max=1.0)
    return model.fit(_filled(score), np.asarray(label, dtype=float))


# Weight of the model's own order inside one calibration step. A probability moves by at most
# this much; two steps closer than this may swap (immaterial); within a step of up to a few
# million accounts, neighbouring ranks stay apart by more than float64's resolution near 1.
ORDER_WEIGHT = 1e-9


def calibrated(calibrator: IsotonicRegression, score: np.ndarray, shift: float = 0.0) -> np.ndarray:
    """Isotonic probabilities of ``score`` that keep the score's order: accounts on one step
    of the calibration are ordered by their score (a nudge of ORDER_WEIGHT times their rank),
    so the calibrated probability ranks, and is judged by AUC, as the model's score does
    instead of tying whole steps; equal scores stay equal. ``shift`` moves every step by that
    many log-odds (:func:`shifted`) before the nudge, so the order stays the same."""
    filled = _filled(score)
    if len(filled) == 0:
        return filled
    rank = pd.Series(filled).rank(method="average", pct=True).to_numpy()
    return shifted(calibrator.predict(filled), shift) * (1.0 - ORDER_WEIGHT) + ORDER_WEIGHT * rank


# Probabilities are kept this far from 0 and 1 before a shift in log-odds (a step with no
# positive stays far below every other step after the shift).
_LOGIT_EPS = 1e-9


def shifted(probability: np.ndarray, shift: float) -> np.ndarray:
    """``probability`` moved by ``shift`` in log-odds (monotone; 0 changes nothing)."""
    probability = np.asarray(probability, dtype=float)
    if shift == 0.0:
        return probability
    clipped = np.clip(probability, _LOGIT_EPS, 1.0 - _LOGIT_EPS)
    return expit(logit(clipped) + shift)


def logit_shift(probability: np.ndarray, rate: float, bound: float) -> float:
    """The shift in log-odds (within +-``bound``) that makes the mean of ``probability``
    equal ``rate``: how far a model's probabilities missed the observed rate, as one number."""
    probability = np.asarray(probability, dtype=float)
    if bound == 0 or len(probability) == 0 or not 0.0 < rate < 1.0:
        return 0.0
    lo, hi = -bound, bound
    if shifted(probability, lo).mean() >= rate:
        return lo
    if shifted(probability, hi).mean() <= rate:
        return hi
    for _ in range(60):  # bisection: the mean is increasing in the shift
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if shifted(probability, mid).mean() < rate else (lo, mid)
    return (lo + hi) / 2


def _filled(score: np.ndarray) -> np.ndarray:
    score = np.asarray(score, dtype=float)
    return np.where(np.isnan(score), np.nanmin(score, initial=0.0) - 1.0, score)


def cross_fitted_probability(score: np.ndarray, label: np.ndarray, seed: int) -> np.ndarray:
    """Isotonic probabilities where each half of the rows is calibrated on the other half:
    an honest calibrated probability of a score on the window it is judged on."""
    n = len(score)
    half = np.random.default_rng(seed).permutation(n) < n // 2
    out = np.empty(n)
    for part in (half, ~half):
        if part.all() or not part.any():
            return isotonic(score, label).predict(_filled(score))
        out[part] = isotonic(score[~part], label[~part]).predict(_filled(score[part]))
    return out


def calibration_table(probability: np.ndarray, label: np.ndarray, bins: int) -> pd.DataFrame:
    """Mean predicted vs observed rate per bin of the probability (deciles for 10 bins).

    The bin edges are the probability's quantiles, as scikit-learn's ``calibration_curve``
    (``strategy="quantile"``) draws them, so equal probabilities share a bin: a rule that gives
    nine accounts in ten one probability makes one bin of them, not nine bins told apart by
    row order, whose differences would be sampling noise, not calibration. Bins are numbered
    from 0 in increasing probability; empty ones are left out, so ties make fewer bins."""
    p = np.asarray(probability, dtype=float)
    y = np.asarray(label, dtype=float)
    known = ~np.isnan(p)
    p, y = p[known], y[known]
    if len(y) == 0:
        return pd.DataFrame(columns=["bin", "n", "mean_predicted", "observed_rate"])
    edges = np.quantile(p, np.linspace(0.0, 1.0, min(bins, len(y)) + 1))
    _, dense = np.unique(np.searchsorted(edges[1:-1], p), return_inverse=True)
    frame = pd.DataFrame({"bin": dense, "p": p, "y": y})
    table = frame.groupby("bin").agg(
        n=("y", "size"), mean_predicted=("p", "mean"), observed_rate=("y", "mean")
    )
    return table.reset_index()
