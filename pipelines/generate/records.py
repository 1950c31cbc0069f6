"""CRM records as people typed them: account records (with duplicates) and contacts, with dirt.

The true companies are clean; this module decides which CRM account records exist for each of
them (one primary record, sometimes a duplicate), routes events to records, and spoils values
the way real CRMs are spoiled: spacing, spelling variants, missing fields, mixed formats.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np
import pandas as pd

from pipelines.generate.clock import to_timestamp
from pipelines.generate.identity_dirt import (
    DirtRates,
    choose_duplicates,
    lookalike_labels,
    spoil_duplicates,
)
from pipelines.generate.lifecycle import NEVER
from pipelines.generate.reference import (
    INDUSTRIES,
    OWNER_TEAMS,
)

P_ROUTE_TO_DUP = 0.35


@dataclass
class AccountRecords:
    """CRM account records. Records 0..n_companies-1 are the primaries, in company order."""

    table: pd.DataFrame  # crm_accounts landing columns
    company: np.ndarray  # true company index per record
    is_duplicate: np.ndarray
    duplicate_kind: np.ndarray  # object: None or one of identity_dirt's KIND_* labels
    dup_record: np.ndarray  # per company: index of its duplicate record, or -1
    dup_created_day: np.ndarray  # per company: day the duplicate was created, or NEVER

    account_ids: np.ndarray  # object array of account_id per record (cached: used per event)

    def route(self, rng: np.random.Generator, company: np.ndarray, day: np.ndarray) -> np.ndarray:
        """Record index for events of ``company`` on ``day``.

        Once a duplicate record exists, sales reps book some of the company's orders, contacts
        and activities against it.
        """
        dup = self.dup_record[company]
        use_dup = (dup >= 0) & (day >= self.dup_created_day[company])
        use_dup &= rng.random(len(company)) < P_ROUTE_TO_DUP
        return np.where(use_dup, dup, company)


def digit_strings(
    rng: np.random.Generator, n: int, k: int, first_nonzero: bool = False
) -> np.ndarray:
    """``n`` random strings of ``k`` digits, built without Python loops."""
    digits = rng.integers(0, 10, size=(n, k), dtype=np.uint32)
    if first_nonzero and k:
        digits[:, 0] = rng.integers(1, 10, size=n, dtype=np.uint32)
    codes = np.ascontiguousarray(digits + ord("0"))
    return codes.view(f"<U{k}").ravel().astype(object)


def pad(rng: np.random.Generator, values: np.ndarray, rate: float) -> np.ndarray:
    """Add stray leading/trailing spaces to a fraction of string values."""
    out = values.copy()
    hit = rng.random(len(out)) < rate
    side = rng.integers(0, 3, size=len(out))
    ok = hit & pd.notna(out)
    out[ok & (side == 0)] = " " + out[ok & (side == 0)]
    out[ok & (side == 1)] = out[ok & (side == 1)] + " "
    out[ok & (side == 2)] = "  " + out[ok & (side == 2)] + " "
    return out


def _industry_labels(rng: np.random.Generator, industry_idx: np.ndarray) -> np.ndarray:
    """Industry as typed: mostly the canonical label, some variants, ~3% missing."""
    canonical = np.array([ind.name for ind in INDUSTRIES], dtype=object)[industry_idx]
    out = canonical.copy()
    use_variant = rng.random(len(out)) < 0.08
    pick = rng.integers(0, 10, size=len(out))
    for i, ind in enumerate(INDUSTRIES):
        mask = use_variant & (industry_idx == i)
        options = np.array(ind.variants, dtype=object)
        out[mask] = options[pick[mask] % len(options)]
    out[rng.random(len(out)) < 0.03] = None
    return out


def _duplicates(
    rng: np.random.Generator, co: pd.DataFrame, created: np.ndarray, dirt: DirtRates
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Which companies get a duplicate record and of which kind (``dirt``'s rates), the company
    of every record and each record's kind (look-alike labels on the primaries)."""
    n = len(co)
    eligible = np.flatnonzero(created <= -3)
    dup_companies, dup_kinds = choose_duplicates(rng, eligible, n, dirt)
    company = np.concatenate([np.arange(n), dup_companies])
    kind = np.concatenate([lookalike_labels(co), dup_kinds]).astype(object)
    return dup_companies, dup_kinds, company, kind


def _spoiled_fields(
    rng: np.random.Generator, co: pd.DataFrame, dup_companies: np.ndarray, dup_kinds: np.ndarray
) -> dict[str, np.ndarray]:
    """Name, USCC, province and city of every record: the primaries' as registered (a few
    padded names, a few codes missing, never those whose duplicate is matched by code), the
    duplicates' spoiled as their kind says."""
    n = len(co)
    spoiled = spoil_duplicates(rng, co, dup_companies, dup_kinds)
    names = np.concatenate([co["name"].to_numpy(dtype=object), spoiled["name"]])
    names = pad(rng, names, 0.015)
    uscc = np.concatenate([co["uscc"].to_numpy(dtype=object), spoiled["uscc"]])
    drop = rng.random(n) < 0.02
    drop[dup_companies[pd.notna(spoiled["uscc"])]] = False
    uscc[:n][drop] = None
    return {
        "account_name": names,
        "uscc": uscc,
        "province": np.concatenate([co["province"].to_numpy(dtype=object), spoiled["province"]]),
        "city": np.concatenate([co["city"].to_numpy(dtype=object), spoiled["city"]]),
    }


def _attributes(
    rng: np.random.Generator, co: pd.DataFrame, company: np.ndarray, is_dup: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Head count (a duplicate's may wobble), revenue (some missing) and owner team (half
    the duplicates were filed by another team)."""
    employees = co["employees"].to_numpy()[company].astype(float)
    wobble = is_dup & (rng.random(len(company)) < 0.3)
    employees[wobble] = np.round(employees[wobble] * rng.uniform(0.8, 1.2, wobble.sum()))
    employees[rng.random(len(company)) < 0.04] = np.nan
    revenue = co["annual_revenue_cny"].to_numpy()[company].copy()
    revenue[rng.random(len(company)) < 0.06] = np.nan
    owner = co["owner_team"].to_numpy(dtype=object)[company].copy()
    reassign = is_dup & (rng.random(len(company)) < 0.5)
    owner[reassign] = np.array(OWNER_TEAMS, dtype=object)[
        rng.integers(0, len(OWNER_TEAMS), reassign.sum())
    ]
    return employees, revenue, owner


def _times(
    rng: np.random.Generator, rec_created: np.ndarray, as_of: date
) -> tuple[np.ndarray, np.ndarray]:
    created_at = to_timestamp(
        as_of, rec_created, rng.integers(8 * 3600, 21 * 3600, size=len(rec_created))
    )
    updated_day = rec_created + (rng.random(len(rec_created)) * (-rec_created)).astype(np.int64)
    updated_at = np.maximum(
        to_timestamp(as_of, updated_day, rng.integers(0, 86_400, len(rec_created))), created_at
    )
    return created_at, updated_at


def build_account_records(
    rng: np.random.Generator,
    co: pd.DataFrame,
    life: pd.DataFrame,
    as_of: date,
    dirt: DirtRates | None = None,
) -> AccountRecords:
    """One primary record per company plus duplicates of the kinds in ``dirt``."""
    n = len(co)
    created = life["created_day"].to_numpy()
    dup_companies, dup_kinds, company, kind = _duplicates(rng, co, created, dirt or DirtRates())
    n_dup = len(dup_companies)
    is_dup = np.arange(len(company)) >= n
    # Duplicates are entered later than the original record, by someone who did not search.
    gap = -1 - created[dup_companies]
    dup_created = created[dup_companies] + np.maximum(
        1, (rng.uniform(0.1, 0.9, n_dup) * gap).astype(np.int64)
    )
    dup_record = np.full(n, -1, dtype=np.int64)
    dup_record[dup_companies] = np.arange(n, n + n_dup)
    dup_created_day = np.full(n, NEVER, dtype=np.int64)
    dup_created_day[dup_companies] = dup_created
    rec_created = np.concatenate([created, dup_created])
    ids = "ACC" + pd.Series(rng.permutation(n + n_dup) + 10_000_001).astype(str)
    account_id = ids.to_numpy(dtype=object)
    fields = _spoiled_fields(rng, co, dup_companies, dup_kinds)
    employees, revenue, owner = _attributes(rng, co, company, is_dup)
    parent = co["parent"].to_numpy()[company]
    created_at, updated_at = _times(rng, rec_created, as_of)
    # Sales ops soft-delete a few dead prospects.
    prospect = life["start_day"].to_numpy()[company] == NEVER
    deleted = ~is_dup & prospect & (rng.random(len(company)) < 0.003)
    table = pd.DataFrame(
        {
            "account_id": account_id,
            "account_name": fields["account_name"],
            "uscc": fields["uscc"],
            "industry": _industry_labels(rng, co["industry_idx"].to_numpy()[company]),
            "employee_count": pd.array(employees, dtype="Int64"),
            "annual_revenue_cny": revenue,
            "province": fields["province"],
            "city": fields["city"],
            "parent_account_id": np.where(parent >= 0, account_id[np.maximum(parent, 0)], None),
            "owner_team": owner,
            "created_at": created_at,
            "updated_at": updated_at,
            "is_deleted": deleted,
        }
    )
    return AccountRecords(
        table=table, company=company, is_duplicate=is_dup, duplicate_kind=kind,
        dup_record=dup_record, dup_created_day=dup_created_day, account_ids=account_id,
    )  # fmt: skip


def by_choice(choice: np.ndarray, builders: list, n: int) -> np.ndarray:
    """Evaluate only the chosen builder for each row (building every variant for every row
    would multiply memory by the number of variants)."""
    out = np.empty(n, dtype=object)
    for i, build in enumerate(builders):
        rows = np.flatnonzero(choice == i)
        if len(rows):
            out[rows] = build(rows)
    return out
