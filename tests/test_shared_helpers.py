"""The one helper per job: DuckDB connections and frames (pipelines.warehouse), Markdown tables
(pipelines.metadata) and column contracts read from the dbt YAML (pipelines.contracts)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from datetime import date

import numpy as np
import pandas as pd
import pytest

from pipelines import settings
from pipelines import warehouse as wh
from pipelines.contracts import (
    model_columns,
    policy_scores,
    source_columns,
    source_descriptions,
    types_of,
)
from pipelines.metadata import mapping_table, markdown_table


def test_connect_refuses_at_once_when_told_not_to_wait(tmp_path):
    path = tmp_path / "w.duckdb"
    wh.connect(path).close()
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            textwrap.dedent(
                f"""
                import duckdb, time
                con = duckdb.connect({str(path)!r})
                print("held", flush=True)
                time.sleep(3)
                """
            ),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout.readline().strip() == "held"
    with pytest.raises(wh.WarehouseLockedError, match="locked by another process"):
        wh.connect(path, read_only=True, lock_timeout_s=0)
    holder.wait(timeout=30)
    with wh.connection(path, read_only=True) as con:  # free again
        assert con.execute("select 1").fetchone() == (1,)


def test_connections_carry_the_memory_cap(tmp_path, monkeypatch):
    monkeypatch.setenv("STRATUM_DUCKDB_MEMORY_LIMIT", "1GB")
    with wh.connection(tmp_path / "w.duckdb") as con:
        limit = con.execute("select current_setting('memory_limit')").fetchone()[0]
    assert limit.replace(" ", "") in {"1GB", "953.6MiB", "1000.0MB", "953.6MB"}


def test_the_default_memory_cap_is_half_the_ram_up_to_4gb(tmp_path, monkeypatch):
    monkeypatch.delenv("STRATUM_DUCKDB_MEMORY_LIMIT", raising=False)
    ram = {"SC_PAGE_SIZE": 4096, "SC_PHYS_PAGES": 24_000_000_000 // 4096}
    monkeypatch.setattr(os, "sysconf", lambda name: ram[name])
    assert settings.duckdb_memory_limit() == "4.0GB"  # 24 GB: capped, not 12
    ram["SC_PHYS_PAGES"] = 6_000_000_000 // 4096
    assert settings.duckdb_memory_limit() == "3.0GB"  # 6 GB: half of it
    with wh.connection(tmp_path / "w.duckdb") as con:  # a value DuckDB accepts
        limit = con.execute("select current_setting('memory_limit')").fetchone()[0]
    assert limit.replace(" ", "") in {"3.0GB", "2.7GiB", "2.7GB", "2794.0MiB"}
    monkeypatch.setenv("STRATUM_DUCKDB_MEMORY_LIMIT", "12GB")
    assert settings.duckdb_memory_limit() == "12GB"


def test_tables_in_and_out_with_a_contract(tmp_path):
    frame = pd.DataFrame(
        {"k": ["b", "a"], "d": ["2024-06-30", None], "n": [1, 2], "extra": ["x", "y"]}
    )
    types = {"k": "varchar", "d": "date", "n": "double"}
    with wh.connection(tmp_path / "w.duckdb") as con:
        wh.replace_table(con, "s.t", frame, types)
        assert wh.table_exists(con, "s.t") and not wh.table_exists(con, "s.nope")
        assert wh.table_columns(con, "s.t") == ["k", "d", "n"]
        wh.replace_table(con, "s.t", frame, types, keep_others=True)
        assert wh.table_columns(con, "s.t") == ["k", "d", "n", "extra"]
        got = wh.read_table(con, "s.t", ["k", "d", "n"], order_by=("k",))
        described = dict(
            con.execute("select column_name, column_type from (describe s.t)").fetchall()
        )
        assert wh.row_count(con, "s.t") == 2
    assert got["k"].tolist() == ["a", "b"]  # the order asked for, not the insert order
    assert pd.isna(got["d"].iloc[0]) and got["d"].iloc[1] == pd.Timestamp(date(2024, 6, 30))
    assert described == {"k": "VARCHAR", "d": "DATE", "n": "DOUBLE", "extra": "VARCHAR"}


def test_a_table_replaced_from_a_partial_read_joins_back_the_columns_left_unread(tmp_path):
    """The frame read some columns of the source and added its own: the table gets the contract
    first, then the source's other columns in the source's order (the frame's values where it
    read them, even changed, else the source row of the same key), then the frame's own; rows
    in the frame's order, a key the source lacks gets nulls, never another row's values."""
    source = pd.DataFrame(
        {
            "k": ["a", "b", "c"],
            "score": [1.0, 2.0, 3.0],
            "why": ["ra", "rb", "rc"],
            "label": ["la", "lb", "lc"],
            "why_zh": ["原因a", "原因b", "原因c"],
        }
    )
    frame = pd.DataFrame(
        {"k": ["c", "z", "a"], "tier": ["A", "B", "C"], "score": [30.0, 0.5, 10.0]}
    ).assign(label=["LC", "LZ", "LA"], mine=[1, 2, 3])
    types = {"tier": "varchar", "k": "varchar"}
    with wh.connection(tmp_path / "w.duckdb") as con:
        wh.replace_table(con, "s.source", source)
        wh.replace_table_joining(con, "t.out", frame, types, "s.source", key="k")
        columns = wh.table_columns(con, "t.out")
        rows = con.execute("select * from t.out").fetchall()  # insertion order
        with pytest.raises(KeyError, match="frame lacks contract columns: snapshot_id"):
            wh.replace_table_joining(
                con, "t.out", frame, {"snapshot_id": "varchar", **types}, "s.source", key="k"
            )
    assert columns == ["tier", "k", "score", "why", "label", "why_zh", "mine"]
    assert rows == [
        ("A", "c", 30.0, "rc", "LC", "原因c", 1),
        ("B", "z", 0.5, None, "LZ", None, 2),
        ("C", "a", 10.0, "ra", "LA", "原因a", 3),
    ]


def test_the_tier_step_reads_scores_without_the_columns_it_carries(tmp_path):
    from pipelines.tiering.store import SCORES_TABLE, carried, read_scores

    names = ["golden_account_id", "rfm_reason", "score_reasons", "score_reasons_zh",
             "risk_reason", "rules_version", "model_version", "risk_level", "abc_class",
             "reason_code_count", "conversion_source"]  # fmt: skip
    frame = pd.DataFrame(
        {n: ["G2", "G1"] if n == "golden_account_id" else ["x", "y"] for n in names}
    )
    with wh.connection(tmp_path / "w.duckdb") as con:
        wh.replace_table(con, SCORES_TABLE, frame)
        got = read_scores(con)
    assert [c for c in names if carried(c)] == names[1:7]
    assert got.columns.tolist() == ["golden_account_id", "risk_level", "abc_class",
                                    "reason_code_count", "conversion_source"]  # fmt: skip
    assert got["golden_account_id"].tolist() == ["G1", "G2"]


def test_replace_rows_touches_only_the_given_keys_and_rolls_back(tmp_path):
    types = {"snapshot_id": "varchar", "v": "integer"}
    first = pd.DataFrame({"snapshot_id": ["s1", "s1", "s2"], "v": [1, 2, 3]})
    with wh.connection(tmp_path / "w.duckdb") as con:
        wh.replace_rows(con, "t.x", first, "snapshot_id", ["s1", "s2"], types)
        # A rerun of s1 with no rows at all still removes s1's old rows.
        wh.replace_rows(con, "t.x", first.iloc[:0], "snapshot_id", ["s1"], types)
        assert wh.distinct_values(con, "t.x", "snapshot_id") == (["s2"], 1)
        with pytest.raises(KeyError, match="frame lacks contract columns: v"), wh.transaction(con):
            wh.replace_rows(con, "t.x", first[["snapshot_id"]], "snapshot_id", ["s2"], types)
        assert wh.distinct_values(con, "t.x", "snapshot_id") == (["s2"], 1)  # rolled back
        # A table written before its contract grew a column gets it (null in the old rows).
        grown = {**types, "note": "varchar"}
        wh.replace_rows(con, "t.x", first.assign(note="n"), "snapshot_id", ["s1"], grown)
        got = con.execute("select snapshot_id, v, note from t.x order by v").fetchall()
        assert got == [("s1", 1, "n"), ("s1", 2, "n"), ("s2", 3, None), ("s2", 3, "n")]


def test_append_rekey_and_column_types(tmp_path):
    """Rows appended by column name (others keep their defaults); keys renamed old -> new,
    a second time changing nothing; column types as the catalogue has them."""
    with wh.connection(tmp_path / "w.duckdb") as con:
        wh.create_table(con, "t.ledger", {"id": "varchar", "n": "integer", "note": "varchar"})
        wh.append_rows(con, "t.ledger", pd.DataFrame({"n": [1, 2, 3], "id": ["a", "b", "c"]}))
        wh.append_rows(con, "t.ledger", pd.DataFrame({"n": [], "id": []}))  # nothing, no error
        redirects = pd.Series({"a": "c", "b": "c"})
        assert wh.rekey(con, "t.ledger", "id", redirects) == 2
        assert wh.rekey(con, "t.ledger", "id", redirects) == 0
        rows = con.execute("select id, n, note from t.ledger order by n").fetchall()
        assert wh.column_types(con, "t.ledger") == [
            ("id", "VARCHAR"),
            ("n", "INTEGER"),
            ("note", "VARCHAR"),
        ]
        assert wh.column_types(con, "t.nope") == []
    assert rows == [("c", 1, None), ("c", 2, None), ("c", 3, None)]


def test_in_memory_connections_take_further_options():
    with wh.connection(":memory:", options={"threads": 1, "memory_limit": "500MB"}) as con:
        threads, limit = con.execute(
            "select current_setting('threads'), current_setting('memory_limit')"
        ).fetchall()[0]
    assert int(threads) == 1
    assert limit.replace(" ", "") in {"500.0MB", "476.8MiB", "476.8MB"}


def test_markdown_table_renders_nulls_floats_and_escapes_one_way():
    frame = pd.DataFrame(
        {"name": ["a|b", "line\nbreak", None], "x": [1234.5, np.nan, 0.25], "n": [1, 2, 3]}
    )
    assert markdown_table(frame, right_align={"x"}) == (
        "| name | x | n |\n"
        "|---|---:|---|\n"
        "| a\\|b | 1,234.500 | 1 |\n"
        "| line break |  | 2 |\n"
        "|  | 0.250 | 3 |"
    )
    assert markdown_table([(1, "x")], ["a", "b"]) == "| a | b |\n|---|---|\n| 1 | x |"
    indexed = markdown_table(pd.DataFrame({"v": [1]}, index=pd.Index(["r"], name="k")), index=True)
    assert indexed == "| k | v |\n|---|---|\n| r | 1 |"
    assert mapping_table({"golden_accounts": 3, "tags": {"new": 1}}) == (
        "| measure | value |\n|---|---|\n| golden_accounts | 3 |\n| tags | new: 1 |"
    )
    with pytest.raises(ValueError, match="rows need headers"):
        markdown_table([(1,)])


def test_contracts_are_read_from_the_dbt_yaml():
    features = model_columns("account_features")
    assert features[0].name == "golden_account_id" and features[0].data_type == "varchar"
    assert types_of(source_columns("tiers", "migration_matrix")) == {
        "as_of_date": "date",
        "snapshot_id": "varchar",
        "from_tier": "varchar",
        "to_tier": "varchar",
        "accounts": "bigint",
    }
    numeric, categorical, labels = policy_scores()
    assert {"clv_12m", "p_alive", "rfm_score"} <= numeric
    assert {"abc_class", "risk_level", "has_paid_order"} <= categorical
    assert labels["p_alive"] == ("P(alive)", "存活概率")
    with pytest.raises(KeyError, match="no dbt model nope"):
        model_columns("nope")
    with pytest.raises(KeyError, match="no dbt source tiers.nope"):
        source_columns("tiers", "nope")
    described = source_descriptions("identity", "identity_review")
    assert described["pair_id"].startswith("account_id_l|account_id_r")
    assert source_descriptions("scores", "rfm")["rfm_score"] == ""  # declared, undescribed
    assert source_descriptions("scores", "nope") == {}


@pytest.mark.parametrize("kind", ["series", "index", "set", "list", "empty", "ints"])
def test_isin_answers_as_pandas_does(kind):
    from pipelines.frames import isin

    rng = np.random.default_rng(3)
    ids = pd.Series([f"A-{i}" for i in rng.integers(0, 400, 1_000)], dtype="str")
    ids[rng.random(len(ids)) < 0.05] = None
    pool = pd.Series([f"A-{i}" for i in rng.integers(0, 400, 300)] + [None], dtype="str")
    among = {
        "series": pool,
        "index": pd.Index(pool.dropna()),
        "set": set(pool.dropna()),
        "list": list(pool),
        "empty": pd.Index([], dtype="str"),
        "ints": None,
    }[kind]
    if kind == "ints":
        ids, among = pd.Series(rng.integers(0, 50, 500)), np.arange(0, 50, 3)
    got = isin(ids, among)
    assert got.dtype == bool and got.shape == (len(ids),)
    np.testing.assert_array_equal(got, ids.isin(among).to_numpy())
    assert 0 < got.sum() < len(ids) or kind == "empty"


def test_isin_of_nothing_is_nothing():
    from pipelines.frames import isin

    assert isin(pd.Index([], dtype=object), {"G-1", "G-2"}).shape == (0,)
    assert isin(pd.Series([], dtype="str"), set()).shape == (0,)
    np.testing.assert_array_equal(isin(pd.Series([None, None]), ["a"]), [False, False])


@pytest.mark.parametrize("among", ["series", "list", "index"])
def test_positions_answer_as_pandas_map_does(among):
    """Where each id is in a list of distinct ids: what mapping through a dict of positions,
    or through a Series indexed by the ids, gives (NaN for missing and unknown values)."""
    from pipelines.frames import positions

    rng = np.random.default_rng(5)
    ids = pd.Series([f"A-{i}" for i in rng.integers(0, 400, 1_000)], dtype="str")
    ids[rng.random(len(ids)) < 0.05] = None
    distinct = pd.Series([f"A-{i}" for i in rng.permutation(300)], dtype="str")
    known = {"series": distinct, "list": distinct.tolist(), "index": pd.Index(distinct)}[among]
    got = positions(ids, known)
    by_dict = ids.map({v: float(i) for i, v in enumerate(distinct)}).astype(float).to_numpy()
    by_series = ids.map(pd.Series(np.arange(300.0), index=distinct)).astype(float).to_numpy()
    np.testing.assert_array_equal(got, by_dict)
    np.testing.assert_array_equal(got, by_series)
    assert np.isnan(got).sum() > ids.isna().sum() > 0  # unknown ids and missing ones
    assert np.isnan(positions(pd.Series([None, None]), ["a"])).all()
    assert positions(pd.Series(["a"]), []).shape == (1,) and np.isnan(positions(["a"], [])[0])
