"""CRM contacts of the sample world: people with names, e-mails and phones in the many forms
people type them. Personal data exists only in the landing files, never published."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd

from pipelines.generate.clock import to_timestamp
from pipelines.generate.names import brand_pinyin
from pipelines.generate.records import AccountRecords, by_choice, digit_strings, pad
from pipelines.generate.reference import (
    COMPANY_DOMAIN_SUFFIXES,
    GIVEN_CHARS,
    JOB_TITLES,
    PERSONAL_EMAIL_DOMAINS,
    SURNAMES,
)


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
    phone = by_choice(choice, mobile_formats + landline_formats, n)
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


def _names_and_emails(
    rng: np.random.Generator, co: pd.DataFrame, company: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Chinese full names and the e-mail addresses their owners type (work and personal)."""
    m = len(company)
    surname_idx = rng.choice(len(SURNAMES), size=m, p=_zipf_weights(len(SURNAMES)))
    g1 = rng.integers(0, len(GIVEN_CHARS), m)
    g2 = rng.integers(0, len(GIVEN_CHARS), m)
    two = rng.random(m) < 0.7
    sur = np.array([s for s, _ in SURNAMES], dtype=object)[surname_idx]
    sur_py = np.array([p for _, p in SURNAMES], dtype=object)[surname_idx]
    gc = np.array([c for c, _ in GIVEN_CHARS], dtype=object)
    gp = np.array([p for _, p in GIVEN_CHARS], dtype=object)
    given_py = np.where(two, gp[g1] + gp[g2], gp[g1])
    full_name = pad(rng, sur + np.where(two, gc[g1] + gc[g2], gc[g1]), 0.02)
    style = rng.integers(0, 4, m)
    num = digit_strings(rng, m, 2)
    local = by_choice(
        style,
        [
            lambda r: given_py[r] + "." + sur_py[r],
            lambda r: sur_py[r] + given_py[r],
            lambda r: sur_py[r] + "." + given_py[r],
            lambda r: sur_py[r] + given_py[r] + num[r],
        ],
        m,
    )
    return full_name, _emails(rng, co, company, local)


def _emails(
    rng: np.random.Generator, co: pd.DataFrame, company: np.ndarray, local: np.ndarray
) -> np.ndarray:
    m = len(company)
    personal = rng.random(m) < 0.35
    domain = np.array(PERSONAL_EMAIL_DOMAINS, dtype=object)[
        rng.integers(0, len(PERSONAL_EMAIL_DOMAINS), m)
    ]
    qq = personal & (domain == "qq.com")
    local[qq] = digit_strings(rng, int(qq.sum()), 9, first_nonzero=True)
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
    email = pad(rng, email, 0.02)
    email[rng.random(m) < 0.08] = None
    return email


def _contact_times(
    rng: np.random.Generator,
    life: pd.DataFrame,
    records: AccountRecords,
    as_of: date,
    company: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The CRM record each contact is filed under, and its created / updated times."""
    m = len(company)
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
    return record, created_at, updated_at


def _contacts_chunk(
    rng: np.random.Generator,
    co: pd.DataFrame,
    life: pd.DataFrame,
    records: AccountRecords,
    as_of: date,
    company: np.ndarray,
) -> pd.DataFrame:
    m = len(company)
    full_name, email = _names_and_emails(rng, co, company)
    title = np.array(JOB_TITLES, dtype=object)[rng.integers(0, len(JOB_TITLES), m)]
    title[rng.random(m) < 0.05] = None
    record, created_at, updated_at = _contact_times(rng, life, records, as_of, company)
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
