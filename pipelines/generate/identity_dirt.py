"""Identity dirt: duplicate CRM records and look-alike companies, at configurable rates.

A real CRM holds one company several times under drifting spellings (legal-form confusion,
typos and homophones, abbreviations, a missing or mistyped credit code, a missing or differently
written city, a new name after a rename) and different companies that look the same (a similar
name in the same city, the same short name in another city, a branch office (分公司) of a
group, a phone shared with unrelated companies through an agency). Each kind is a rate in
:class:`DirtRates`; the ground truth records which records are one company (``true_company_id``),
the kind of every duplicate and look-alike, and which companies are branch offices of a group
rather than duplicates. Everything is vectorised over records.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from pipelines.generate.names import brands
from pipelines.generate.reference import BRAND_CHARS
from pipelines.generate.uscc import ALPHABET

# Duplicate records (same company, another record).
KIND_NAME_VARIANT = "same_uscc_name_variant"
KIND_MISSING_USCC = "missing_uscc_same_name"
KIND_NAME_TYPO = "name_typo"
KIND_ABBREVIATED = "abbreviated_name"
KIND_USCC_TYPO = "mistyped_uscc"
KIND_CITY_VARIANT = "city_missing_or_alias"
KIND_RENAMED = "renamed"
# Look-alikes (different companies; labels on their primary records).
KIND_SIMILAR_DISTINCT = "similar_name_distinct"
KIND_NAMESAKE = "same_short_name_other_city"
KIND_BRANCH = "branch_office"
KIND_SHARED_PHONE = "shared_phone"

# Characters that sound alike (same pinyin) or are commonly confused when typed from speech.
_EXTRA_HOMOPHONES = {"启": "企", "达": "大", "华": "化", "通": "同", "恒": "衡", "天": "添"}


@dataclass(frozen=True)
class DirtRates:
    """Share of companies given each kind of duplicate record or look-alike.

    Duplicate kinds are exclusive (a company gets at most one duplicate record).
    ``branch_share`` is the share of group member companies that are branch offices.
    """

    name_variant: float = 0.015
    missing_uscc: float = 0.010
    name_typo: float = 0.004
    abbreviation: float = 0.006
    uscc_typo: float = 0.003
    city_variant: float = 0.004
    renamed: float = 0.002
    namesake: float = 0.006
    branch_share: float = 0.25
    shared_phone: float = 0.005

    @classmethod
    def dirty(cls) -> DirtRates:
        """A dirtier CRM (about 15% of companies duplicated) for measuring the matcher."""
        return cls(
            name_variant=0.03,
            missing_uscc=0.025,
            name_typo=0.02,
            abbreviation=0.025,
            uscc_typo=0.012,
            city_variant=0.02,
            renamed=0.008,
            namesake=0.02,
            branch_share=0.4,
            shared_phone=0.02,
        )

    def duplicate_kinds(self) -> list[tuple[str, float]]:
        return [
            (KIND_NAME_VARIANT, self.name_variant),
            (KIND_MISSING_USCC, self.missing_uscc),
            (KIND_NAME_TYPO, self.name_typo),
            (KIND_ABBREVIATED, self.abbreviation),
            (KIND_USCC_TYPO, self.uscc_typo),
            (KIND_CITY_VARIANT, self.city_variant),
            (KIND_RENAMED, self.renamed),
        ]


def choose_duplicates(
    rng: np.random.Generator, eligible: np.ndarray, n: int, rates: DirtRates
) -> tuple[np.ndarray, np.ndarray]:
    """Companies that get a duplicate record, and the kind of each (kinds are exclusive)."""
    kinds = rates.duplicate_kinds()
    counts = [int(round(rate * n)) for _, rate in kinds]
    total = min(sum(counts), len(eligible))
    chosen = rng.choice(eligible, size=total, replace=False)
    labels = np.repeat(np.array([k for k, _ in kinds], dtype=object), counts)[:total]
    return chosen, labels


def name_variants(
    rng: np.random.Generator, names: np.ndarray, city_short: np.ndarray
) -> np.ndarray:
    """Spell a company name differently, as a second sales rep would (legal form, brackets,
    spacing)."""
    s = pd.Series(names, dtype=object)
    how = rng.integers(0, 3, size=len(s))
    out = s.copy()
    # 0: legal-form confusion 股份有限公司 <-> 有限公司
    is_joint = s.str.endswith("股份有限公司")
    swap = np.where(
        is_joint,
        s.str.replace("股份有限公司", "有限公司", regex=False),
        s.str.replace("有限公司", "股份有限公司", regex=False),
    )
    out[how == 0] = swap[how == 0]
    # 1: half-width brackets, or a space after the city when there are no brackets
    has_brackets = s.str.contains("（", regex=False)
    half = s.str.replace("（", "(", regex=False).str.replace("）", ")", regex=False)
    starts_city = np.array([n.startswith(c) for n, c in zip(names, city_short, strict=True)])
    cut = np.where(starts_city, [len(c) for c in city_short], 2)
    spaced = np.array([n[:k] + " " + n[k:] for n, k in zip(names, cut, strict=True)], dtype=object)
    pick1 = np.where(has_brackets, half, spaced)
    out[how == 1] = pick1[how == 1]
    # 2: a space (half- or full-width) before the legal form
    space = np.where(rng.random(len(s)) < 0.5, " ", "\u3000")
    base = s.str.replace("有限公司", "", regex=False).str.removesuffix("股份")
    form = np.where(is_joint, "股份有限公司", "有限公司")
    pick2 = base.to_numpy(dtype=object) + space + form
    out[how == 2] = pick2[how == 2]
    return out.to_numpy(dtype=object)


def _homophones() -> dict[str, str]:
    by_sound: dict[str, list[str]] = {}
    for char, sound in BRAND_CHARS:
        by_sound.setdefault(sound, []).append(char)
    out = dict(_EXTRA_HOMOPHONES)
    for chars in by_sound.values():
        for i, char in enumerate(chars):
            if len(chars) > 1:
                out[char] = chars[(i + 1) % len(chars)]
    return out


def typo_brands(rng: np.random.Generator, brands: np.ndarray) -> np.ndarray:
    """Each brand with one character replaced by a homophone (or, without one, by another
    brand character): 云启 -> 云企, 华信 -> 华新."""
    table = _homophones()
    pool = np.array([c for c, _ in BRAND_CHARS], dtype=object)
    out = brands.astype(object).copy()
    pos = (rng.random(len(out)) * pd.Series(out).str.len().to_numpy()).astype(int)
    fallback = pool[rng.integers(0, len(pool), len(out))]
    for i, (brand, p) in enumerate(zip(out, pos, strict=True)):
        old = brand[p]
        new = table.get(old, fallback[i] if fallback[i] != old else "鑫")
        out[i] = brand[:p] + new + brand[p + 1 :]
    return out


def mistype_usccs(rng: np.random.Generator, codes: np.ndarray) -> np.ndarray:
    """One character of each code replaced by another: the check character no longer fits
    (GB 32100 detects every single substitution)."""
    alphabet = np.array(list(ALPHABET))
    chars = np.array([list(c) for c in codes], dtype="<U1")
    pos = rng.integers(2, 18, len(codes))
    rows = np.arange(len(codes))
    current = np.searchsorted(alphabet, chars[rows, pos])
    shift = rng.integers(1, len(alphabet), len(codes))
    chars[rows, pos] = alphabet[(current + shift) % len(alphabet)]
    return np.array(["".join(r) for r in chars], dtype=object)


def spoil_duplicates(
    rng: np.random.Generator, co: pd.DataFrame, companies: np.ndarray, kinds: np.ndarray
) -> dict[str, np.ndarray]:
    """Name, uscc, province and city of the duplicate records of ``companies`` by kind."""
    sub = co.iloc[companies]
    name = sub["name"].to_numpy(dtype=object).copy()
    uscc = sub["uscc"].to_numpy(dtype=object).copy()
    province = sub["province"].to_numpy(dtype=object).copy()
    city = sub["city"].to_numpy(dtype=object).copy()
    city_short = sub["city_short"].to_numpy(dtype=object)
    brand = sub["brand"].to_numpy(dtype=object)
    word = sub["word"].to_numpy(dtype=object)
    keep_code = rng.random(len(companies)) < 0.5

    rows = lambda kind: np.flatnonzero(kinds == kind)  # noqa: E731
    r = rows(KIND_NAME_VARIANT)
    name[r] = name_variants(rng, name[r], city_short[r])
    r = rows(KIND_MISSING_USCC)
    name[r] = np.where(rng.random(len(r)) < 0.3, name[r] + " ", name[r])
    uscc[r] = None
    r = rows(KIND_NAME_TYPO)
    typos = typo_brands(rng, brand[r])
    name[r] = [n.replace(b, t, 1) for n, b, t in zip(name[r], brand[r], typos, strict=True)]
    uscc[r] = np.where(keep_code[r], uscc[r], None)
    r = rows(KIND_ABBREVIATED)
    core = brand[r] + word[r]
    form = rng.integers(0, 3, len(r))
    name[r] = np.where(
        form == 0,
        city_short[r] + core,
        np.where(form == 1, core + "（" + city_short[r] + "）", core),
    )
    uscc[r] = np.where(keep_code[r], uscc[r], None)
    r = rows(KIND_USCC_TYPO)
    uscc[r] = mistype_usccs(rng, uscc[r]) if len(r) else uscc[r]
    r = rows(KIND_CITY_VARIANT)
    how = rng.integers(0, 3, len(r))
    city[r] = np.where(how == 0, None, np.where(how == 1, city_short[r], city[r]))
    province[r] = np.where(how == 2, None, province[r])
    uscc[r] = np.where(rng.random(len(r)) < 0.4, uscc[r], None)
    r = rows(KIND_RENAMED)
    new_brand = brands(rng, len(r))
    name[r] = city_short[r] + new_brand + word[r] + sub["suffix"].to_numpy(dtype=object)[r]
    return {"name": name, "uscc": uscc, "province": province, "city": city}


def add_lookalikes(rng: np.random.Generator, co: pd.DataFrame, rates: DirtRates) -> None:
    """Namesakes in other cities, branch offices of groups, agency-shared phones (in place).

    Adds ``namesake_of`` (company index or -1), ``is_branch`` and ``shares_phone`` columns.
    """
    n = len(co)
    co["namesake_of"], co["is_branch"], co["shares_phone"] = -1, False, False
    free = np.flatnonzero(
        (co["parent"].to_numpy() < 0)
        & ~co["is_group_root"].to_numpy()
        & (co["similar_pair"].to_numpy() < 0)
    )
    n_pairs = int(round(rates.namesake * n))
    if n_pairs and len(free) >= 2 * n_pairs:
        chosen = rng.choice(free, size=2 * n_pairs, replace=False)
        a, b = chosen[:n_pairs], chosen[n_pairs:]
        other_city = co["city"].to_numpy()[a] != co["city"].to_numpy()[b]
        a, b = a[other_city], b[other_city]
        for col in ("brand", "word", "suffix"):
            co.iloc[b, co.columns.get_loc(col)] = co[col].to_numpy()[a]
        for rows in (a, b):
            co.iloc[rows, co.columns.get_loc("name")] = (
                co["city_short"].to_numpy(dtype=object)[rows]
                + co["brand"].to_numpy(dtype=object)[rows]
                + co["word"].to_numpy(dtype=object)[rows]
                + co["suffix"].to_numpy(dtype=object)[rows]
            )
        clash = (co["name"] + "|" + co["city"]).duplicated(keep=False).to_numpy()  # in one city
        ok = ~clash[a] & ~clash[b]
        co.iloc[a[ok], co.columns.get_loc("namesake_of")] = b[ok]
        co.iloc[b[ok], co.columns.get_loc("namesake_of")] = a[ok]

    parent = co["parent"].to_numpy()
    members = np.flatnonzero(parent >= 0)
    branch = members[
        (co["city"].to_numpy()[members] != co["city"].to_numpy()[parent[members]])
        & (rng.random(len(members)) < rates.branch_share)
    ]
    co.iloc[branch, co.columns.get_loc("name")] = (
        co["name"].to_numpy(dtype=object)[parent[branch]]
        + co["city_short"].to_numpy(dtype=object)[branch]
        + "分公司"
    )
    co.iloc[branch, co.columns.get_loc("is_branch")] = True

    n_shared = int(round(rates.shared_phone * n))
    if n_shared:
        shared = rng.choice(n, size=min(n_shared, n), replace=False)
        co.iloc[shared, co.columns.get_loc("shares_phone")] = True


def lookalike_labels(co: pd.DataFrame) -> np.ndarray:
    """Per company: the look-alike kind it takes part in, or None (later labels win)."""
    label = np.full(len(co), None, dtype=object)
    label[co["shares_phone"].to_numpy()] = KIND_SHARED_PHONE
    label[co["is_branch"].to_numpy()] = KIND_BRANCH
    label[co["namesake_of"].to_numpy() >= 0] = KIND_NAMESAKE
    label[co["similar_pair"].to_numpy() >= 0] = KIND_SIMILAR_DISTINCT
    return label


def share_phones(
    rng: np.random.Generator,
    contacts: pd.DataFrame,
    contact_first: np.ndarray,
    shares_phone: np.ndarray,
) -> None:
    """The first contact of each flagged company gets a number from a small pool of agency
    numbers (代理记账 firms answer for many small companies), in place."""
    companies = np.flatnonzero(shares_phone)
    if len(companies) == 0:
        return
    pool_size = max(1, len(companies) // 6)
    pool = np.array(
        ["0571-8" + str(7_000_000 + int(x)) for x in rng.integers(0, 999_999, pool_size)],
        dtype=object,
    )
    rows = contact_first[companies]
    col = contacts.columns.get_loc("phone")
    contacts.iloc[rows, col] = pool[rng.integers(0, pool_size, len(companies))]


def reenter_contacts(
    rng: np.random.Generator,
    contacts: pd.DataFrame,
    records_table: pd.DataFrame,
    dup_of: np.ndarray,
    contact_first: np.ndarray,
    contact_count: np.ndarray,
    share: float = 0.7,
) -> pd.DataFrame:
    """The sales rep who created a duplicate record usually typed in a contact person they
    already knew: a copy of one of the company's contacts (name, email, phone), filed under
    the duplicate record. Rows are appended, so existing contact rows keep their positions.

    ``dup_of``: per record, the company index for duplicate records, -1 for primaries.
    """
    dup_rows = np.flatnonzero(dup_of >= 0)
    dup_rows = dup_rows[rng.random(len(dup_rows)) < share]
    if len(dup_rows) == 0:
        return contacts
    company = dup_of[dup_rows]
    pick = contact_first[company] + (rng.random(len(company)) * contact_count[company]).astype(
        np.int64
    )
    copies = contacts.iloc[pick].reset_index(drop=True).copy()
    copies["account_id"] = records_table["account_id"].to_numpy()[dup_rows]
    created = np.maximum(
        copies["created_at"].to_numpy(), records_table["created_at"].to_numpy()[dup_rows]
    )
    copies["created_at"] = created
    copies["updated_at"] = np.maximum(copies["updated_at"].to_numpy(), created)
    start = len(contacts) + 100_000_001
    copies["contact_id"] = (
        "CT" + pd.Series(np.arange(start, start + len(copies))).astype(str)
    ).to_numpy(dtype=object)
    return pd.concat([contacts, copies], ignore_index=True)


def spoil_contacts(
    rng: np.random.Generator,
    co: pd.DataFrame,
    contacts: pd.DataFrame,
    records,  # AccountRecords (not imported: records.py imports this module)
    contact_first: np.ndarray,
    contact_count: np.ndarray,
) -> pd.DataFrame:
    """Agency-shared phones (in place) and contacts re-entered under duplicate records."""
    share_phones(rng, contacts, contact_first, co["shares_phone"].to_numpy())
    dup_of = np.where(records.is_duplicate, records.company, -1)
    return reenter_contacts(rng, contacts, records.table, dup_of, contact_first, contact_count)
