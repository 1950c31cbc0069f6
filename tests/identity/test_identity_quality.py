"""Matching quality on the dirtier world at 20,000 companies, measured against the generator's
truth through the Dagster asset (its metadata carries the same figures).

Seeds 2027 and 3031 are used by no other test. The floors are the issue's (precision 0.99,
recall 0.95); per kind of duplicate, the share found is printed and held to a floor.
"""

from __future__ import annotations

import duckdb
import pandas as pd
import pytest

from pipelines.generate import generate_world
from pipelines.generate.identity_dirt import DirtRates
from tests.identity.conftest import AS_OF, build_staging, materialize_matching

SEEDS = (2027, 3031)


@pytest.fixture(scope="module", params=SEEDS)
def matched(request, tmp_path_factory, dbt_manifest):
    root = tmp_path_factory.mktemp(f"quality{request.param}")
    data_dir = root / "data"
    (data_dir / "warehouse").mkdir(parents=True)
    (data_dir / "ground_truth").mkdir()
    world = generate_world(20_000, request.param, AS_OF, dirt=DirtRates.dirty())
    world.truth_accounts.to_parquet(data_dir / "ground_truth" / "accounts.parquet")
    path = data_dir / "warehouse" / "stratum.duckdb"
    build_staging(path, world, root)
    result = materialize_matching(data_dir)
    assert result.success
    with duckdb.connect(str(path), read_only=True) as con:
        frame = con.execute(
            """
            select m.account_id, m.golden_account_id, s.uscc, s.city, t.true_company_id,
                   t.duplicate_kind
            from identity.account_identity as m
            join staging.stg_crm__accounts as s using (account_id)
            join main.truth_accounts as t using (account_id)
            """
        ).df()
    return result, frame


def _metadata(result) -> dict:
    from pipelines.identity.assets import ACCOUNT_MATCHES_KEY

    mats = result.asset_materializations_for_node("identity__account_matches")
    assert mats and mats[0].asset_key == ACCOUNT_MATCHES_KEY
    return {k: v.value for k, v in mats[0].metadata.items()}


def test_pairwise_precision_and_recall_reported_in_metadata(matched):
    result, _ = matched
    meta = _metadata(result)
    metrics = meta["evaluation_vs_ground_truth"]
    print(f"identity matching, dirty world 20k: {metrics}")
    assert metrics["true_pairs"] > 2500  # the world really is dirty
    assert meta["pairwise_precision"] == metrics["precision"] >= 0.99
    assert meta["pairwise_recall"] == metrics["recall"] >= 0.95
    assert metrics["companies_exactly_resolved"] >= 0.98
    checks = result.get_asset_check_evaluations()
    assert [(c.check_name, c.passed) for c in checks] == [("golden_accounts_within_limits", True)]


def test_different_valid_codes_never_share_a_golden_account(matched):
    _, frame = matched
    codes = frame.dropna(subset=["uscc"]).groupby("golden_account_id")["uscc"].nunique()
    assert codes.max() == 1


def test_same_short_name_in_other_cities_never_merged(matched):
    _, frame = matched
    namesakes = frame[frame["duplicate_kind"] == "same_short_name_other_city"]
    assert len(namesakes) > 500
    together = frame[frame["golden_account_id"].isin(namesakes["golden_account_id"])]
    per = together.groupby("golden_account_id").agg(
        companies=("true_company_id", "nunique"), cities=("city", "nunique")
    )
    assert not ((per["companies"] > 1) & (per["cities"] > 1)).any()
    # and branch offices stay apart from their head office
    branches = frame[frame["duplicate_kind"] == "branch_office"]
    heads = frame.groupby("golden_account_id")["true_company_id"].nunique()
    assert (heads.reindex(branches["golden_account_id"]) == 1).all()


def test_every_kind_of_duplicate_is_mostly_found(matched):
    _, frame = matched
    primary = frame[frame["duplicate_kind"].isna() | ~frame["duplicate_kind"].isin(
        ["same_uscc_name_variant", "missing_uscc_same_name", "name_typo", "abbreviated_name",
         "mistyped_uscc", "city_missing_or_alias", "renamed"]
    )]  # fmt: skip
    home = primary.groupby("true_company_id")["golden_account_id"].first()
    dups = frame[~frame.index.isin(primary.index)]
    found = dups["golden_account_id"].to_numpy() == home.reindex(dups["true_company_id"]).to_numpy()
    by_kind = pd.Series(found, index=dups["duplicate_kind"].to_numpy()).groupby(level=0).mean()
    print(by_kind.round(3).to_dict())
    assert by_kind.min() >= 0.6, by_kind
    for kind in ("same_uscc_name_variant", "renamed", "mistyped_uscc", "missing_uscc_same_name"):
        assert by_kind[kind] >= 0.9, (kind, by_kind[kind])
