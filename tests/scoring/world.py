"""A small synthetic world for the scoring tests: marts tables in a DuckDB file plus truth.

The order process follows the BG/NBD story (gamma purchase rates, a beta dropout chance after
each purchase) and is simulated a year past ``as_of``, so future revenue and churn are known.
Leads convert with a probability driven by engagement, industry and source. Stand-in for the
project generator until tests can use ``pipelines.generate.generate_world``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd

AS_OF = date(2026, 11, 20)
INDUSTRIES = ["saas", "ict", "logistics", "fmcg", "healthcare", "agricultural_inputs"]
SIZES = ["micro", "small", "medium", "large", "enterprise"]
REGIONS = ["华东", "华南", "华北", "西北"]
TYPES = [
    "web_visit",
    "content_download",
    "event_attendance",
    "email_open",
    "email_click",
    "meeting",
]


@dataclass
class World:
    path: Path
    truth: pd.DataFrame  # golden_account_id, future_net_revenue_365d, future_churn
    leads_truth: pd.DataFrame  # lead_id, true_conversion_probability


def _orders(rng: np.random.Generator, n: int, as_of: date) -> tuple[pd.DataFrame, pd.DataFrame]:
    start = pd.Timestamp(as_of) - pd.Timedelta(days=3 * 365)
    lam = rng.gamma(0.9, 1 / 25.0, n)  # purchases per day while alive
    p_drop = rng.beta(1.0, 6.0, n)
    spend = rng.lognormal(8.5, 0.8, n)
    buyer = rng.random(n) < 0.85
    first = rng.integers(0, 3 * 365 - 20, n)
    horizon = 3 * 365 + 365
    rows, future = [], np.zeros(n)
    alive_at_end = np.zeros(n, dtype=bool)
    for i in np.flatnonzero(buyer):
        t = float(first[i])
        alive = True
        while t < horizon:
            day = int(t)
            amount = float(rng.gamma(6.0, spend[i] / 6.0))
            if day < 3 * 365:
                rows.append((i, day, amount))
            else:
                future[i] += amount
            if rng.random() < p_drop[i]:
                alive = False
                break
            t += rng.exponential(1 / lam[i]) + 1
        # churned = makes no purchase in the year after as_of
        alive_at_end[i] = alive
    o = pd.DataFrame(rows, columns=["acc", "day", "amount_cny"])
    o["order_id"] = [f"O{k:07d}" for k in range(len(o))]
    o["golden_account_id"] = [f"G{a:05d}" for a in o["acc"]]
    o["order_date"] = (start + pd.to_timedelta(o["day"], unit="D")).dt.date
    status = rng.choice(
        ["completed", "refunded", "partially_refunded", "cancelled"],
        len(o),
        p=[0.88, 0.03, 0.05, 0.04],
    )
    o["status"] = status
    o["refund_amount_cny"] = np.select(
        [status == "refunded", status == "partially_refunded"],
        [o["amount_cny"], o["amount_cny"] * 0.3],
        0.0,
    )
    o["net_amount_cny"] = np.where(
        status == "cancelled", 0.0, o["amount_cny"] - o["refund_amount_cny"]
    )
    o["product_line"] = "core"
    truth = pd.DataFrame(
        {
            "golden_account_id": [f"G{a:05d}" for a in range(n)],
            "future_net_revenue_365d": future,
            "future_churn": buyer & (future == 0),
            "is_buyer": buyer,
        }
    )
    cols = [
        "order_id",
        "golden_account_id",
        "order_date",
        "status",
        "amount_cny",
        "refund_amount_cny",
        "net_amount_cny",
        "product_line",
    ]
    return o[cols], truth


def build_world(root: Path, n: int = 1200, seed: int = 7, as_of: date = AS_OF) -> World:
    rng = np.random.default_rng(seed)
    ids = np.array([f"G{a:05d}" for a in range(n)])
    engagement = rng.gamma(1.0, 1.0, n)
    industry = rng.choice(INDUSTRIES, n)
    ind_effect = (
        pd.Series(industry)
        .map(
            {
                "saas": 1.0,
                "ict": 0.8,
                "logistics": 0.0,
                "fmcg": -0.3,
                "healthcare": 0.2,
                "agricultural_inputs": -0.8,
            }
        )
        .to_numpy()
    )
    accounts = pd.DataFrame(
        {
            "golden_account_id": ids,
            "industry": np.where(rng.random(n) < 0.05, None, industry),
            "size_band": rng.choice(SIZES, n),
            "region": rng.choice(REGIONS, n),
            "employee_count": rng.integers(5, 5000, n),
            "annual_revenue_cny": rng.lognormal(17, 1.5, n),
            "credit_rating": rng.choice(["AAA", "AA", "A", "BBB", "BB", "B", "CCC"], n),
            "overdue_amount_cny": np.where(rng.random(n) < 0.1, rng.lognormal(12, 1.5, n), 0.0),
            "lawsuit_count": rng.poisson(0.2, n),
            "abnormal_operation": rng.random(n) < 0.03,
            "risk_as_of_date": [as_of - timedelta(days=int(d)) for d in rng.integers(0, 400, n)],
        }
    )
    orders, truth = _orders(rng, n, as_of)

    # Activities: about 25 per unit of engagement over two years.
    n_act = rng.poisson(engagement * 25)
    acc_idx = np.repeat(np.arange(n), n_act)
    age = rng.integers(0, 730 * 86400, len(acc_idx))
    activities = pd.DataFrame(
        {
            "activity_id": [f"A{k:07d}" for k in range(len(acc_idx))],
            "golden_account_id": ids[acc_idx],
            "activity_type": rng.choice(
                TYPES + ["unsubscribe"], len(acc_idx), p=[0.4, 0.1, 0.05, 0.3, 0.1, 0.04, 0.01]
            ),
            "occurred_at": pd.Timestamp(as_of)
            + pd.Timedelta(hours=23)
            - pd.to_timedelta(age, unit="s"),
        }
    )

    # Leads: created over two years; conversion depends on recent engagement, industry, source.
    n_leads = 2 * n
    l_acc = rng.integers(0, n, n_leads)
    created = pd.Timestamp(as_of) - pd.to_timedelta(rng.integers(1, 730, n_leads), unit="D")
    source = rng.choice(["web", "event", "referral", "advertising", "outbound", "partner"], n_leads)
    src_effect = (
        pd.Series(source)
        .map(
            {
                "referral": 1.2,
                "event": 0.6,
                "partner": 0.4,
                "web": 0.0,
                "advertising": -0.4,
                "outbound": -0.8,
            }
        )
        .to_numpy()
    )
    logit = -1.6 + 1.0 * np.log1p(engagement[l_acc] * 3) + ind_effect[l_acc] + src_effect
    p_true = 1 / (1 + np.exp(-logit))
    converted = rng.random(n_leads) < p_true
    days_old = (pd.Timestamp(as_of) - created).days.to_numpy()
    decided = days_old > rng.integers(10, 90, n_leads)
    status = np.where(decided, np.where(converted, "converted", "lost"), "open")
    leads = pd.DataFrame(
        {
            "lead_id": [f"L{k:06d}" for k in range(n_leads)],
            "golden_account_id": ids[l_acc],
            "lead_source": source,
            "status": status,
            "created_at": created,
            "converted_at": np.where(
                status == "converted", created + pd.Timedelta(days=20), pd.NaT
            ),
        }
    )
    path = root / "world.duckdb"
    con = duckdb.connect(str(path))
    con.execute("create schema marts")
    for name, frame in {
        "orders": orders,
        "activities": activities,
        "leads": leads,
        "_accounts": accounts,
    }.items():
        con.register("f", frame)
        con.execute(f"create table marts.{name} as select * from f")
        con.unregister("f")
    con.execute(CUSTOMER_360_SQL, {"as_of": as_of})
    con.close()
    lt = leads[["lead_id"]].assign(true_conversion_probability=p_true)
    return World(path, truth, lt)


# The slice of marts.customer_360 the scores read, derived the way the dbt mart defines it.
CUSTOMER_360_SQL = """
create table marts.customer_360 as
with o as (
    select golden_account_id,
        count(*) filter (where net_amount_cny > 0 and order_date > $as_of - 365) as orders_365d,
        count(*) filter (where net_amount_cny > 0) as orders_lifetime,
        coalesce(sum(net_amount_cny) filter (where order_date > $as_of - 365), 0) as net_revenue_365d,
        coalesce(sum(net_amount_cny) filter (where order_date > $as_of - 90), 0) as net_revenue_90d,
        coalesce(sum(net_amount_cny) filter (where order_date > $as_of - 180 and order_date <= $as_of - 90), 0) as net_revenue_prev_90d,
        sum(net_amount_cny) as net_revenue_lifetime,
        sum(refund_amount_cny) / nullif(sum(amount_cny), 0) as refund_rate,
        max(order_date) filter (where net_amount_cny > 0) as last_order_date
    from marts.orders group by 1
),
a as (
    select golden_account_id,
        count(*) filter (where occurred_at > $as_of - 90) as activities_90d
    from marts.activities group by 1
)
select acc.*,
    coalesce(o.orders_365d, 0) as orders_365d,
    coalesce(o.orders_lifetime, 0) as orders_lifetime,
    coalesce(o.net_revenue_365d, 0) as net_revenue_365d,
    coalesce(o.net_revenue_90d, 0) as net_revenue_90d,
    coalesce(o.net_revenue_prev_90d, 0) as net_revenue_prev_90d,
    coalesce(o.net_revenue_lifetime, 0) as net_revenue_lifetime,
    coalesce(o.refund_rate, 0) as refund_rate,
    date_diff('day', o.last_order_date, $as_of) as days_since_last_order,
    coalesce(o.orders_lifetime, 0) > 0 as has_paid_order,
    coalesce(a.activities_90d, 0) as activities_90d,
    $as_of as as_of_date
from marts._accounts as acc
left join o using (golden_account_id)
left join a using (golden_account_id)
"""
