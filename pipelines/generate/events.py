"""Engagement activities, NPS surveys and risk assessments (orders: :mod:`.orders`).

Every sampler works on a chunk of companies and is vectorised within it: counts are Poisson
draws per company, dates uniform over the company's span and thinned where its intensity
changes (engagement fades before churn and follows the company's purchase growth). Days are
integers relative to as_of.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from pipelines.generate.lifecycle import NEVER
from pipelines.generate.reference import (
    ACTIVITY_MIX_DECLINING,
    ACTIVITY_MIX_NORMAL,
    ACTIVITY_TYPES,
)


def activity_rate(propensity: np.ndarray) -> np.ndarray:
    """Engagement events per year at full intensity."""
    return 0.8 + 14.0 * propensity**2


def simulate_activities(
    rng: np.random.Generator,
    companies: np.ndarray,
    propensity: np.ndarray,
    z_value: np.ndarray,
    growth: np.ndarray,
    start: np.ndarray,
    end: np.ndarray,
    created_day: np.ndarray,
    history_days: int,
) -> pd.DataFrame:
    """Engagement events (history only) of one chunk of companies.

    Intensity fades over the 180 days before a churn (past or coming), stays near zero after
    it, drifts upwards over time for healthy customers and follows half of the company's
    purchase growth (a growing customer engages more). Columns: company, day, sec, type.
    """
    lo = np.maximum(created_day + 1, -history_days)
    hi = np.zeros(len(companies), dtype=np.int64)
    span = np.maximum(hi - lo, 0)
    n = rng.poisson(activity_rate(propensity) * span / 365.0)
    row = np.repeat(np.arange(len(companies)), n)
    day = lo[row] + (rng.random(len(row)) * span[row]).astype(np.int64)

    e = end[row]
    to_end = (e - day).astype(float)
    churning = e < NEVER
    fade = np.where(churning & (to_end < 180), np.clip(to_end / 180.0, 0.1, 1.0), 1.0)
    fade = np.where(churning & (to_end < 0), 0.05, fade)
    healthy = (start[row] <= -1) & ~churning
    trend = np.where(healthy, 0.6 + 0.4 * (day - lo[row]) / np.maximum(span[row], 1), 1.0)
    g = 0.5 * growth[row]
    follows = np.exp(g * np.where(g > 0, day, day + history_days) / 365.0)  # at most 1
    keep = rng.random(len(row)) < fade * trend * follows
    row, day, fade = row[keep], day[keep], fade[keep]

    declining = fade < 1.0
    u = rng.random(len(row))
    type_normal = np.searchsorted(np.cumsum(ACTIVITY_MIX_NORMAL), u * sum(ACTIVITY_MIX_NORMAL))
    type_declining = np.searchsorted(
        np.cumsum(ACTIVITY_MIX_DECLINING), u * sum(ACTIVITY_MIX_DECLINING)
    )
    kind = np.where(declining, type_declining, type_normal)
    # Large accounts get more face time: some of their visits are meetings.
    meeting = ACTIVITY_TYPES.index("meeting")
    upgrade = (z_value[row] > 1.0) & (kind == 0) & (rng.random(len(row)) < 0.15)
    kind = np.where(upgrade, meeting, kind)
    return pd.DataFrame(
        {
            "company": companies[row],
            "day": day.astype(np.int32),
            "sec": rng.integers(7 * 3600, 23 * 3600, size=len(row)).astype(np.int32),
            "type": kind.astype(np.int8),
        }
    )


def simulate_surveys(
    rng: np.random.Generator,
    start: np.ndarray,
    end: np.ndarray,
    z_value: np.ndarray,
    z_prop: np.ndarray,
    propensity: np.ndarray,
    history_days: int,
) -> pd.DataFrame:
    """NPS answers of customers while they are customers (history only).

    Score follows value and engagement; in the 240 days before a churn detractors dominate.
    Columns: company, day, nps, csat (-1 for no answer), category (0 promoter, 1 passive,
    2 detractor).
    """
    lo = np.maximum(start, -history_days)
    hi = np.where(start <= -1, np.minimum(end, 0), lo)
    span = np.maximum(hi - lo, 0)
    n = rng.poisson(0.5 * span / 365.0 * (0.6 + propensity))
    row = np.repeat(np.arange(len(start)), n)
    day = lo[row] + (rng.random(len(row)) * span[row]).astype(np.int64)
    latent = 0.45 * z_value[row] + 0.6 * z_prop[row] + rng.normal(0.0, 0.7, size=len(row))
    pre_churn = (end[row] < NEVER) & (end[row] - day < 240)
    latent = latent - 1.6 * pre_churn
    nps = np.clip(np.round(7.6 + 1.6 * latent + rng.normal(0.0, 1.2, size=len(row))), 0, 10)
    csat = np.clip(np.round(3.9 + 0.6 * latent + rng.normal(0.0, 0.5, size=len(row))), 1, 5)
    csat = np.where(rng.random(len(row)) < 0.15, -1, csat)
    category = np.select([nps >= 9, nps >= 7], [0, 1], default=2)
    return pd.DataFrame(
        {
            "company": row,
            "day": day.astype(np.int32),
            "nps": nps.astype(np.int64),
            "csat": csat.astype(np.int64),
            "category": category.astype(np.int8),
        }
    )


def simulate_risk(
    rng: np.random.Generator,
    risk_z: np.ndarray,
    z_value: np.ndarray,
    churn_signal: np.ndarray,
) -> pd.DataFrame:
    """Risk-provider assessments: 1-3 dates per covered company within the last two years.

    Providers refresh most companies quarterly, so the latest assessment of ~85% of covered
    companies is under 120 days old; the rest have only older (stale) assessments.

    A minority is risky; risk leans towards companies that churn (``churn_signal``).
    Columns: company, day, rating (index into CREDIT_RATINGS, -1 unknown), overdue, lawsuits,
    abnormal.
    """
    n = len(risk_z)
    covered = rng.random(n) < 0.92
    k = np.where(covered, 1 + rng.binomial(2, 0.45, size=n), 0)
    row = np.repeat(np.arange(n), k)
    refreshed = rng.random(n) < 0.85
    first = np.r_[True, row[1:] != row[:-1]] if len(row) else np.zeros(0, dtype=bool)
    day = np.where(
        first & refreshed[row],
        rng.integers(-120, 0, size=len(row)),
        rng.integers(-730, -120, size=len(row)),
    )
    frame = pd.DataFrame({"company": row, "day": day}).drop_duplicates()
    row = frame["company"].to_numpy()
    r = (
        risk_z[row]
        + 0.8 * churn_signal[row]
        - 0.3 * z_value[row]
        + rng.normal(0.0, 0.3, size=len(row))
    )
    rating = np.searchsorted(np.array([-1.2, -0.6, 0.0, 0.5, 0.9, 1.3, 1.7, 2.1]), r)
    rating = np.where(rng.random(len(row)) < 0.04, -1, rating)
    overdue_p = 1.0 / (1.0 + np.exp(-2.0 * (r - 1.0)))
    has_overdue = (r > 0.5) & (rng.random(len(row)) < overdue_p)
    overdue = np.where(has_overdue, np.round(rng.lognormal(11.0, 1.2, size=len(row)), 2), 0.0)
    lawsuits = rng.poisson(0.05 + 0.8 * np.maximum(r - 0.8, 0.0))
    abnormal = (r > 1.5) & (rng.random(len(row)) < 0.35)
    frame = frame.assign(
        rating=rating, overdue=overdue, lawsuits=lawsuits.astype(np.int64), abnormal=abnormal
    )
    return frame.reset_index(drop=True)
