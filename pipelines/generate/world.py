"""Assemble a whole sample world: landing tables per contract entity plus ground truth."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

import numpy as np
import pandas as pd
import pyarrow as pa

from pipelines.generate import tables
from pipelines.generate.companies import build_companies
from pipelines.generate.contacts import build_contacts
from pipelines.generate.events import simulate_activities
from pipelines.generate.identity_dirt import DirtRates, add_lookalikes, spoil_contacts
from pipelines.generate.lifecycle import simulate_lifecycle
from pipelines.generate.orders import (
    ORDER_STATUSES,
    purchase_growth,
    seasonality,
    simulate_orders,
)
from pipelines.generate.records import AccountRecords, build_account_records
from pipelines.settings import ENTITIES

# Companies per chunk for the event samplers: bounds peak memory, fixed so results do not
# depend on machine size.
CHUNK = 50_000

# Stages of the simulation, each with its own random stream (so adding a column to one stage
# does not reshuffle the others).
_STREAMS = (
    "companies",
    "lifecycle",
    "records",
    "contacts",
    "orders",
    "activities",
    "surveys",
    "risk",
    "leads",
    "identity",
    "drift",
)


@dataclass
class World:
    """A generated market: one DataFrame per landing entity plus ground truth.

    Landing frames carry exactly the contract columns (``risk`` adds ``company_name``, an extra
    column the way risk providers deliver it). Timestamps are datetime64; dates are midnight.
    """

    as_of: date
    seed: int
    crm_accounts: pd.DataFrame
    crm_contacts: pd.DataFrame
    crm_leads: pd.DataFrame
    crm_activities: pd.DataFrame
    orders: pd.DataFrame
    risk: pd.DataFrame
    surveys: pd.DataFrame
    truth_accounts: pd.DataFrame
    truth_leads: pd.DataFrame
    stats: dict[str, float] = field(default_factory=dict)

    LANDING_ENTITIES = ENTITIES

    def landing_frames(self) -> dict[str, pd.DataFrame]:
        """The seven landing entities by contract name."""
        return {name: getattr(self, name) for name in self.LANDING_ENTITIES}


def _rng(seed: int, stream: str, chunk: int = 0) -> np.random.Generator:
    ss = np.random.SeedSequence(entropy=seed, spawn_key=(_STREAMS.index(stream), chunk))
    return np.random.default_rng(ss)


@dataclass
class _Events:
    """Orders and activities of every chunk (compact columns) and each company's future."""

    orders: list[dict[str, np.ndarray]] = field(default_factory=list)
    activities: list[dict[str, np.ndarray]] = field(default_factory=list)
    future_orders: np.ndarray | None = None
    future_net: np.ndarray | None = None


def _order_chunk(
    rng: np.random.Generator,
    idx: np.ndarray,
    co: pd.DataFrame,
    life: pd.DataFrame,
    records: AccountRecords,
    cum: np.ndarray,
    history_days: int,
    events: _Events,
) -> None:
    """One chunk's orders: history kept (routed to a CRM record), the future summed."""
    start, end = life["start_day"].to_numpy()[idx], life["end_day"].to_numpy()[idx]
    value, growth = co["true_value"].to_numpy()[idx], co["rate_growth"].to_numpy()[idx]
    o = simulate_orders(rng, idx, start, end, value, growth, cum, history_days)
    fut = o["day"].to_numpy() >= 0
    paid = o["status"].to_numpy() != ORDER_STATUSES.index("cancelled")
    net = np.where(paid, o["amount"].to_numpy() - o["refund"].to_numpy(), 0.0)
    np.add.at(events.future_orders, o["company"].to_numpy()[fut & paid], 1)
    np.add.at(events.future_net, o["company"].to_numpy()[fut], net[fut])
    o = o[~fut]
    part = {col: o[col].to_numpy() for col in o.columns if col != "company"}
    part["record"] = records.route(rng, o["company"].to_numpy(), o["day"].to_numpy()).astype(
        np.int32
    )
    events.orders.append(part)


def _activity_chunk(
    rng: np.random.Generator,
    idx: np.ndarray,
    co: pd.DataFrame,
    life: pd.DataFrame,
    records: AccountRecords,
    contacts: tuple[np.ndarray, np.ndarray, np.ndarray],
    history_days: int,
    events: _Events,
) -> None:
    """One chunk's activities, each by a known contact (85%) or routed to a CRM record."""
    contact_first, contact_count, contact_record = contacts
    a = simulate_activities(
        rng,
        idx,
        co["propensity"].to_numpy()[idx],
        co["z_value"].to_numpy()[idx],
        co["rate_growth"].to_numpy()[idx],
        life["start_day"].to_numpy()[idx],
        life["end_day"].to_numpy()[idx],
        life["created_day"].to_numpy()[idx],
        history_days,
    )
    comp = a["company"].to_numpy()
    known = rng.random(len(a)) < 0.85
    contact = contact_first[comp] + (rng.random(len(a)) * contact_count[comp]).astype(np.int64)
    routed = records.route(rng, comp, a["day"].to_numpy())
    events.activities.append(
        {
            "day": a["day"].to_numpy(),
            "sec": a["sec"].to_numpy(),
            "type": a["type"].to_numpy(),
            "record": np.where(known, contact_record[contact], routed).astype(np.int32),
            "contact": np.where(known, contact, -1).astype(np.int32),
        }
    )


def _simulate_events(
    seed: int,
    co: pd.DataFrame,
    life: pd.DataFrame,
    records: AccountRecords,
    contacts: tuple[np.ndarray, np.ndarray, np.ndarray],
    cum: np.ndarray,
    history_days: int,
) -> _Events:
    """Orders and activities, chunk by chunk (each chunk and stream has its own generator)."""
    n = len(co)
    events = _Events(future_orders=np.zeros(n, dtype=np.int64), future_net=np.zeros(n))
    for chunk_no, lo in enumerate(range(0, n, CHUNK)):
        idx = np.arange(lo, min(lo + CHUNK, n))
        _order_chunk(
            _rng(seed, "orders", chunk_no), idx, co, life, records, cum, history_days, events
        )
        _activity_chunk(
            _rng(seed, "activities", chunk_no), idx, co, life, records, contacts, history_days,
            events,
        )  # fmt: skip
    return events


def generate_world(
    n_accounts: int, seed: int, as_of: date, years: int = 3, dirt: DirtRates | None = None
) -> World:
    """Generate a deterministic sample world of ``n_accounts`` true companies.

    CRM account records are slightly more numerous than companies (duplicate records and
    look-alikes at the rates of ``dirt``, default :class:`DirtRates`). History
    covers ``years`` years up to the day before ``as_of``; the following 365 days are simulated
    too but only summarised in ``truth_accounts``.
    """
    if n_accounts < 1:
        raise ValueError("n_accounts must be positive")
    history_days = int(years * 365)
    co = build_companies(_rng(seed, "companies"), n_accounts)
    # Look-alikes draw from their own stream, so the market's other statistics stay as they were.
    identity_rng, dirt = _rng(seed, "identity"), dirt or DirtRates()
    add_lookalikes(identity_rng, co, dirt)
    life, leads_raw = simulate_lifecycle(_rng(seed, "lifecycle"), co, history_days)
    co["rate_growth"] = purchase_growth(_rng(seed, "drift"), len(co))
    records = build_account_records(_rng(seed, "records"), co, life, as_of, dirt)
    contacts, contact_first, contact_count = build_contacts(
        _rng(seed, "contacts"), co, life, records, as_of
    )
    contacts = spoil_contacts(identity_rng, co, contacts, records, contact_first, contact_count)
    contact_ids = contacts["contact_id"].to_numpy(dtype=object)
    # Record index of each contact's account, so activities can inherit it as an integer.
    contact_record = pd.Index(records.account_ids).get_indexer(contacts["account_id"].to_numpy())
    cum = np.concatenate([[0.0], np.cumsum(seasonality(as_of, history_days))])
    events = _simulate_events(
        seed, co, life, records, (contact_first, contact_count, contact_record), cum, history_days
    )
    account_ids = pa.array(records.account_ids, type=pa.string())
    orders = tables.orders_table(as_of, tables.concat(events.orders), account_ids)
    activities = tables.activities_table(
        as_of,
        tables.concat(events.activities),
        account_ids,
        pa.array(contact_ids, type=pa.string()),
    )
    delivered_leads = leads_raw[leads_raw["created_day"] <= -1]  # the future's are not delivered
    leads, truth_leads = tables.leads_tables(_rng(seed, "leads"), as_of, delivered_leads, records)
    surveys = tables.surveys_table(
        _rng(seed, "surveys"), as_of, co, life, records, contact_first, contact_count,
        contact_ids, history_days,
    )  # fmt: skip
    risk = tables.risk_table(_rng(seed, "risk"), as_of, co, life)
    truth = tables.truth_accounts(
        as_of, co, life, records, orders, events.future_orders, events.future_net
    )
    return World(
        as_of=as_of, seed=seed, crm_accounts=records.table, crm_contacts=contacts,
        crm_leads=leads, crm_activities=activities, orders=orders, risk=risk, surveys=surveys,
        truth_accounts=truth, truth_leads=truth_leads,
    )  # fmt: skip
