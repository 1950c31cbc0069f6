"""Orders: when each company buys, how much, and what becomes of the order.

Counts are Poisson draws per company; days are drawn by inverting the seasonal intensity
(December's flush changes from year to year) at each company's highest rate and thinned to its
rate on the day: purchase rates drift up or down by company (yearly log growth) and slow down
before a churn. Nothing here follows one model's assumptions: a steady rate until one dropout
day is BG/NBD's own world, in which trailing revenue is nearly an oracle. Days are integers
relative to as_of.
"""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd

from pipelines.generate.lifecycle import FUTURE_DAYS, NEVER
from pipelines.generate.reference import CNY_DATES, PRODUCT_LINE_WEIGHTS

# Order status codes; names are in ORDER_STATUSES.
ORDER_STATUSES = ("completed", "refunded", "partially_refunded", "cancelled")
P_CANCELLED = 0.027
P_REFUNDED = 0.014
P_PARTIAL = 0.028


def seasonality(as_of: date, history_days: int) -> np.ndarray:
    """Relative order intensity for each day from -history_days to FUTURE_DAYS-1 (mean 1).

    Q4 budget flush (December's strength changes from year to year), a rush in the four weeks
    before Chinese New Year, near silence during the holiday, a soft February and quiet weekends.
    """
    days = np.arange(-history_days, FUTURE_DAYS)
    dates = np.datetime64(as_of, "D") + days
    month = dates.astype("datetime64[M]").astype(np.int64) % 12 + 1
    weekday = (dates.astype(np.int64) + 3) % 7  # 1970-01-01 was a Thursday; Monday = 0
    year_of = dates.astype("datetime64[Y]").astype(np.int64) + 1970
    w = np.ones(len(days))
    w[np.isin(month, (10, 11))] *= 1.25
    w[month == 2] *= 0.75
    years = np.unique(year_of)
    for year in years:
        # The year-end flush changes from year to year (budgets, the economy): x1.2 to x1.8.
        w[(month == 12) & (year_of == year)] *= 1.2 + 0.6 * ((int(year) * 0.618034) % 1.0)
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
    """Orders per year at as_of: bigger customers buy more often (and bigger, see mean order
    value)."""
    return np.clip(7.0 * (true_value / 60_000.0) ** 0.4, 0.8, 300.0)


# Purchase rates drift: yearly log growth per company ~ N(0, GROWTH_SD), clipped.
GROWTH_SD = 0.3
GROWTH_LIMIT = 0.8
# Orders slow down over the ORDER_FADE_DAYS before a churn, to ORDER_FADE_FLOOR of the rate.
ORDER_FADE_DAYS = 150
ORDER_FADE_FLOOR = 0.3


def purchase_growth(rng: np.random.Generator, n: int) -> np.ndarray:
    """Each company's yearly log growth of its purchase rate: some grow, some decline."""
    return np.clip(rng.normal(0.0, GROWTH_SD, size=n), -GROWTH_LIMIT, GROWTH_LIMIT)


def _rate_shape(growth: np.ndarray, end: np.ndarray, day: np.ndarray) -> np.ndarray:
    """A company's purchase rate on ``day`` relative to its rate at as_of, before the bound:
    exp(growth * years from as_of), faded over the last ORDER_FADE_DAYS before its churn.

    The common factor exp(-GROWTH_SD^2 * years^2 / 2) keeps the market's mean rate level over
    time (E[exp(g t)] = exp(sd^2 t^2 / 2)): companies drift, the market does not shrink."""
    years = day / 365.0
    to_end = (end - day).astype(float)
    fade = np.where(
        (end < NEVER) & (to_end < ORDER_FADE_DAYS),
        np.clip(to_end / ORDER_FADE_DAYS, ORDER_FADE_FLOOR, 1.0),
        1.0,
    )
    return np.exp(growth * years - GROWTH_SD**2 * years**2 / 2.0) * fade


def _thin(
    rng: np.random.Generator,
    row: np.ndarray,
    day: np.ndarray,
    growth: np.ndarray,
    end: np.ndarray,
    bound: np.ndarray,
) -> np.ndarray:
    """Which candidate orders (drawn at the bounding rate) a company really placed."""
    accept = _rate_shape(growth[row], end[row], day) / bound[row]
    return rng.random(len(row)) < accept


def _order_days(
    rng: np.random.Generator,
    start: np.ndarray,
    end: np.ndarray,
    lam: np.ndarray,
    growth: np.ndarray,
    cum: np.ndarray,
    h: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Company row and day of every order, history and future; which ones are forced (a new
    customer's first order) and the position of each company's first history order.

    Candidates are drawn at each company's highest rate over the whole span (the seasonal
    intensity times the bound of its drift) and thinned to its rate on the day."""
    customer_now = start <= -1
    new_in_window = customer_now & (start >= -h)
    future_new = (start >= 0) & (start < FUTURE_DAYS)
    # History: [first day, min(end, 0)); a newcomer's first order is placed on its start day.
    hist_lo = np.where(new_in_window, start + 1, -h)
    hist_hi = np.maximum(np.where(customer_now, np.minimum(end, 0), hist_lo), hist_lo)
    fut_lo = np.where(future_new, start + 1, 0)
    fut_hi = np.where(start < FUTURE_DAYS, np.minimum(end, FUTURE_DAYS), fut_lo)
    fut_hi = np.maximum(np.where(customer_now | future_new, fut_hi, fut_lo), fut_lo)
    bound = np.exp(np.maximum(-growth * h, growth * FUTURE_DAYS) / 365.0)
    n_hist = rng.poisson(lam * bound * (cum[hist_hi + h] - cum[hist_lo + h]))
    # An established customer bought at least once in the window (that is what makes it one).
    established = customer_now & ~new_in_window & (hist_hi > hist_lo)
    n_hist = np.where(established & (n_hist == 0), 1, n_hist)
    n_fut = rng.poisson(lam * bound * (cum[fut_hi + h] - cum[fut_lo + h]))
    rows_h = np.repeat(np.arange(len(start)), n_hist)
    rows_f = np.repeat(np.arange(len(start)), n_fut)
    day_h = _draw_days(rng, cum, h, hist_lo[rows_h], hist_hi[rows_h])
    day_f = _draw_days(rng, cum, h, fut_lo[rows_f], fut_hi[rows_f])
    keep_h = _thin(rng, rows_h, day_h, growth, end, bound)
    keep_f = _thin(rng, rows_f, day_f, growth, end, bound)
    # Thinning may leave an established customer without an order: it keeps its first one.
    candidates, first_candidate = np.unique(rows_h, return_index=True)
    kept_any = np.bincount(rows_h[keep_h], minlength=len(start)) > 0
    lacking = established[candidates] & ~kept_any[candidates]
    keep_h[first_candidate[lacking]] = True
    rows_h, day_h = rows_h[keep_h], day_h[keep_h]
    rows_f, day_f = rows_f[keep_f], day_f[keep_f]
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
    growth: np.ndarray,
    cum: np.ndarray,
    history_days: int,
) -> pd.DataFrame:
    """Orders of one chunk of companies, history and simulated future alike.

    ``growth`` is each company's yearly log growth of its purchase rate (purchase_growth).
    Columns: company, day, status (code into ORDER_STATUSES), amount, refund, product (index),
    sec (time of day), settle_days (days until the last change: refunds come later).
    """
    lam = order_rate(true_value) / 365.0
    row, day, is_forced, first_hist = _order_days(rng, start, end, lam, growth, cum, history_days)
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
