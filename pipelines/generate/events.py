"""Time-stamped behaviour: orders, engagement activities, NPS surveys and risk assessments.

Every sampler works on a chunk of companies and is vectorised within it: counts are Poisson
draws per company, dates are drawn by inverting a cumulative intensity (seasonality for orders)
or by thinning (engagement that fades before churn). Days are integers relative to as_of.
"""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd

from pipelines.generate.lifecycle import FUTURE_DAYS, NEVER
from pipelines.generate.reference import (
    ACTIVITY_MIX_DECLINING,
    ACTIVITY_MIX_NORMAL,
    ACTIVITY_TYPES,
    CNY_DATES,
    PRODUCT_LINE_WEIGHTS,
)

# Order status codes; names are in ORDER_STATUSES.
ORDER_STATUSES = ("completed", "refunded", "partially_refunded", "cancelled")
P_CANCELLED = 0.027
P_REFUNDED = 0.014
P_PARTIAL = 0.028


def seasonality(as_of: date, history_days: int) -> np.ndarray:
    """Relative order intensity for each day from -history_days to FUTURE_DAYS-1 (mean 1).

    Q4 budget flush, a rush in the four weeks before Chinese New Year, near silence during the
    holiday, a soft February and quiet weekends.
    """
    days = np.arange(-history_days, FUTURE_DAYS)
    dates = np.datetime64(as_of, "D") + days
    month = dates.astype("datetime64[M]").astype(np.int64) % 12 + 1
    weekday = (dates.astype(np.int64) + 3) % 7  # 1970-01-01 was a Thursday; Monday = 0
    w = np.ones(len(days))
    w[np.isin(month, (10, 11))] *= 1.25
    w[month == 12] *= 1.45
    w[month == 2] *= 0.75
    years = np.unique(dates.astype("datetime64[Y]").astype(np.int64) + 1970)
    for year in years:
        cny = np.datetime64(CNY_DATES.get(int(year), f"{int(year)}-02-05"), "D")
        dist = (dates - cny).astype(np.int64)
        w[(dist >= -28) & (dist <= -3)] *= 1.5
        w[(dist >= -2) & (dist <= 10)] *= 0.15
    w[weekday >= 5] *= 0.3
    return w / w.mean()


def _draw_days(
    rng: np.random.Generator, cum: np.ndarray, offset: int, lo: np.ndarray, hi: np.ndarray
) -> np.ndarray:
    """One day per row in [lo, hi) with probability proportional to the intensity ``cum``."""
    a = cum[lo + offset]
    b = cum[hi + offset]
    u = a + rng.random(len(lo)) * (b - a)
    k = np.searchsorted(cum, u, side="right") - 1
    return np.clip(k - offset, lo, hi - 1)


def order_rate(true_value: np.ndarray) -> np.ndarray:
    """Orders per year: bigger customers buy more often (and bigger, see mean order value)."""
    return np.clip(7.0 * (true_value / 60_000.0) ** 0.4, 0.8, 300.0)


def _order_days(
    rng: np.random.Generator,
    start: np.ndarray,
    end: np.ndarray,
    lam: np.ndarray,
    cum: np.ndarray,
    h: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Company row and day of every order, history and future; which ones are forced (a new
    customer's first order) and the position of each company's first history order."""
    customer_now = start <= -1
    new_in_window = customer_now & (start >= -h)
    future_new = (start >= 0) & (start < FUTURE_DAYS)
    # History: [first day, min(end, 0)); a newcomer's first order is placed on its start day.
    hist_lo = np.where(new_in_window, start + 1, -h)
    hist_hi = np.maximum(np.where(customer_now, np.minimum(end, 0), hist_lo), hist_lo)
    fut_lo = np.where(future_new, start + 1, 0)
    fut_hi = np.where(start < FUTURE_DAYS, np.minimum(end, FUTURE_DAYS), fut_lo)
    fut_hi = np.maximum(np.where(customer_now | future_new, fut_hi, fut_lo), fut_lo)
    n_hist = rng.poisson(lam * (cum[hist_hi + h] - cum[hist_lo + h]))
    # An established customer bought at least once in the window (that is what makes it one).
    n_hist = np.where(
        customer_now & ~new_in_window & (n_hist == 0) & (hist_hi > hist_lo), 1, n_hist
    )
    n_fut = rng.poisson(lam * (cum[fut_hi + h] - cum[fut_lo + h]))
    rows_h = np.repeat(np.arange(len(start)), n_hist)
    rows_f = np.repeat(np.arange(len(start)), n_fut)
    day_h = _draw_days(rng, cum, h, hist_lo[rows_h], hist_hi[rows_h])
    day_f = _draw_days(rng, cum, h, fut_lo[rows_f], fut_hi[rows_f])
    forced = np.flatnonzero(new_in_window | future_new)
    row = np.concatenate([forced, rows_h, rows_f])
    day = np.concatenate([start[forced], day_h, day_f])
    is_forced = np.zeros(len(row), dtype=bool)
    is_forced[: len(forced)] = True
    first_hist = len(forced) + np.unique(rows_h, return_index=True)[1]
    return row, day, is_forced, first_hist


def _order_status(
    rng: np.random.Generator, amount: np.ndarray, keep: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Status code, refund and days until the last change; orders at ``keep`` are completed."""
    n = len(amount)
    u = rng.random(n)
    status = np.select(
        [u < P_CANCELLED, u < P_CANCELLED + P_REFUNDED, u < P_CANCELLED + P_REFUNDED + P_PARTIAL],
        [3, 1, 2],
        default=0,
    ).astype(np.int8)
    # The first order of a new customer is what made it a customer, and an established customer
    # has at least one order that stuck: neither may be cancelled or refunded.
    status[keep] = 0
    refund = np.where(
        status == 1,
        amount,
        np.where(status == 2, np.round(amount * rng.uniform(0.1, 0.6, size=n), 2), 0.0),
    )
    settle = np.where(
        (status == 1) | (status == 2), rng.integers(1, 30, size=n), rng.integers(0, 2, size=n)
    )
    return status, refund, settle


def simulate_orders(
    rng: np.random.Generator,
    companies: np.ndarray,
    start: np.ndarray,
    end: np.ndarray,
    true_value: np.ndarray,
    cum: np.ndarray,
    history_days: int,
) -> pd.DataFrame:
    """Orders of one chunk of companies, history and simulated future alike.

    Columns: company, day, status (code into ORDER_STATUSES), amount, refund, product (index),
    sec (time of day), settle_days (days until the last change: refunds come later).
    """
    lam = order_rate(true_value) / 365.0
    row, day, is_forced, first_hist = _order_days(rng, start, end, lam, cum, history_days)
    # Mean order value makes expected yearly revenue equal the company's true value.
    mean_value = true_value[row] / (lam[row] * 365.0)
    amount = mean_value * rng.lognormal(-0.245, 0.7, size=len(row))
    round_hundreds = (amount > 2_000) & (rng.random(len(row)) < 0.4)
    amount = np.where(round_hundreds, np.round(amount / 100.0) * 100.0, np.round(amount, 2))
    amount = np.maximum(amount, 50.0)
    keep = np.zeros(len(row), dtype=bool)
    keep[is_forced] = True
    keep[first_hist] = True
    status, refund, settle = _order_status(rng, amount, keep)
    product = rng.choice(len(PRODUCT_LINE_WEIGHTS), size=len(row), p=PRODUCT_LINE_WEIGHTS)
    return pd.DataFrame(
        {
            "company": companies[row],
            "day": day.astype(np.int32),
            "status": status,
            "amount": amount,
            "refund": refund,
            "product": product.astype(np.int8),
            "sec": rng.integers(9 * 3600, 18 * 3600, size=len(row)).astype(np.int32),
            "settle_days": settle.astype(np.int32),
        }
    )


def activity_rate(propensity: np.ndarray) -> np.ndarray:
    """Engagement events per year at full intensity."""
    return 0.8 + 14.0 * propensity**2


def simulate_activities(
    rng: np.random.Generator,
    companies: np.ndarray,
    propensity: np.ndarray,
    z_value: np.ndarray,
    start: np.ndarray,
    end: np.ndarray,
    created_day: np.ndarray,
    history_days: int,
) -> pd.DataFrame:
    """Engagement events (history only) of one chunk of companies.

    Intensity fades over the 180 days before a churn (past or coming), stays near zero after
    it, and drifts upwards over time for healthy customers. Columns: company, day, sec, type.
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
    keep = rng.random(len(row)) < fade * trend
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
