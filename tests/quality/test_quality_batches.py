"""Reading bounded batches from DuckDB, whole-table key checks in SQL, and the gates' logic."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pandas as pd
import pytest

from pipelines import warehouse as wh
from pipelines.ingest.manifest import ensure_raw_schema
from pipelines.quality.batches import (
    key_outcomes_sql,
    load_raw_batch,
    load_table_columns,
)
from pipelines.quality.checks import run_customer_360_gate, run_raw_gate
from pipelines.quality.config import QualityConfig
from pipelines.resources import Warehouse
from tests.config_files import run_context
from tests.quality.conftest import AS_OF, customer_360_frame, orders_frame


def _write(con: duckdb.DuckDBPyConnection, table: str, frame: pd.DataFrame) -> None:
    schema = table.split(".")[0]
    con.execute(f"create schema if not exists {schema}")
    con.register("_f", frame)
    if wh.table_exists(con, table):
        con.execute(f"insert into {table} select * from _f")
    else:
        con.execute(f"create table {table} as select * from _f")
    con.unregister("_f")


def _manifest(con: duckdb.DuckDBPyConnection, entity: str, run_id: str, loaded_at: str) -> None:
    frame = pd.DataFrame(
        {
            "entity": [entity],
            # As tests.quality.conftest's frames record it for their rows.
            "path": [f"{entity}/orders_2026-11-22.csv"],
            "size_bytes": [100],
            "sha256": ["ab" * 32],
            "rows_read": [1],
            "rows_loaded": [1],
            "rows_quarantined": [0],
            "loaded_at": [pd.Timestamp(loaded_at)],
            "run_id": [run_id],
        }
    )
    # The manifest as ingest creates it (every column, status and removal included).
    ensure_raw_schema(con)
    wh.append_rows(con, "raw._file_manifest", frame)


@pytest.fixture
def warehouse_path(tmp_path: Path) -> Path:
    path = tmp_path / "warehouse.duckdb"
    con = duckdb.connect(str(path))
    try:
        old = orders_frame(6, run_id="run-old")
        new = pd.concat([orders_frame(6, run_id="run-new")] * 10, ignore_index=True)
        new["order_id"] = [f"N{i:04d}" for i in range(len(new))]
        new["_source_line"] = range(2, len(new) + 2)
        _write(con, "raw.orders", old)
        _write(con, "raw.orders", new)
        _manifest(con, "orders", "run-old", "2026-11-21 01:00")
        _manifest(con, "orders", "run-new", "2026-11-22 01:00")
    finally:
        con.close()
    return path


def test_batch_of_one_run_and_deterministic_sample(warehouse_path: Path) -> None:
    con = duckdb.connect(str(warehouse_path))
    try:
        full = load_raw_batch(con, "orders", "run-new", max_rows=1000)
        assert (len(full.frame), full.total_rows, full.sampled) == (60, 60, False)
        first = load_raw_batch(con, "orders", "run-new", max_rows=25)
        again = load_raw_batch(con, "orders", "run-new", max_rows=25)
        # The sample is the first rows by a hash of file and line (the old run's rows share
        # files and lines with the new one's and are left out).
        expected = con.execute(
            "select * from raw.orders where _run_id = 'run-new' "
            "order by hash(_source_file, _source_line) limit 25"
        ).df()
        pd.testing.assert_frame_equal(first.frame, expected)
        # Only the rows of the batch's files still in play (withdrawn files are left out).
        assert load_raw_batch(con, "orders", "run-new", 1000, shas=["other"]).total_rows == 0
        assert load_raw_batch(con, "orders", "run-new", 1000, shas=["ab" * 32]).total_rows == 60
    finally:
        con.close()
    assert (len(first.frame), first.total_rows, first.sampled) == (25, 60, True)
    assert set(first.frame["_run_id"]) == {"run-new"}
    assert first.frame["order_id"].tolist() == again.frame["order_id"].tolist()
    with pytest.raises(ValueError, match="unknown entity"):
        load_raw_batch(duckdb.connect(), "orders; drop table x", "r", 10)


def test_key_outcomes_sql_and_column_subset(tmp_path: Path) -> None:
    con = duckdb.connect()
    try:
        mart = customer_360_frame(6)
        mart.loc[5, "golden_account_id"] = "G00001"
        mart.loc[4, "golden_account_id"] = None
        _write(con, "marts.customer_360", mart.drop(columns=["region"]))
        not_null, unique = key_outcomes_sql(
            con, "marts.customer_360", "golden_account_id", "ERROR", "WARN"
        )
        batch = load_table_columns(
            con,
            "marts.customer_360",
            ["golden_account_id", "region", "refund_rate"],
            3,
            "golden_account_id",
        )
    finally:
        con.close()
    assert (not_null.success, not_null.unexpected_count, not_null.severity) == (False, 1, "WARN")
    assert (unique.success, unique.unexpected_count, unique.examples) == (False, 2, ["G00001"])
    assert unique.unexpected_percent == pytest.approx(40.0)
    assert list(batch.frame.columns) == ["golden_account_id", "refund_rate"]
    assert batch.missing_columns == ["region"]
    assert (len(batch.frame), batch.total_rows, batch.sampled) == (3, 6, True)


def test_raw_gate_judges_each_batch_once_whichever_run_gets_to_it(
    warehouse_path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The batches' files are not in this landing folder: nothing is held, nothing withdrawn.
    monkeypatch.setenv("STRATUM_DATA_DIR", str(tmp_path / "data"))
    warehouse = Warehouse(path=str(warehouse_path))
    policy = QualityConfig.model_validate({"suites": {"orders": {"max_rows": 20}}})
    # A later run judges both batches, though neither was loaded by it (e.g. the runs that
    # loaded them were killed before their checks): a gate cannot be walked around.
    first = run_raw_gate("orders", run_context(AS_OF, "some-later-run", quality=policy), warehouse)
    assert first.passed
    assert first.metadata["batches_judged"].value == 2
    assert first.metadata["element_count"].value == 6 + 20
    assert "sample of 20" in first.metadata["note"].value
    verdicts = first.metadata["verdicts"].value
    assert "| run-old | orders/orders_2026-11-22.csv | passed |" in verdicts
    assert "| run-new | orders/orders_2026-11-22.csv | passed |" in verdicts

    # Judged batches are not validated again.
    again = run_raw_gate("orders", run_context(AS_OF, "yet-another-run"), warehouse)
    assert again.passed
    assert again.metadata["batches_judged"].value == 0
    assert "judged by an earlier run" in again.metadata["verdicts"].value

    con = duckdb.connect(str(warehouse_path))
    try:
        runs = con.execute(
            "select run_id, count(*), max(element_count), bool_or(sampled) "
            "from quality.validation_results group by 1 order by 1"
        ).fetchall()
        states = con.execute(
            "select batch, status, judged_run_id from quality.gate_state order by batch"
        ).fetchall()
    finally:
        con.close()
    assert runs == [("some-later-run", 28, 20, True)]
    assert states == [
        ("run-new", "passed", "some-later-run"),
        ("run-old", "passed", "some-later-run"),
    ]


def test_customer_360_gate_sampled_uses_sql_keys(tmp_path: Path, monkeypatch) -> None:
    path = tmp_path / "w.duckdb"
    con = duckdb.connect(str(path))
    try:
        mart = customer_360_frame(40)
        mart["golden_account_id"] = [f"G{i:05d}" for i in range(40)]
        mart.loc[39, "golden_account_id"] = "G00000"  # one duplicate, likely outside the sample
        _write(con, "marts.customer_360", mart)
    finally:
        con.close()
    policy = QualityConfig.model_validate({"suites": {"customer_360": {"max_rows": 5}}})
    result = run_customer_360_gate(
        run_context(AS_OF, "c360-run", quality=policy), Warehouse(path=str(path))
    )
    assert not result.passed
    assert result.metadata["element_count"].value == 5
    assert result.metadata["batch_row_count"].value == 40
    assert "expect_column_values_to_be_unique | golden_account_id | 2 |" in (
        result.metadata["failures"].value
    )
    assert "computed in SQL" in result.metadata["note"].value
