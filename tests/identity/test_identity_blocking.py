"""Which record pairs the matcher scores: its prediction blocking rules, as Splink renders them
for DuckDB, evaluated on pairs of one-record tables."""

from __future__ import annotations

import duckdb
import pytest

from pipelines.identity.model import PREDICTION_BLOCKING
from tests.transform.uscc import CHARSET, make_uscc


def _blocked(left: dict, right: dict) -> list[int]:
    """The blocking rules (by index) that pair the record ``left`` with ``right``."""
    rules = [b.get_blocking_rule("duckdb").blocking_rule_sql for b in PREDICTION_BLOCKING]
    con = duckdb.connect()
    try:
        for alias, record in (("l", left), ("r", right)):
            con.execute(
                f"create table {alias} as select ?::varchar as uscc_any, "
                "?::varchar as name_core, ?::varchar as city",
                [record.get("uscc_any"), record["name_core"], record["city"]],
            )
        hits = con.execute(
            "select " + ", ".join(f"coalesce({rule}, false)" for rule in rules) + " from l, r"
        ).fetchone()
    finally:
        con.close()
    return [i for i, hit in enumerate(hits) if hit]


CODE = make_uscc(48_213_907)


@pytest.mark.parametrize("position", range(18))
def test_a_code_one_character_off_anywhere_is_scored(position):
    # Different names in different cities: only the credit code can bring the pair together.
    wrong = CHARSET[(CHARSET.index(CODE[position]) + 1) % len(CHARSET)]
    typo = CODE[:position] + wrong + CODE[position + 1 :]
    assert _blocked(
        {"uscc_any": CODE, "name_core": "云启科技", "city": "杭州市"},
        {"uscc_any": typo, "name_core": "星河物流", "city": "宁波市"},
    )


def test_codes_sharing_only_their_region_and_type_are_not_scored():
    # The first ten characters (authority, type, region and two of the organisation code) are
    # shared by thousands of companies in one district: no evidence of one company.
    other = make_uscc(48_000_000 + 7_316)
    assert CODE[:10] == other[:10] and sum(a != b for a, b in zip(CODE, other, strict=True)) > 1
    assert not _blocked(
        {"uscc_any": CODE, "name_core": "云启科技", "city": "杭州市"},
        {"uscc_any": other, "name_core": "星河物流", "city": "宁波市"},
    )


def test_the_same_code_and_the_same_name_core_are_scored_and_nothing_else_is():
    assert _blocked(
        {"uscc_any": CODE, "name_core": "云启科技", "city": "杭州市"},
        {"uscc_any": CODE, "name_core": "星河物流", "city": "宁波市"},
    )
    assert _blocked(
        {"uscc_any": None, "name_core": "云启科技", "city": "杭州市"},
        {"uscc_any": None, "name_core": "云启科技", "city": "宁波市"},
    ) == [0]
    assert not _blocked(
        {"uscc_any": None, "name_core": "云启科技", "city": "杭州市"},
        {"uscc_any": None, "name_core": "星河物流", "city": "杭州市"},
    )
