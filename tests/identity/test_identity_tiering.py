"""The tier state and ledger follow an identity merge (pipelines.tiering.store over the
registry's redirects, pipelines.identity.store.merge_redirects)."""

from __future__ import annotations

from datetime import date

import duckdb
import pandas as pd
import pytest

from pipelines import warehouse as wh
from pipelines.identity.store import merge_redirects
from pipelines.tiering.store import LEDGER, contract, follow_merges, rekey_ledger

AS_OF = date(2026, 11, 20)


@pytest.fixture
def con():
    con = duckdb.connect(":memory:")
    wh.create_table(con, LEDGER, contract("tier_ledger"))
    con.execute("create schema identity")
    con.execute(
        "create table identity.golden_ids (golden_account_id varchar, status varchar, "
        "merged_into varchar, anchor_account_id varchar, issued_on date)"
    )
    # G-B survives; G-A was merged into G-C, itself merged into G-B (a chain); G-D untouched.
    con.executemany(
        "insert into identity.golden_ids values (?, ?, ?, ?, ?)",
        [
            ("G-B", "active", None, "B", "2024-01-01"),
            ("G-C", "retired", "G-B", "C", "2024-02-01"),
            ("G-A", "retired", "G-C", "A", "2024-03-01"),
            ("G-D", "active", None, "D", "2024-01-01"),
        ],
    )
    yield con
    con.close()


def state(rows: list[tuple]) -> pd.DataFrame:
    frame = pd.DataFrame(
        rows,
        columns=[
            "golden_account_id",
            "tier",
            "tier_since",
            "pending_downgrade_to",
            "pending_since",
        ],
    )
    frame["tier_since"] = pd.to_datetime(frame["tier_since"])
    frame["pending_since"] = pd.to_datetime(frame["pending_since"])
    return frame


def test_redirects_follow_chains(con):
    assert merge_redirects(con).sort_index().to_dict() == {"G-A": "G-B", "G-C": "G-B"}
    empty = duckdb.connect(":memory:")
    assert merge_redirects(empty).empty


def test_survivor_without_state_takes_the_tier_held_longest(con):
    previous = state(
        [("G-A", "A", "2023-01-01", None, None), ("G-C", "C", "2025-06-01", None, None),
         ("G-D", "B", "2025-01-01", None, None)]
    )  # fmt: skip
    out = follow_merges(previous, merge_redirects(con))
    assert out[["golden_account_id", "tier"]].values.tolist() == [["G-B", "A"], ["G-D", "B"]]
    assert str(out.loc[0, "tier_since"].date()) == "2023-01-01"


def test_survivor_with_its_own_state_keeps_it(con):
    previous = state(
        [("G-A", "A", "2023-01-01", None, None), ("G-B", "B", "2024-05-01", "C", "2026-11-01")]
    )  # fmt: skip
    out = follow_merges(previous, merge_redirects(con))
    assert out[["golden_account_id", "tier", "pending_downgrade_to"]].values.tolist() == [
        ["G-B", "B", "C"]
    ]


def test_no_merge_leaves_the_state_as_it_is():
    previous = state([("G-A", "A", "2023-01-01", None, None)])
    pd.testing.assert_frame_equal(follow_merges(previous, pd.Series(dtype=object)), previous)


def test_ledger_follows_and_rekeying_is_idempotent(con):
    columns = list(contract("tier_ledger"))
    assert columns[:5] == [
        "golden_account_id",
        "from_tier",
        "to_tier",
        "change_type",
        "effective_date",
    ]
    con.executemany(
        f"insert into tiers.tier_ledger ({', '.join(columns[:11])}) "
        "values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            ("G-A", None, "B", "new", "2022-01-01", "s0", "p1", "r", "", "", ""),
            ("G-A", "B", "A", "promotion", "2023-01-01", "s1", "p1", "r", "", "", ""),
            ("G-C", None, "C", "new", "2025-06-01", "s2", "p1", "r", "", "", ""),
            ("G-D", None, "B", "new", "2025-01-01", "s2", "p1", "r", "", "", ""),
        ],
    )
    redirects = merge_redirects(con)
    assert rekey_ledger(con, redirects) == 3
    assert rekey_ledger(con, redirects) == 0
    rows = con.execute(
        "select golden_account_id, count(*) from tiers.tier_ledger group by 1 order by 1"
    ).fetchall()
    assert rows == [("G-B", 3), ("G-D", 1)]


def test_tiering_after_a_merge_continues_the_survivor(con):
    """Through run_tiering: the survivor keeps the retired id's tier instead of being new."""
    from pipelines.tiering.outputs import run_tiering
    from tests.tiering.tier_fixtures import make_policy, make_scores

    previous = state(
        [("G-A", "C", "2023-01-01", None, None), ("G-D", "C", "2025-01-01", None, None)]
    )
    scores = make_scores([{"golden_account_id": "G-B"}, {"golden_account_id": "G-D"}])
    policy = make_policy()
    followed = run_tiering(
        scores, policy, AS_OF, "s3", previous_state=follow_merges(previous, merge_redirects(con))
    )
    naive = run_tiering(scores, policy, AS_OF, "s3", previous_state=previous)
    kinds = dict(
        zip(followed.ledger["golden_account_id"], followed.ledger["change_type"], strict=True)
    )
    assert kinds.get("G-B") != "new"
    tiers = followed.customer_tier.set_index("golden_account_id")
    assert tiers.loc["G-B", "previous_tier"] == "C"
    assert naive.ledger.set_index("golden_account_id").loc["G-B", "change_type"] == "new"
