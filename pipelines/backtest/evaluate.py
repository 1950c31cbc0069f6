"""Judge a published snapshot on what happened next, side by side with naive baselines.

Pure pandas over two frames: the snapshot's rows (tier and scores as published on the
reference date) and the realised outcomes with the baselines' inputs (:mod:`.outcomes`).
The result is long: one row per target, subject (a published score, tier order or a naive
baseline), metric and k (the top share for capture, the decile for calibration, the tier's
position for tier lift).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from pipelines.contracts import source_columns, types_of
from pipelines.scoring.models import metrics as m

# The columns of tiers.tier_backtest, from its contract (dbt_project/models/publish/_tiers__sources.yml).
BACKTEST_TYPES = types_of(source_columns("tiers", "tier_backtest"))
VALUE_SUBJECTS = {
    "tier_order": False,
    "expected_value_12m": False,
    "clv_12m": False,
    "trailing_revenue": True,
}


def _row(target, subject, baseline, metric, value, accounts, k=None) -> dict:
    return {"target": target, "subject": subject, "is_baseline": baseline, "metric": metric,
            "k": k, "value": float(value), "accounts": int(accounts)}  # fmt: skip


def value_rows(paying: pd.DataFrame, tier_codes: list[str]) -> list[dict]:
    """Capture curves and Spearman of tier order, the value scores and trailing revenue."""
    outcome = paying["next_net_revenue"].to_numpy(float)
    rank = {code: -float(i) for i, code in enumerate(tier_codes)}
    scores = {
        "tier_order": paying["tier"].map(rank).to_numpy(float),
        "expected_value_12m": paying["expected_value_12m"].to_numpy(float),
        "clv_12m": paying["clv_12m"].to_numpy(float),
        "trailing_revenue": paying["net_revenue_365d"].to_numpy(float),
    }
    rows = []
    for subject, score in scores.items():
        if np.isnan(score).all():  # a snapshot older than the score
            continue
        base = VALUE_SUBJECTS[subject]
        for share in m.CAPTURE_SHARES:
            capture = m.top_k_capture(score, outcome, share)
            rows.append(_row("value", subject, base, "capture", capture, len(paying), share))
        rows.append(
            _row("value", subject, base, "spearman", m.spearman(score, outcome), len(paying))
        )
    return rows


def tier_rows(paying: pd.DataFrame, tier_codes: list[str]) -> list[dict]:
    """Tier lift: each tier's share of accounts and of next revenue, and its retention."""
    total = paying["next_net_revenue"].clip(lower=0).sum()
    rows = []
    for position, code in enumerate(tier_codes):
        members = paying[paying["tier"] == code]
        if members.empty:
            continue
        n = len(members)
        revenue = members["next_net_revenue"].clip(lower=0).sum()
        retained = float((members["next_paid_orders"] > 0).mean())
        rows += [
            _row("tiers", code, False, "account_share", n / len(paying), n, position),
            _row("tiers", code, False, "revenue_share", revenue / total if total else np.nan, n, position),
            _row("tiers", code, False, "retention", retained, n, position),
        ]  # fmt: skip
    return rows


def _probability_rows(target, subject, baseline, prob, label, bins, seed) -> list[dict]:
    n = len(label)
    rows = [_row(target, subject, baseline, "auc", m.auc(prob, label), n)]
    calibrated = prob if not baseline else m.cross_fitted_probability(prob, label, seed)
    rows.append(_row(target, subject, baseline, "brier", m.brier(calibrated, label), n))
    rows.append(_row(target, subject, baseline, "mean_predicted", np.mean(calibrated), n))
    rows.append(_row(target, subject, baseline, "observed_rate", np.mean(label), n))
    if not baseline:
        table = m.calibration_table(calibrated, label, bins)
        for r in table.itertuples():
            rows.append(
                _row(target, subject, False, "decile_predicted", r.mean_predicted, r.n, r.bin + 1)
            )
            rows.append(
                _row(target, subject, False, "decile_observed", r.observed_rate, r.n, r.bin + 1)
            )
    return rows  # fmt: skip


def churn_rows(paying: pd.DataFrame, bins: int, seed: int) -> list[dict]:
    """Published churn risk vs days since the last order: AUC, Brier, calibration."""
    label = (paying["next_paid_orders"] == 0).to_numpy(int)
    known = paying["churn_risk"].notna().to_numpy()
    if label.min(initial=0) == label.max(initial=0) or not known.any():
        return []
    rows = _probability_rows(
        "churn",
        "churn_risk",
        False,
        paying["churn_risk"].to_numpy(float)[known],
        label[known],
        bins,
        seed,
    )
    recency = paying["days_since_last_order"].to_numpy(float)[known]
    return rows + _probability_rows("churn", "days_since_last_order", True, recency,
                                    label[known], bins, seed)  # fmt: skip


def conversion_rows(prospects: pd.DataFrame, bins: int, seed: int) -> list[dict]:
    """Published conversion probability vs the base rate and "has open lead"."""
    label = (prospects["next_paid_orders"] > 0).to_numpy(int)
    known = prospects["conversion_probability"].notna().to_numpy()
    if label.min(initial=0) == label.max(initial=0) or not known.any():
        return []
    label = label[known]
    prob = prospects["conversion_probability"].to_numpy(float)[known]
    lead = prospects["has_open_lead"].to_numpy(float)[known]
    rate = np.full(len(label), label.mean())
    return (
        _probability_rows("conversion", "conversion_probability", False, prob, label, bins, seed)
        + _probability_rows("conversion", "base_rate", True, rate, label, bins, seed)
        + _probability_rows("conversion", "has_open_lead", True, lead, label, bins, seed)
    )


def backtest_rows(
    published: pd.DataFrame, facts: pd.DataFrame, tier_codes: list[str], bins: int, seed: int
) -> pd.DataFrame:
    """Every metric of one snapshot against what followed it (accounts in both frames)."""
    df = published.merge(facts, on="golden_account_id", how="inner")
    paying = df[df["has_paid_order"].astype("boolean").fillna(False)]
    prospects = df[~df["has_paid_order"].astype("boolean").fillna(False)]
    rows = value_rows(paying, tier_codes) + tier_rows(paying, tier_codes)
    rows += churn_rows(paying, bins, seed) + conversion_rows(prospects, bins, seed)
    return pd.DataFrame(
        rows, columns=["target", "subject", "is_baseline", "metric", "k", "value", "accounts"]
    )


def losses(rows: pd.DataFrame, tolerance: float) -> list[str]:
    """Published scores (and tier order) that lose to their naive baseline, in words."""

    def metric(subject: str, name: str, k: float | None = None) -> float:
        sel = (rows["subject"] == subject) & (rows["metric"] == name)
        if k is not None:
            sel &= rows["k"] == k
        values = rows.loc[sel, "value"]
        return float(values.iloc[0]) if len(values) else np.nan

    checks = [
        ("tier_order", "trailing_revenue", "capture", 0.2, True),
        ("expected_value_12m", "trailing_revenue", "capture", 0.2, True),
        ("churn_risk", "days_since_last_order", "auc", None, True),
        ("conversion_probability", "has_open_lead", "auc", None, True),
        ("conversion_probability", "base_rate", "brier", None, False),
    ]
    found = []
    for subject, baseline, name, k, higher in checks:
        ours, theirs = metric(subject, name, k), metric(baseline, name, k)
        if np.isnan(ours) or np.isnan(theirs):
            continue
        lost = ours < theirs - tolerance if higher else ours > theirs + tolerance
        if lost:
            what = f"{name}@{int(k * 100)}%" if k else name
            found.append(f"{subject} {what} {ours:.3f} vs {baseline} {theirs:.3f}")
    return found
