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
from pipelines.generate.companies import brand_pinyin
from pipelines.generate.identity_dirt import (
    DirtRates,
    choose_duplicates,
    lookalike_labels,
    spoil_duplicates,
)
from pipelines.generate.lifecycle import NEVER
from pipelines.generate.reference import (
    COMPANY_DOMAIN_SUFFIXES,
    GIVEN_CHARS,
    INDUSTRIES,
    JOB_TITLES,
    OWNER_TEAMS,
    PERSONAL_EMAIL_DOMAINS,
    SURNAMES,
)

P_ROUTE_TO_DUP = 0.35


@dataclass
class AccountRecords:
    """CRM account records. Records 0..n_companies-1 are the primaries, in company order."""

    table: pd.DataFrame  # crm_accounts landing columns
    company: np.ndarray  # true company index per record
    is_duplicate: np.ndarray
    duplicate_kind: np.ndarray  # object: None or one of the KIND_* labels
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


def _pad(rng: np.random.Generator, values: np.ndarray, rate: float) -> np.ndarray:
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
    eligible = np.flatnonzero(created <= -3)
    dup_companies, dup_kinds = choose_duplicates(rng, eligible, n, dirt or DirtRates())
    n_dup = len(dup_companies)
    company = np.concatenate([np.arange(n), dup_companies])
    is_dup = np.zeros(n + n_dup, dtype=bool)
    is_dup[n:] = True
    kind = np.concatenate([lookalike_labels(co), dup_kinds]).astype(object)

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

    spoiled = spoil_duplicates(rng, co, dup_companies, dup_kinds)
    names = np.concatenate([co["name"].to_numpy(dtype=object), spoiled["name"]])
    names = _pad(rng, names, 0.015)
    uscc = np.concatenate([co["uscc"].to_numpy(dtype=object), spoiled["uscc"]])
    # A few primaries lack the code (never the ones whose duplicate is matched by code).
    drop = rng.random(n) < 0.02
    drop[dup_companies[pd.notna(spoiled["uscc"])]] = False
    uscc[:n][drop] = None
    province = np.concatenate([co["province"].to_numpy(dtype=object), spoiled["province"]])
    city = np.concatenate([co["city"].to_numpy(dtype=object), spoiled["city"]])

    employees = co["employees"].to_numpy()[company].astype(float)
    wobble = is_dup & (rng.random(len(company)) < 0.3)
    employees[wobble] = np.round(employees[wobble] * rng.uniform(0.8, 1.2, wobble.sum()))
    employees[rng.random(len(company)) < 0.04] = np.nan
    revenue = co["annual_revenue_cny"].to_numpy()[company].copy()
    revenue[rng.random(len(company)) < 0.06] = np.nan

    parent = co["parent"].to_numpy()[company]
    parent_id = np.where(parent >= 0, account_id[np.maximum(parent, 0)], None)
    owner = co["owner_team"].to_numpy(dtype=object)[company].copy()
    reassign = is_dup & (rng.random(len(company)) < 0.5)
    owner[reassign] = np.array(OWNER_TEAMS, dtype=object)[
        rng.integers(0, len(OWNER_TEAMS), reassign.sum())
    ]

    created_sec = rng.integers(8 * 3600, 21 * 3600, size=len(company))
    updated_day = rec_created + (rng.random(len(company)) * (-rec_created)).astype(np.int64)
    created_at = to_timestamp(as_of, rec_created, created_sec)
    updated_at = np.maximum(
        to_timestamp(as_of, updated_day, rng.integers(0, 86_400, len(company))), created_at
    )
    # Sales ops soft-delete a few dead prospects.
    prospect = life["start_day"].to_numpy()[company] == NEVER
    deleted = ~is_dup & prospect & (rng.random(len(company)) < 0.003)

    table = pd.DataFrame(
        {
            "account_id": account_id,
            "account_name": names,
            "uscc": uscc,
            "industry": _industry_labels(rng, co["industry_idx"].to_numpy()[company]),
            "employee_count": pd.array(employees, dtype="Int64"),
            "annual_revenue_cny": revenue,
            "province": province,
            "city": city,
            "parent_account_id": parent_id,
            "owner_team": owner,
            "created_at": created_at,
            "updated_at": updated_at,
            "is_deleted": deleted,
        }
    )
    return AccountRecords(
        table=table,
        company=company,
        is_duplicate=is_dup,
        duplicate_kind=kind,
        dup_record=dup_record,
        dup_created_day=dup_created_day,
        account_ids=account_id,
    )


def _by_choice(choice: np.ndarray, builders: list, n: int) -> np.ndarray:
    """Evaluate only the chosen builder for each row (building every variant for every row
    would multiply memory by the number of variants)."""
    out = np.empty(n, dtype=object)
    for i, build in enumerate(builders):
        rows = np.flatnonzero(choice == i)
        if len(rows):
            out[rows] = build(rows)
    return out


def _phones(rng: np.random.Generator, area_code: np.ndarray) -> np.ndarray:
    """Chinese phone numbers in the many formats people type."""
    n = len(area_code)
    prefix = np.array(["13", "15", "17", "18", "19"], dtype=object)[rng.integers(0, 5, n)]
    p3 = prefix + digit_strings(rng, n, 1)
    p4a = digit_strings(rng, n, 4)
    p4b = digit_strings(rng, n, 4)
    mobile_formats = [
        lambda r: p3[r] + p4a[r] + p4b[r],
        lambda r: p3[r] + " " + p4a[r] + " " + p4b[r],
        lambda r: p3[r] + "-" + p4a[r] + "-" + p4b[r],
        lambda r: "+86 " + p3[r] + " " + p4a[r] + " " + p4b[r],
        lambda r: "+86-" + p3[r] + p4a[r] + p4b[r],
        lambda r: "(+86)" + p3[r] + p4a[r] + p4b[r],
        lambda r: "86" + p3[r] + p4a[r] + p4b[r],
    ]
    m = rng.choice(len(mobile_formats), size=n, p=[0.4, 0.2, 0.12, 0.1, 0.08, 0.05, 0.05])
    l4a = digit_strings(rng, n, 4, first_nonzero=True)
    area = area_code.astype(object)
    landline_formats = [
        lambda r: area[r] + "-" + l4a[r] + p4b[r],
        lambda r: area[r] + "-" + l4a[r] + " " + p4b[r],
        lambda r: "(" + area[r] + ")" + l4a[r] + p4b[r],
        lambda r: area[r] + l4a[r] + p4b[r],
        lambda r: (
            "+86-" + pd.Series(area[r]).str.slice(1).to_numpy(dtype=object) + "-" + l4a[r] + p4b[r]
        ),
    ]
    f = rng.choice(len(landline_formats), size=n, p=[0.45, 0.2, 0.15, 0.1, 0.1])
    ext = rng.random(n) < 0.05
    is_mobile = rng.random(n) < 0.75
    # One choice per row: mobile formats 0..6, landline formats 7..11.
    choice = np.where(is_mobile, m, len(mobile_formats) + f)
    phone = _by_choice(choice, mobile_formats + landline_formats, n)
    ext &= ~is_mobile
    phone[ext] = phone[ext] + " 转" + digit_strings(rng, int(ext.sum()), 3)
    phone[rng.random(n) < 0.10] = None
    return phone


CONTACT_CHUNK = 100_000  # companies per chunk: bounds the memory of string building


def build_contacts(
    rng: np.random.Generator,
    co: pd.DataFrame,
    life: pd.DataFrame,
    records: AccountRecords,
    as_of: date,
) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """1-8 contacts per company (bigger companies have more).

    Returns (crm_contacts table, per-company index of its first contact row, per-company
    contact count); contacts of a company are contiguous rows, so events can pick one.
    """
    n = len(co)
    k = np.clip(1 + rng.poisson(0.3 + 0.5 * np.log10(co["employees"].to_numpy() + 1)), 1, 8)
    first = np.concatenate([[0], np.cumsum(k)[:-1]])
    starts = range(0, n, CONTACT_CHUNK)
    parts = []
    for chunk_rng, lo in zip(rng.spawn(len(starts)), starts, strict=True):
        companies = np.arange(lo, min(lo + CONTACT_CHUNK, n))
        company = np.repeat(companies, k[companies])
        parts.append(_contacts_chunk(chunk_rng, co, life, records, as_of, company))
    table = pd.concat(parts, ignore_index=True)
    ids = "CT" + pd.Series(np.arange(1, len(table) + 1) + 100_000_000).astype(str)
    table.insert(0, "contact_id", ids.to_numpy(dtype=object))
    return table, first, k


def _contacts_chunk(
    rng: np.random.Generator,
    co: pd.DataFrame,
    life: pd.DataFrame,
    records: AccountRecords,
    as_of: date,
    company: np.ndarray,
) -> pd.DataFrame:
    m = len(company)
    surname_idx = rng.choice(len(SURNAMES), size=m, p=_zipf_weights(len(SURNAMES)))
    g1 = rng.integers(0, len(GIVEN_CHARS), m)
    g2 = rng.integers(0, len(GIVEN_CHARS), m)
    two = rng.random(m) < 0.7
    sur = np.array([s for s, _ in SURNAMES], dtype=object)[surname_idx]
    sur_py = np.array([p for _, p in SURNAMES], dtype=object)[surname_idx]
    gc = np.array([c for c, _ in GIVEN_CHARS], dtype=object)
    gp = np.array([p for _, p in GIVEN_CHARS], dtype=object)
    given = np.where(two, gc[g1] + gc[g2], gc[g1])
    given_py = np.where(two, gp[g1] + gp[g2], gp[g1])
    full_name = _pad(rng, sur + given, 0.02)

    style = rng.integers(0, 4, m)
    num = digit_strings(rng, m, 2)
    local = _by_choice(
        style,
        [
            lambda r: given_py[r] + "." + sur_py[r],
            lambda r: sur_py[r] + given_py[r],
            lambda r: sur_py[r] + "." + given_py[r],
            lambda r: sur_py[r] + given_py[r] + num[r],
        ],
        m,
    )
    personal = rng.random(m) < 0.35
    personal_domain = np.array(PERSONAL_EMAIL_DOMAINS, dtype=object)[
        rng.integers(0, len(PERSONAL_EMAIL_DOMAINS), m)
    ]
    qq = personal & (personal_domain == "qq.com")
    local[qq] = digit_strings(rng, int(qq.sum()), 9, first_nonzero=True)
    domain = personal_domain
    work = ~personal
    brands = pd.Series(co["brand"].to_numpy(dtype=object)[company[work]], dtype=object)
    suffix = np.array(COMPANY_DOMAIN_SUFFIXES, dtype=object)[rng.integers(0, 3, int(work.sum()))]
    domain[work] = brand_pinyin(brands).to_numpy(dtype=object) + suffix
    email = local + "@" + domain
    mixed = rng.random(m) < 0.10
    upper = mixed & (rng.random(m) < 0.5)
    email[upper] = pd.Series(email[upper], dtype=object).str.upper().to_numpy(dtype=object)
    capital = mixed & ~upper
    email[capital] = pd.Series(email[capital], dtype=object).str.capitalize().to_numpy(dtype=object)
    email = _pad(rng, email, 0.02)
    email[rng.random(m) < 0.08] = None

    title = np.array(JOB_TITLES, dtype=object)[rng.integers(0, len(JOB_TITLES), m)]
    title[rng.random(m) < 0.05] = None

    acc_created = life["created_day"].to_numpy()[company]
    span = np.maximum(-1 - acc_created, 0)
    created_day = acc_created + 1 + (rng.random(m) * span).astype(np.int64)
    created_day = np.minimum(created_day, -1)
    record = records.route(rng, company, created_day)
    # A contact filed under a duplicate record cannot predate that record.
    on_dup = records.is_duplicate[record]
    created_day = np.where(
        on_dup, np.maximum(created_day, records.dup_created_day[company]), created_day
    )
    created_at = to_timestamp(as_of, created_day, rng.integers(8 * 3600, 20 * 3600, m))
    updated_day = created_day + (rng.random(m) * (-created_day)).astype(np.int64)
    updated_at = np.maximum(
        to_timestamp(as_of, updated_day, rng.integers(0, 86_400, m)), created_at
    )
    return pd.DataFrame(
        {
            "account_id": records.account_ids[record],
            "full_name": full_name,
            "email": email,
            "phone": _phones(rng, co["area_code"].to_numpy(dtype=object)[company]),
            "job_title": title,
            "opt_out": rng.random(m) < 0.05,
            "created_at": created_at,
            "updated_at": updated_at,
            "is_deleted": rng.random(m) < 0.01,
        }
    )


def _zipf_weights(n: int) -> np.ndarray:
    w = 1.0 / np.arange(1, n + 1) ** 0.8
    return w / w.sum()
