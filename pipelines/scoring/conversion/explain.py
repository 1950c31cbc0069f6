"""Explanations and scores: each account's probability with its two strongest drivers.

Contributions are by perturbation: p(x) - p(x with one feature at its training baseline), for
the ``explain_features`` globally most important features only (one batched prediction per
feature), which keeps this vectorised for a million accounts. Without a model the probability
is the fit score / 100, labelled ``fit_fallback`` so BI can tell.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from pipelines.scoring.conversion.config import ConversionConfig
from pipelines.scoring.conversion.features import CATEGORICAL, account_rows, model_matrix
from pipelines.scoring.reasons import join_parts, mark_no_data


def explain(
    model: Any,
    X: pd.DataFrame,
    card: dict[str, Any],
    cfg: ConversionConfig,
    p: np.ndarray | None = None,
) -> pd.DataFrame:
    """Signed per-feature contributions by perturbation: p(x) - p(x with feature at baseline).

    Only the ``explain_features`` globally most important features are perturbed (one batched
    prediction per feature), which keeps this vectorised for a million accounts. ``p`` is
    ``model.predict_proba(X)[:, 1]`` when the caller already has it.
    """
    imp = card["permutation_importance"]
    top = sorted(imp, key=imp.get, reverse=True)[: cfg.explain_features]
    if p is None:
        p = model.predict_proba(X)[:, 1]
    contrib = {}
    for f in top:
        base = card["baselines"][f]
        # Rows already at the baseline contribute exactly 0: predict only the others. Features
        # such as prior_paid_orders are at their median (0) for most accounts, and the
        # calibrated ensemble's predict is the dominant cost at 1M accounts.
        differs = (X[f] != base).to_numpy() & X[f].notna().to_numpy()
        differs |= X[f].isna().to_numpy() & pd.notna(base)
        c = np.zeros(len(X))
        if differs.any():
            Xb = X.loc[differs].copy()
            Xb[f] = base
            c[differs] = p[differs] - model.predict_proba(Xb)[:, 1]
        contrib[f] = c
    return pd.DataFrame(contrib, index=X.index)


def fallback_scores(accounts: pd.DataFrame, message: str) -> pd.DataFrame:
    """No model: probability = fit_score / 100, labelled so BI can tell; null (reason
    "no data") where the fit score itself is unknown."""
    out = pd.DataFrame({"golden_account_id": accounts["golden_account_id"].to_numpy()})
    fit = pd.to_numeric(accounts["fit_score"], errors="coerce").to_numpy(dtype=float)
    out["conversion_probability"] = (fit / 100).clip(0, 1)
    out["conversion_source"] = "fit_fallback"
    out["conversion_reason"] = (
        "no conversion model (" + message.split(":")[0] + "); based on ICP fit"
    )
    out["conversion_reason_zh"] = "无转化模型，按画像匹配度估计"
    return mark_no_data(
        out,
        np.isnan(fit),
        ["conversion_probability"],
        ("conversion_reason", "conversion_reason_zh"),
        "no conversion model and no profile attributes",
        "无转化模型且无画像属性",
    )


def driver_text(X: pd.DataFrame, contrib: pd.DataFrame) -> pd.Series:
    """The two largest contributions per row in words, e.g. "engagement_events=3 +12 pts"
    (contributions under half a point are left out)."""
    labels = [
        (X[f].astype(str) if f in CATEGORICAL else X[f].round(1).astype(str))
        for f in contrib.columns
    ]
    names = (
        np.stack(
            [(f + "=" + lab).to_numpy() for f, lab in zip(contrib.columns, labels, strict=True)],
            axis=1,
        )
        if len(contrib.columns)
        else np.empty((len(X), 0))
    )
    vals = contrib.to_numpy() * 100
    order = np.argsort(-np.abs(vals), axis=1)[:, :2]
    rows = np.arange(len(X))
    parts = []
    for j in range(order.shape[1]):
        v = vals[rows, order[:, j]]
        s = pd.Series(names[rows, order[:, j]]) + " " + pd.Series(v).map("{:+.0f} pts".format)
        parts.append(s.where(np.abs(v) >= 0.5, ""))
    return join_parts(parts, ", ")


def score_accounts(
    model: Any, card: dict[str, Any], features: pd.DataFrame, cfg: ConversionConfig
) -> pd.DataFrame:
    """Per-account probability with the top contributing features in words.

    ``features``: rows of features.account_features (see ``ACCOUNT_FEATURE_COLUMNS``).
    """
    X = model_matrix(account_rows(features), cfg.features)
    p = model.predict_proba(X)[:, 1]
    contrib = explain(model, X, card, cfg, p)
    drivers = driver_text(X, contrib)
    percent = pd.Series((p * 100).round(0).astype(int)).astype(str)
    out = pd.DataFrame({"golden_account_id": features["golden_account_id"].to_numpy()})
    out["conversion_probability"] = p
    out["conversion_source"] = "model"
    out["conversion_reason"] = (
        "conversion " + percent + "%: " + drivers.replace("", "close to typical lead")
    )
    out["conversion_reason_zh"] = (
        "转化概率" + percent + "%：" + drivers.replace("", "与典型线索相近")
    )
    for f in contrib.columns:
        out[f"conversion_contrib_{f}"] = contrib[f].to_numpy()
    return out
