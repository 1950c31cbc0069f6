"""Identity dirt in the sample world: every kind of duplicate and look-alike, with its truth."""

from __future__ import annotations

import pandas as pd
import pytest

from pipelines.generate import World, generate_world
from pipelines.generate.identity_dirt import DirtRates
from pipelines.generate.uscc import is_valid_uscc
from tests.generate.conftest import AS_OF

DUPLICATE_KINDS = {
    "same_uscc_name_variant",
    "missing_uscc_same_name",
    "name_typo",
    "abbreviated_name",
    "mistyped_uscc",
    "city_missing_or_alias",
    "renamed",
}
LOOKALIKE_KINDS = {
    "similar_name_distinct",
    "same_short_name_other_city",
    "branch_office",
    "shared_phone",
}


@pytest.fixture(scope="module")
def records(world: World) -> pd.DataFrame:
    acc = world.crm_accounts.merge(world.truth_accounts, on="account_id", validate="one_to_one")
    primary = acc[~acc["is_duplicate_record"]].set_index("true_company_id")
    acc["primary_name"] = primary["account_name"].reindex(acc["true_company_id"]).to_numpy()
    acc["primary_uscc"] = primary["uscc"].reindex(acc["true_company_id"]).to_numpy()
    return acc


def test_every_kind_at_its_rate(records: pd.DataFrame, world: World) -> None:
    counts = records["duplicate_kind"].value_counts()
    n = len(world.truth_accounts["true_company_id"].unique())
    assert set(counts.index) >= DUPLICATE_KINDS | LOOKALIKE_KINDS
    rates = DirtRates()
    for kind, rate in rates.duplicate_kinds():
        assert counts[kind] == int(round(rate * n)), kind
    dup = records[records["is_duplicate_record"]]
    assert set(dup["duplicate_kind"]) == DUPLICATE_KINDS
    assert set(records.loc[~records["is_duplicate_record"], "duplicate_kind"].dropna()) == (
        LOOKALIKE_KINDS
    )


def test_dirty_world_is_dirtier_and_deterministic() -> None:
    a = generate_world(1500, 5, AS_OF, dirt=DirtRates.dirty())
    b = generate_world(1500, 5, AS_OF, dirt=DirtRates.dirty())
    clean = generate_world(1500, 5, AS_OF)
    pd.testing.assert_frame_equal(a.crm_accounts, b.crm_accounts)
    pd.testing.assert_frame_equal(a.truth_accounts, b.truth_accounts)
    dirty_share = a.truth_accounts["is_duplicate_record"].mean()
    assert dirty_share > 2.5 * clean.truth_accounts["is_duplicate_record"].mean()
    assert 0.10 < dirty_share < 0.20


def test_typos_change_one_character_and_keep_the_city(records: pd.DataFrame) -> None:
    typo = records[records["duplicate_kind"] == "name_typo"]
    for name, primary in zip(
        typo["account_name"].str.strip(), typo["primary_name"].str.strip(), strict=True
    ):
        assert len(name) == len(primary)
        assert sum(a != b for a, b in zip(name, primary, strict=True)) == 1
    assert typo["city"].notna().all()


def test_abbreviations_drop_the_legal_form(records: pd.DataFrame) -> None:
    abbr = records[records["duplicate_kind"] == "abbreviated_name"]
    for name, primary in zip(abbr["account_name"].str.strip(), abbr["primary_name"], strict=True):
        assert not name.endswith("公司")
        core = name.replace("（", "").replace("）", "")
        # every character of the short form is in the full name (region and brand, word)
        assert set(core) <= set(primary), (name, primary)


def test_mistyped_codes_are_one_character_off_and_invalid(records: pd.DataFrame) -> None:
    bad = records[records["duplicate_kind"] == "mistyped_uscc"]
    for code, true in zip(bad["uscc"], bad["true_uscc"], strict=True):
        assert not is_valid_uscc(code)
        assert sum(a != b for a, b in zip(code, true, strict=True)) == 1


def test_city_variants_and_renames(records: pd.DataFrame) -> None:
    city = records[records["duplicate_kind"] == "city_missing_or_alias"]
    assert city["city"].isna().any() and city["province"].isna().any()
    assert (city["city"].dropna().str.endswith("市")).mean() < 1.0
    renamed = records[records["duplicate_kind"] == "renamed"]
    assert (renamed["uscc"] == renamed["true_uscc"]).all()
    assert (renamed["account_name"].str.strip() != renamed["primary_name"].str.strip()).all()


def test_namesakes_share_the_short_name_in_other_cities(records: pd.DataFrame) -> None:
    names = records[records["duplicate_kind"] == "same_short_name_other_city"].copy()
    # strip the city prefix: 杭州云启科技有限公司 -> 云启科技有限公司
    short = [
        n.strip().removeprefix(c.removesuffix("市"))
        for n, c in zip(names["account_name"], names["city"], strict=True)
    ]
    names["short"] = short
    groups = names.groupby("short")
    pairs = [g for _, g in groups if len(g) >= 2]
    assert len(pairs) >= len(names) // 3
    for g in pairs:
        assert g["city"].nunique() == len(g)
        assert g["true_company_id"].nunique() == len(g)
        assert g["true_uscc"].nunique() == len(g)


def test_branches_are_separate_companies_of_a_group(records: pd.DataFrame) -> None:
    branches = records[
        (records["duplicate_kind"] == "branch_office") & ~records["is_duplicate_record"]
    ]
    assert len(branches) >= 10
    assert branches["is_branch_office"].all()
    assert branches["account_name"].str.strip().str.endswith("分公司").all()
    assert branches["true_parent_company_id"].notna().all()
    parents = records[~records["is_duplicate_record"]].set_index("true_company_id")
    parent_names = parents["account_name"].reindex(branches["true_parent_company_id"]).str.strip()
    assert [
        b.startswith(p)
        for b, p in zip(branches["account_name"].str.strip(), parent_names, strict=True)
    ] == [True] * len(branches)
    assert (
        branches["true_uscc"].to_numpy()
        != parents["true_uscc"].reindex(branches["true_parent_company_id"]).to_numpy()
    ).all()


def test_some_phones_are_shared_by_unrelated_companies(world: World, records: pd.DataFrame) -> None:
    company = records.set_index("account_id")["true_company_id"]
    contacts = world.crm_contacts.dropna(subset=["phone"])
    per_phone = (
        contacts.assign(company=contacts["account_id"].map(company))
        .groupby("phone")["company"]
        .nunique()
    )
    shared = per_phone[per_phone > 1]
    assert len(shared) >= 2
    flagged = set(records.loc[records["duplicate_kind"] == "shared_phone", "true_company_id"])
    with_shared = set(contacts.loc[contacts["phone"].isin(shared.index), "account_id"].map(company))
    assert len(flagged & with_shared) >= 0.5 * len(flagged)
