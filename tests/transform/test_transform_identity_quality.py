"""Identity resolution against the generator's ground truth (pairs of CRM records).

A pair of source records is "merged" when they share a golden_account_id and "truly the same"
when they share true_company_id. Precision = correct merged pairs / merged pairs; recall =
correct merged pairs / truly-same pairs. Only identity models are built (dbt `+` selection).
"""

from __future__ import annotations

from datetime import date

import duckdb
import pytest

from tests.transform.raw_tables import build_from_world

generate = pytest.importorskip("pipelines.generate")

PAIR_COUNTS = """
with

matched as (
    select identity_map.golden_account_id, truth.true_company_id
    from intermediate.int_account_identity_map as identity_map
    inner join truth_accounts as truth
        on identity_map.account_id = truth.account_id
),

correct as (
    select sum(n * (n - 1) / 2) as pairs
    from (select count(*) as n from matched group by golden_account_id, true_company_id)
),

merged as (
    select sum(n * (n - 1) / 2) as pairs
    from (select count(*) as n from matched group by golden_account_id)
),

truly_same as (
    select sum(n * (n - 1) / 2) as pairs
    from (select count(*) as n from matched group by true_company_id)
)

select correct.pairs, merged.pairs, truly_same.pairs
from correct, merged, truly_same
"""


@pytest.fixture(scope="module")
def identity_warehouse(tmp_path_factory, dbt_manifest):
    from tests.conftest import dbt_cli

    root = tmp_path_factory.mktemp("identity")
    path = root / "identity.duckdb"
    world = generate.generate_world(3000, 11, date(2026, 11, 20))
    with duckdb.connect(str(path)) as con:
        build_from_world(con, world)
        truth = world.truth_accounts[["account_id", "true_company_id"]]
        con.register("truth_frame", truth)
        con.execute("create table truth_accounts as select * from truth_frame")
    dbt_cli(
        "build",
        "--select",
        "+int_account_identity_map",
        "--target-path",
        str(root / "target"),
        "--log-path",
        str(root / "logs"),
        "--vars",
        '{"as_of_date": "2026-11-20"}',
        env={"STRATUM_WAREHOUSE": str(path)},
    )
    return path, world


def test_identity_merge_precision_and_recall(identity_warehouse):
    path, world = identity_warehouse
    with duckdb.connect(str(path), read_only=True) as con:
        correct, merged, truly_same = con.execute(PAIR_COUNTS).fetchone()
    # the world must contain duplicates, or the test proves nothing
    assert truly_same >= 20
    precision = correct / merged
    recall = correct / truly_same
    print(
        f"identity merge: precision={precision:.3f} recall={recall:.3f} "
        f"(merged pairs={merged:.0f}, true pairs={truly_same:.0f})"
    )
    assert precision >= 0.95
    assert recall >= 0.90


def test_records_with_different_usccs_never_share_a_golden_id(identity_warehouse):
    path, _ = identity_warehouse
    with duckdb.connect(str(path), read_only=True) as con:
        clashes = con.execute(
            """
            select identity_map.golden_account_id
            from intermediate.int_account_identity_map as identity_map
            inner join staging.stg_crm__accounts as accounts
                on identity_map.account_id = accounts.account_id
            where accounts.uscc is not null
            group by identity_map.golden_account_id
            having count(distinct accounts.uscc) > 1
            """
        ).fetchall()
    assert clashes == []
