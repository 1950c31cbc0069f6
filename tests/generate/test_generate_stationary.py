"""The generated future follows the same laws as the generated history.

A model of the company's history can only be calibrated on next year if next year's customers
stop, and next year's prospects get leads, at the rates the history shows. Both are checked
here against the year before the as-of date, with the history's own previous year as the
yardstick of what one year to the next may differ.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from pipelines.generate import World
from pipelines.generate.companies import build_companies
from pipelines.generate.lifecycle import FUTURE_DAYS, simulate_lifecycle
from tests.generate.conftest import AS_OF

RECENCY_BINS = [-1, 30, 90, 180, 365]  # days since the last paid order on the reference day


def _paid_days(world: World, company_of: pd.Series) -> pd.DataFrame:
    o = world.orders
    paid = o[(o["status"] != "cancelled") & (o["amount_cny"] > o["refund_amount_cny"])]
    day = (pd.to_datetime(paid["order_date"]) - pd.Timestamp(AS_OF)).dt.days
    return pd.DataFrame({"company": paid["account_id"].map(company_of).to_numpy(), "day": day})


def _churn_by_recency(world: World, company_of: pd.Series, reference: int) -> pd.DataFrame:
    """Customers who bought in the year before ``reference`` (a day relative to as_of), by
    recency bin: how many, and the share with no paid order in the 365 days after it (the
    ground truth's future for reference 0)."""
    paid = _paid_days(world, company_of)
    last = paid[paid["day"] <= reference].groupby("company")["day"].max()
    recency = reference - last
    if reference < 0:
        after = paid[(paid["day"] > reference) & (paid["day"] <= reference + 365)]
        churn = ~recency.index.isin(after["company"])
    else:
        truth = world.truth_accounts[~world.truth_accounts["is_duplicate_record"]]
        future = truth.set_index("true_company_id")["future_orders_365d"]
        churn = future.reindex(recency.index).fillna(0).to_numpy() == 0
    frame = pd.DataFrame({"recency": recency.to_numpy(), "churn": churn})
    frame = frame[frame["recency"] <= RECENCY_BINS[-1]]
    return frame.groupby(pd.cut(frame["recency"], RECENCY_BINS), observed=True)["churn"].agg(
        ["size", "mean"]
    )


def _expected_over_observed(earlier: pd.DataFrame, later: pd.DataFrame) -> float:
    """Churn of the later year's customers over what the earlier year's rates per recency bin
    predict for them."""
    expected = (earlier["mean"] * later["size"]).sum()
    return float((later["mean"] * later["size"]).sum() / expected)


def test_customers_stop_next_year_as_they_did_last_year(
    world: World, company_of: pd.Series
) -> None:
    two_back, one_back, now = (_churn_by_recency(world, company_of, r) for r in (-730, -365, 0))
    within_history = _expected_over_observed(two_back, one_back)
    into_future = _expected_over_observed(one_back, now)
    print(f"\nchurn observed / expected from the year before: {within_history:.2f} in the "
          f"history, {into_future:.2f} into the future")  # fmt: skip
    assert now["size"].sum() > 1000
    # Recent buyers rarely stop, lapsed ones mostly do, in every year.
    for table in (two_back, one_back, now):
        assert table["mean"].iloc[0] < 0.1 and table["mean"].iloc[-1] > 0.35, table
    # The same rates a year on, within what a year of the history itself varies (until
    # 2026-12-03 the future's churn was 1.4-1.5 times the history's at every recency).
    assert 0.75 < within_history < 1.3
    assert 0.75 < into_future < 1.3


@pytest.mark.parametrize("seed", [3, 8])
def test_prospects_get_as_many_new_leads_after_as_of_as_before(seed: int) -> None:
    """Leads per company and year (the delivered history's last year against the simulated
    year after as_of), for companies without a paid order: the same rate, not fewer leads
    once the data ends."""
    rng = np.random.default_rng(seed)
    co = build_companies(rng, 6000)
    life, leads = simulate_lifecycle(rng, co, 3 * 365)
    prospect_then = life["start_day"].to_numpy() > -365  # no paid order a year before as_of
    first_lead = leads.groupby("company")["created_day"].min().reindex(range(len(life)))
    # a first lead before that year: every lead counted below is a later one
    chosen = np.flatnonzero(prospect_then & (first_lead.to_numpy() < -365))
    mine = leads[leads["company"].isin(chosen)]
    last_year = int(((mine["created_day"] >= -365) & (mine["created_day"] < 0)).sum())
    next_year = int(((mine["created_day"] >= 0) & (mine["created_day"] < FUTURE_DAYS)).sum())
    print(f"\nleads of {len(chosen)} prospects: {last_year} in the last year, {next_year} after")
    assert len(chosen) > 500 and last_year > 100
    # Poisson noise on a few hundred leads is under 10%.
    assert 0.8 < next_year / last_year < 1.25
