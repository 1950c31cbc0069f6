"""The landing tables and ground truth of a generated world, from the simulation's arrays.

Strings (ids, codes) are built once, in Arrow, from compact integer columns; each builder
consumes its inputs column by column to keep the peak memory low.
"""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from pipelines.generate.clock import to_date, to_timestamp
from pipelines.generate.events import simulate_risk, simulate_surveys
from pipelines.generate.orders import ORDER_STATUSES
from pipelines.generate.records import AccountRecords
from pipelines.generate.reference import (
    ACTIVITY_TYPES,
    CREDIT_RATINGS,
    LEAD_SOURCES,
    PRODUCT_LINES,
    SURVEY_COMMENTS_DETRACTOR,
    SURVEY_COMMENTS_PASSIVE,
    SURVEY_COMMENTS_PROMOTER,
)


def ids(prefix: str, n: int, start: int) -> pd.api.extensions.ExtensionArray:
    """Sequential ids ``<prefix><number>`` built in Arrow (no Python string per row)."""
    numbers = pc.cast(pa.array(np.arange(start, start + n, dtype=np.int64)), pa.string())
    return pd.array(pc.binary_join_element_wise(prefix, numbers, ""), dtype="str")


def take(values: pa.Array, idx: np.ndarray, valid: np.ndarray | None = None):
    """``values[idx]`` as a pandas string array, null where ``valid`` is False."""
    mask = None if valid is None else ~valid
    taken = pc.take(values, pa.array(idx, type=pa.int64(), mask=mask))
    return pd.array(taken, dtype="str")


def concat(parts: list[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    """Column-wise concatenation of chunk results, releasing the chunks as it goes."""
    out: dict[str, np.ndarray] = {}
    for name in list(parts[0]):
        out[name] = np.concatenate([part.pop(name) for part in parts])
    return out


def orders_table(as_of: date, o: dict[str, np.ndarray], account_ids: pa.Array) -> pd.DataFrame:
    """Order rows in time order. Consumes ``o`` column by column to keep the peak low."""
    # Order numbers follow time, as an order system issues them.
    order = np.lexsort((o["record"], o["sec"], o["day"]))
    day = o.pop("day")[order]
    frame = pd.DataFrame({"order_id": ids("SO", len(order), 1_000_000_001)})
    frame["account_id"] = take(account_ids, o.pop("record")[order])
    frame["order_date"] = to_date(as_of, day)
    frame["status"] = take(pa.array(ORDER_STATUSES), o.pop("status")[order])
    frame["amount_cny"] = o.pop("amount")[order]
    frame["refund_amount_cny"] = o.pop("refund")[order]
    frame["product_line"] = take(pa.array(PRODUCT_LINES), o.pop("product")[order])
    frame["updated_at"] = to_timestamp(
        as_of, day + o.pop("settle_days")[order], o.pop("sec")[order]
    )
    return frame


def activities_table(
    as_of: date, a: dict[str, np.ndarray], account_ids: pa.Array, contact_ids: pa.Array
) -> pd.DataFrame:
    order = np.lexsort((a["sec"], a["day"]))
    occurred = to_timestamp(as_of, a["day"][order], a["sec"][order])
    contact = a["contact"][order]
    return pd.DataFrame(
        {
            "activity_id": ids("EV", len(order), 10_000_000_001),
            "account_id": take(account_ids, a["record"][order]),
            "contact_id": take(contact_ids, np.maximum(contact, 0), valid=contact >= 0),
            "activity_type": take(pa.array(ACTIVITY_TYPES), a["type"][order]),
            "occurred_at": occurred,
            "updated_at": occurred,
            "is_deleted": np.zeros(len(order), dtype=bool),
        }
    )


def leads_tables(
    rng: np.random.Generator, as_of: date, raw: pd.DataFrame, records: AccountRecords
) -> tuple[pd.DataFrame, pd.DataFrame]:
    raw = raw.sort_values(["created_day", "created_sec", "company"], kind="stable")
    raw = raw.reset_index(drop=True)
    company = raw["company"].to_numpy()
    created_day = raw["created_day"].to_numpy()
    status = raw["status"].to_numpy(dtype=object)
    created_at = to_timestamp(as_of, created_day, raw["created_sec"].to_numpy())
    resolved_at = to_timestamp(as_of, raw["resolve_day"].to_numpy(), raw["resolve_sec"].to_numpy())
    resolved_at = np.maximum(resolved_at, created_at)
    touched = to_timestamp(
        as_of,
        created_day + (rng.random(len(raw)) * (-created_day)).astype(np.int64),
        rng.integers(0, 86_400, len(raw)),
    )
    is_open = status == "open"
    updated_at = np.where(is_open, np.maximum(touched, created_at), resolved_at)
    converted_at = pd.Series(resolved_at).where(status == "converted")
    lead_id = ids("LD", len(raw), 100_000_001)
    record = records.route(rng, company, created_day)
    leads = pd.DataFrame(
        {
            "lead_id": lead_id,
            "account_id": records.account_ids[record],
            "lead_source": np.array(LEAD_SOURCES, dtype=object)[raw["source_idx"].to_numpy()],
            "status": status,
            "created_at": created_at,
            "converted_at": converted_at.to_numpy(),
            "updated_at": updated_at.astype("datetime64[s]"),
            "is_deleted": rng.random(len(raw)) < 0.005,
        }
    )
    truth = pd.DataFrame(
        {
            "lead_id": lead_id,
            "true_company_id": _companyids(company),
            "true_conversion_probability": raw["true_conversion_probability"].to_numpy(),
            "status_at_as_of": status,
        }
    )
    return leads, truth


def surveys_table(
    rng: np.random.Generator,
    as_of: date,
    co: pd.DataFrame,
    life: pd.DataFrame,
    records: AccountRecords,
    contact_first: np.ndarray,
    contact_count: np.ndarray,
    contact_ids: np.ndarray,
    history_days: int,
) -> pd.DataFrame:
    s = simulate_surveys(
        rng,
        life["start_day"].to_numpy(),
        life["end_day"].to_numpy(),
        co["z_value"].to_numpy(),
        co["z_prop"].to_numpy(),
        co["propensity"].to_numpy(),
        history_days,
    )
    s = s.sort_values(["day", "company"], kind="stable").reset_index(drop=True)
    comp = s["company"].to_numpy()
    contact = contact_first[comp] + (rng.random(len(s)) * contact_count[comp]).astype(np.int64)
    pools = [SURVEY_COMMENTS_PROMOTER, SURVEY_COMMENTS_PASSIVE, SURVEY_COMMENTS_DETRACTOR]
    pick = rng.integers(0, 100, len(s))
    comment = np.full(len(s), None, dtype=object)
    for cat, pool in enumerate(pools):
        mask = (s["category"].to_numpy() == cat) & (rng.random(len(s)) < 0.45)
        comment[mask] = np.array(pool, dtype=object)[pick[mask] % len(pool)]
    csat = s["csat"].to_numpy().astype(float)
    csat[csat < 0] = np.nan
    return pd.DataFrame(
        {
            "response_id": ids("NPS", len(s), 100_000_001),
            "account_id": records.account_ids[records.route(rng, comp, s["day"].to_numpy())],
            "contact_id": np.where(rng.random(len(s)) < 0.9, contact_ids[contact], None),
            "survey_date": to_date(as_of, s["day"].to_numpy()),
            "nps_score": s["nps"].to_numpy(),
            "csat_score": pd.array(csat, dtype="Int64"),
            "comment": comment,
        }
    )


def risk_table(
    rng: np.random.Generator, as_of: date, co: pd.DataFrame, life: pd.DataFrame
) -> pd.DataFrame:
    churn_signal = (life["churned_before"] | life["future_stop"]).to_numpy().astype(float)
    r = simulate_risk(rng, co["risk_z"].to_numpy(), co["z_value"].to_numpy(), churn_signal)
    r = r.sort_values(["company", "day"]).reset_index(drop=True)
    comp = r["company"].to_numpy()
    rating = r["rating"].to_numpy()
    ratings = np.array(CREDIT_RATINGS, dtype=object)[np.maximum(rating, 0)]
    return pd.DataFrame(
        {
            "uscc": co["uscc"].to_numpy(dtype=object)[comp],
            "as_of_date": to_date(as_of, r["day"].to_numpy()),
            "credit_rating": np.where(rating >= 0, ratings, None),
            "overdue_amount_cny": r["overdue"].to_numpy(),
            "lawsuit_count": r["lawsuits"].to_numpy(),
            "abnormal_operation": r["abnormal"].to_numpy(),
            "company_name": co["name"].to_numpy(dtype=object)[comp],
        }
    )


def _companyids(company: np.ndarray) -> np.ndarray:
    return ("C" + pd.Series(company).astype(str).str.zfill(7)).to_numpy(dtype=object)


def truth_accounts(
    as_of: date,
    co: pd.DataFrame,
    life: pd.DataFrame,
    records: AccountRecords,
    orders: pd.DataFrame,
    future_orders: np.ndarray,
    future_net: np.ndarray,
) -> pd.DataFrame:
    n = len(co)
    # "Paying" is judged on what landed, so truth and warehouse agree on who is a customer.
    company_of_id = pd.Series(records.company, index=records.account_ids)
    paid = (orders["status"] != "cancelled") & (orders["amount_cny"] > orders["refund_amount_cny"])
    paying_companies = company_of_id.reindex(orders.loc[paid, "account_id"].unique()).to_numpy()
    paying = np.zeros(n, dtype=bool)
    paying[paying_companies] = True

    value = co["true_value"].to_numpy()
    rank = pd.Series(np.where(paying, value, np.nan)).rank(ascending=False, pct=True).to_numpy()
    segment = np.select(
        [~paying, rank <= 0.03, rank <= 0.20], ["prospect", "strategic", "key"], default="regular"
    )
    start = life["start_day"].to_numpy()
    churned = life["churned_before"].to_numpy() & paying
    company = records.company
    parent = co["parent"].to_numpy()
    return pd.DataFrame(
        {
            "account_id": records.account_ids,
            "true_company_id": _companyids(company),
            "is_duplicate_record": records.is_duplicate,
            "duplicate_kind": records.duplicate_kind,
            "true_value": value[company],
            "true_segment": segment[company],
            "engagement_propensity": co["propensity"].to_numpy()[company],
            "rate_growth": co["rate_growth"].to_numpy()[company],
            "churned_before_as_of": churned[company],
            "future_churn": (paying & (future_orders == 0))[company],
            "future_orders_365d": future_orders[company],
            "future_net_revenue_365d": np.round(future_net[company], 2),
            "true_parent_company_id": np.where(
                parent[company] >= 0, _companyids(np.maximum(parent[company], 0)), None
            ),
            "true_uscc": co["uscc"].to_numpy(dtype=object)[company],
            "is_branch_office": co["is_branch"].to_numpy()[company],
            "customer_since": pd.Series(to_date(as_of, np.minimum(start, 0)))
            .where(start <= -1)
            .to_numpy()[company],
            "churn_date": pd.Series(to_date(as_of, np.minimum(life["end_day"].to_numpy(), 0)))
            .where(churned)
            .to_numpy()[company],
            "is_deleted_record": records.table["is_deleted"].to_numpy(),
        }
    )
