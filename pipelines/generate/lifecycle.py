"""Who becomes a customer, when, and when they stop: leads, conversion and churn.

All dates are integer days relative to ``as_of`` (day 0 is the as-of date; history is day <= -1,
the simulated future is days 0..364). Established customers started before the history window;
everyone else arrives through leads whose true conversion probability decides the outcome, so
the probability recorded in ground truth is the one that generated the data.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from pipelines.generate.companies import sigmoid
from pipelines.generate.reference import LEAD_SOURCE_EFFECT, LEAD_SOURCE_WEIGHTS

FUTURE_DAYS = 365
NEVER = 10_000  # sentinel day: "not within the simulated horizon"


def _leads(
    rng: np.random.Generator, co: pd.DataFrame, established: np.ndarray, history_days: int
) -> dict[str, np.ndarray]:
    """Every non-established company has 1-3 leads in the history, established ones 0-2
    (upsell); each converts with a probability driven by fit, propensity and source. Leads keep
    arriving after the as-of date (about one every three years per prospect, fewer for
    customers): never delivered, they make the future's new customers, as in any real year."""
    n = len(co)
    n_leads = np.where(established, rng.binomial(2, 0.35, size=n), 1 + rng.binomial(2, 0.3, size=n))
    n_future = rng.poisson(np.where(established, 0.12, 0.35))
    company = np.concatenate([np.repeat(np.arange(n), n_leads), np.repeat(np.arange(n), n_future)])
    m = len(company)
    source = rng.choice(len(LEAD_SOURCE_WEIGHTS), size=m, p=LEAD_SOURCE_WEIGHTS)
    created = np.concatenate(
        [
            rng.integers(-history_days, 0, size=int(n_leads.sum())),
            rng.integers(0, FUTURE_DAYS, size=int(n_future.sum())),
        ]
    )
    delay = 7 + rng.exponential(40.0, size=m).astype(np.int64)
    resolve = created + delay
    logit = (
        -0.5
        + 0.9 * co["fit"].to_numpy()[company]
        + 1.0 * co["z_prop"].to_numpy()[company]
        + np.asarray(LEAD_SOURCE_EFFECT)[source]
    )
    prob = sigmoid(logit)
    converts = rng.random(m) < prob
    status = np.where(resolve <= -1, np.where(converts, "converted", "lost"), "open")
    return {
        "company": company, "source": source, "created": created, "resolve": resolve,
        "prob": prob, "converts": converts, "status": status,
    }  # fmt: skip


def _first_purchase(
    rng: np.random.Generator, established: np.ndarray, start: np.ndarray, leads: dict
) -> np.ndarray:
    """A newcomer becomes a customer at its first converting lead (possibly after as_of: then
    the lead is still open today and the company is a prospect that converts in the future)."""
    n = len(established)
    converts = leads["converts"]
    conv = pd.DataFrame({"company": leads["company"][converts], "day": leads["resolve"][converts]})
    first_conv = conv.groupby("company")["day"].min()
    newcomer = ~established
    first = first_conv.reindex(np.arange(n)).to_numpy()
    converts_at = np.where(newcomer & ~np.isnan(first), np.nan_to_num(first, nan=NEVER), NEVER)
    converts_at = converts_at.astype(np.int64)
    lag = rng.integers(1, 31, size=n)
    start = np.where(newcomer & (converts_at < NEVER), converts_at + lag, start)
    return np.where(start >= FUTURE_DAYS, NEVER, start)


def _churn(
    rng: np.random.Generator, co: pd.DataFrame, start: np.ndarray, history_days: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Who churned before as_of (and when), and who stops within the simulated year after it.

    One churn process runs through the history and the simulated future alike: each customer
    stops at a constant yearly hazard set by value, propensity and risk, from the window's
    first day for established customers and after 90 days of tenure for newcomers. So the
    customers alive on any date stop in the following year at the same rates, whether that
    year lies in the history or after as_of. (Until 2026-12-03 churn before as_of and churn
    after it were drawn apart, 22% over the whole history against 17% within the first
    quarter after it: next year's churn was about 1.4 times what the history's rates per
    recency predicted, which no model of the history could know.)"""
    n = len(co)
    z_value, z_prop, risk = (co[c].to_numpy() for c in ("z_value", "z_prop", "risk_z"))
    yearly = sigmoid(-2.4 - 0.5 * z_value - 0.6 * z_prop + 0.5 * risk)
    exposed_from = np.where(start < -history_days, -history_days, start + 90)
    days = rng.exponential(365.0 / -np.log1p(-yearly), size=n).astype(np.int64)
    customer = start < NEVER
    end = np.where(customer & (exposed_from + days < FUTURE_DAYS), exposed_from + days, NEVER)
    churned = customer & (end <= -1)
    future_stop = customer & (end >= 0) & (end < FUTURE_DAYS)
    # Some new customers buy once and leave: the first order is their only one.
    newcomer = (start > -history_days) & (start < NEVER) & ~churned & ~future_stop
    once = newcomer & (rng.random(n) < sigmoid(-1.2 - 0.5 * z_value - 0.4 * z_prop))
    end[once] = start[once] + 1
    churned = churned | (once & (end <= -1))
    return end, churned, future_stop


def _crm_created(
    rng: np.random.Generator, established: np.ndarray, start: np.ndarray, leads: dict
) -> np.ndarray:
    """The CRM record exists before the first lead or order (at least a day before)."""
    n = len(established)
    past = leads["created"] <= -1  # a lead still to come says nothing about the record today
    first_lead = (
        pd.Series(leads["created"][past])
        .groupby(leads["company"][past])
        .min()
        .reindex(np.arange(n))
        .to_numpy()
    )
    first_touch = np.where(established, start, np.nan_to_num(first_lead, nan=-1))
    first_touch = np.minimum(first_touch, np.where(start < NEVER, start, first_touch))
    return first_touch.astype(np.int64) - np.where(
        established, rng.integers(10, 400, size=n), rng.integers(1, 60, size=n)
    )


def simulate_lifecycle(
    rng: np.random.Generator, co: pd.DataFrame, history_days: int
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Draw leads and each company's customer timeline.

    Returns ``(life, leads)``. ``life`` has one row per company: start_day (first paid order,
    NEVER for prospects that never convert), end_day (churn day, NEVER if it keeps buying),
    established, churned_before, future_stop, created_day (CRM record creation).
    ``leads`` has one row per lead: company, source_idx, created_day, created_sec, resolve_day,
    resolve_sec, status, true_conversion_probability; leads created on day 0 or later are the
    future's (not delivered).
    """
    n = len(co)
    # Roughly 40% of companies were already customers before the window opened.
    z_value, z_prop = co["z_value"].to_numpy(), co["z_prop"].to_numpy()
    established = rng.random(n) < sigmoid(-0.15 + 0.6 * z_value + 0.4 * z_prop)
    start = np.full(n, NEVER, dtype=np.int64)
    start[established] = -history_days - rng.integers(1, 6 * 365, size=established.sum())
    leads = _leads(rng, co, established, history_days)
    start = _first_purchase(rng, established, start, leads)
    end, churned, future_stop = _churn(rng, co, start, history_days)
    life = pd.DataFrame(
        {
            "start_day": start,
            "end_day": end,
            "established": established,
            "churned_before": churned,
            "future_stop": future_stop,
            "created_day": _crm_created(rng, established, start, leads),
        }
    )
    m = len(leads["company"])
    created_sec = rng.integers(8 * 3600, 20 * 3600, size=m)
    resolve_sec = rng.integers(8 * 3600, 20 * 3600, size=m)
    return life, pd.DataFrame(
        {
            "company": leads["company"],
            "source_idx": leads["source"],
            "created_day": leads["created"],
            "created_sec": created_sec,
            "resolve_day": leads["resolve"],
            "resolve_sec": resolve_sec,
            "status": leads["status"],
            "true_conversion_probability": leads["prob"],
        }
    )
