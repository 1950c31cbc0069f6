"""The pieces that make Splink's training the same on every backend (pipelines/identity/training.py,
similarity.py): record samples drawn outside Splink, exact pair counts, and DuckDB's
Jaro-Winkler as the body of Spark's UDF. Pure functions on small tables; no Spark."""

from __future__ import annotations

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from pipelines.identity.config import Training
from pipelines.identity.similarity import duckdb_jaro_winkler
from pipelines.identity.training import (
    blocked_pairs,
    em_sample,
    pair_count,
    records_for_pairs,
    sample_records,
)


def _records(n: int, seed: int = 0) -> pa.Table:
    rng = np.random.default_rng(seed)
    codes = rng.integers(0, n // 3, n).astype(str).astype(object)
    codes[rng.random(n) < 0.2] = None  # records without the key pair with nobody
    return pa.table({"unique_id": [f"ACC{i:06d}" for i in range(n)], "name_core": codes})


@pytest.mark.parametrize("max_pairs", [1, 2, 3, 10, 2e5, 2e6, 123_456.7])
def test_records_for_pairs_is_the_largest_sample_under_the_cap(max_pairs):
    n = records_for_pairs(max_pairs)
    assert pair_count(n) <= max_pairs < pair_count(n + 1)


def test_blocked_pairs_counts_the_equi_join_exactly():
    records = _records(900)
    con = duckdb.connect()
    con.register("records", records)
    joined = con.execute(
        "select count(*) from records l join records r "
        "on l.name_core = r.name_core and l.unique_id < r.unique_id"
    ).fetchall()[0][0]
    assert joined > 0
    assert blocked_pairs(records, "name_core") == joined


def test_a_sample_is_the_same_records_whatever_their_order_and_changes_with_the_seed():
    records = _records(1000)
    sample = sample_records(records, 250, seed=42)
    assert sample.num_rows == 250
    # kept in the order they came in
    assert sample.column("unique_id").to_pylist() == sorted(sample.column("unique_id").to_pylist())
    shuffled = records.take(np.random.default_rng(5).permutation(records.num_rows))
    again = sample_records(shuffled, 250, seed=42)
    assert set(again.column("unique_id").to_pylist()) == set(sample.column("unique_id").to_pylist())
    other = sample_records(records, 250, seed=43)
    assert set(other.column("unique_id").to_pylist()) != set(sample.column("unique_id").to_pylist())
    assert sample_records(records, 5000, seed=42) is records


def test_em_learns_from_every_record_under_the_cap_and_from_a_sample_over_it():
    records = _records(3000)
    pairs = blocked_pairs(records, "name_core")
    assert em_sample(records, "name_core", Training(em_max_pairs=pairs)) is records
    training = Training(em_max_pairs=pairs / 4)
    sample = em_sample(records, "name_core", training)
    # a share p of the records keeps about p^2 of the pairs: half the records here
    assert sample.num_rows == 1500
    assert 0 < blocked_pairs(sample, "name_core") < pairs / 2
    assert sample.equals(em_sample(records, "name_core", training))


def test_the_spark_udf_body_is_duckdbs_jaro_winkler_row_for_row():
    """On Chinese names DuckDB compares UTF-8 bytes: 华为技术 / 华为科技 score 0.9 where a
    character-level Jaro-Winkler (Splink's Scala jar on Spark) gives 0.867 and a lower level."""
    left = pd.Series(["华为技术", "云启科技", None, "北京百度网讯", "abcd", ""])
    right = pd.Series(["华为科技", "云启科学", "杭州云启", "百度网讯", "abce", "x"])
    got = duckdb_jaro_winkler(left, right)
    con = duckdb.connect()
    con.register("pairs", pa.table({"l": pa.array(left), "r": pa.array(right)}))
    expected = con.sql("select jaro_winkler_similarity(l, r) as jw from pairs").df()["jw"]
    assert got.isna().tolist() == [False, False, True, False, False, False]
    assert got.tolist()[:2] + got.tolist()[3:] == expected.tolist()[:2] + expected.tolist()[3:]
    assert got[0] == 0.9
