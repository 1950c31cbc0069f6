"""The SCD2 attribute snapshot keeps the same history on Spark (plain Parquet, the project's own
snapshot materialization, dbt_project/macros/snapshot_without_merge.sql) as on DuckDB.

The transform scenario (tests/transform/scenario.py) plus a few record versions dated between
two as-of dates, built through the Dagster dbt assets for 2024-06-30 and then 2024-07-31 on
each engine: in between, F1's owner team and G-A1's credit rating change (a version closed, a
new one opened), S1 is deleted (its version invalidated) and N2 appears. The records are point
in time, so the first run does not see the later versions. Each engine's two runs happen once
per module; the Spark reading session the runs start in this process is stopped at the end.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from tests.transform.raw_tables import append_rows, create_raw_tables
from tests.transform.scenario import ROWS

RUN_1, RUN_2 = pd.Timestamp("2024-06-30"), pd.Timestamp("2024-07-31")
SNAPSHOT = "snapshots.account_attributes_snapshot"
KEYS = ("golden_account_id", "dbt_valid_from")


def _account(account_id: str, name: str, updated: str, **kw: object) -> dict[str, object]:
    return {
        "account_id": account_id,
        "account_name": name,
        "created_at": kw.pop("created_at", "2018-01-01"),
        "updated_at": updated,
        "province": "浙江省",
        "city": "杭州市",
        **kw,
    }


# Versions written between RUN_1 and RUN_2. G-A1's credit rating changes too: the scenario's
# risk record of 2024-07-15 (BB -> C, abnormal operation).
LATER_ACCOUNTS = [
    _account(
        "F1",
        "飞达物流有限公司",
        "2024-07-10",
        industry="logistics",
        employee_count=5000,
        owner_team="East-4",
    ),
    _account("S1", "沉默客户有限公司", "2024-07-10", created_at="2020-01-01", is_deleted=True),
    _account("N2", "新签客户有限公司", "2024-07-05", created_at="2024-07-05"),
]
CHANGED, DELETED, NEW = {"G-A1", "G-F1"}, "G-S1", "G-N2"


@dataclass(frozen=True)
class History:
    """One engine's two runs: their Dagster results, the snapshot after each (the engine's own
    table, DuckDB's pandas types) and the latest as-of the backfill guard reads after them."""

    engine: str
    results: list
    after_run_1: pd.DataFrame
    after_run_2: pd.DataFrame
    latest_as_of: str | None
    customer_360_run_1: set[str]


def _snapshot(path: Path) -> pd.DataFrame:
    from pipelines.engine import read_model

    with duckdb.connect(str(path), read_only=True) as con:
        return read_model(con, SNAPSHOT, order_by=KEYS).reset_index(drop=True)


def _two_runs(data_dir: Path, engine: str) -> History:
    from dagster import materialize

    from pipelines.identity.assets import account_matches
    from pipelines.resources import Warehouse
    from pipelines.run_context import RunContextResource
    from pipelines.transform.assets import (
        _latest_snapshot_as_of,
        dbt_models,
        dbt_resource,
        dbt_staging_models,
    )

    path = data_dir / "warehouse" / "stratum.duckdb"
    path.parent.mkdir(parents=True)
    with duckdb.connect(str(path)) as con:
        create_raw_tables(con)
        for entity, rows in ROWS.items():
            append_rows(con, entity, rows)
        append_rows(con, "crm_accounts", LATER_ACCOUNTS, loaded_at=datetime(2024, 7, 20))

    results, snapshots = [], []
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("STRATUM_DATA_DIR", str(data_dir))
        mp.setenv("STRATUM_ENGINE", engine)
        if engine == "spark":
            # The models only: their data tests and unit tests run on Spark in the equivalence
            # module (tests/integration/test_integration_spark.py), and here would triple the
            # cost of the two runs (a planned Spark job per test, ~8 s per unit test).
            mp.setenv("DBT_EXCLUDE_RESOURCE_TYPES", "test unit_test")
        for as_of in (RUN_1.date().isoformat(), RUN_2.date().isoformat()):
            result = materialize(
                [dbt_staging_models, account_matches, dbt_models],
                resources={
                    "dbt": dbt_resource(),
                    "warehouse": Warehouse(),
                    "run": RunContextResource(),
                },
                raise_on_error=False,
                partition_key=as_of,
            )
            results.append(result)
            assert result.success, as_of
            snapshots.append(_snapshot(path))
            if len(results) == 1:
                with duckdb.connect(str(path), read_only=True) as con:
                    rows = con.execute("select golden_account_id from marts.customer_360")
                    accounts = {r[0] for r in rows.fetchall()}
        latest = _latest_snapshot_as_of(Warehouse())
    return History(engine, results, snapshots[0], snapshots[1], latest, accounts)


@pytest.fixture(scope="module")
def duckdb_history(tmp_path_factory, dbt_manifest) -> History:
    return _two_runs(tmp_path_factory.mktemp("snapshot_duckdb") / "data", "duckdb")


@pytest.fixture(scope="module")
def spark_history(tmp_path_factory, dbt_manifest) -> Iterator[History]:
    from pipelines.spark.session import stop_reader_session

    stop_reader_session()  # whatever an earlier module in this process left
    try:
        yield _two_runs(tmp_path_factory.mktemp("snapshot_spark") / "data", "spark")
    finally:
        stop_reader_session()


ENGINES = ["duckdb", "spark"]


@pytest.fixture(params=ENGINES)
def history(request) -> History:
    return request.getfixturevalue(f"{request.param}_history")


def test_both_runs_build_the_snapshot_and_pass_its_checks(history):
    from dagster import AssetKey

    snapshot = AssetKey("account_attributes_snapshot")
    for result in history.results:
        assert snapshot in {e.asset_key for e in result.get_asset_materialization_events()}
        checks = result.get_asset_check_evaluations()
        assert all(c.passed for c in checks)
        # not null, one current version per account (on Spark the data tests are left out
        # here, see _two_runs, and run in the equivalence module)
        ran = {c.check_name for c in checks if c.asset_key == snapshot}
        assert len(ran) == (3 if history.engine == "duckdb" else 0)


def test_the_first_run_records_one_current_version_per_account(history):
    first = history.after_run_1
    assert set(first["golden_account_id"]) == history.customer_360_run_1
    assert first["golden_account_id"].is_unique
    assert first["dbt_valid_to"].isna().all()
    assert (first["dbt_valid_from"] == RUN_1).all()
    assert NEW not in set(first["golden_account_id"])


def test_a_changed_attribute_closes_the_version_and_opens_a_new_one(history):
    rows = history.after_run_2
    for account in CHANGED:
        old, new = rows[rows["golden_account_id"] == account].to_dict("records")
        assert (old["dbt_valid_from"], old["dbt_valid_to"]) == (RUN_1, RUN_2)
        assert new["dbt_valid_from"] == RUN_2 and pd.isna(new["dbt_valid_to"])
        assert pd.Timestamp(new["as_of_date"]) == RUN_2
    f1 = rows[rows["golden_account_id"] == "G-F1"]["owner_team"].tolist()
    assert f1 == ["East-3", "East-4"]
    a1 = rows[rows["golden_account_id"] == "G-A1"][["credit_rating", "abnormal_operation"]]
    assert a1.values.tolist() == [["BB", False], ["C", True]]


def test_a_deleted_account_is_invalidated_and_a_new_one_opened(history):
    rows = history.after_run_2
    (deleted,) = rows[rows["golden_account_id"] == DELETED].to_dict("records")
    # closed in business time: the as-of date of the run that found it gone
    # (macros/snapshot_time.sql; dbt's default is the run's wall clock)
    assert (deleted["dbt_valid_from"], deleted["dbt_valid_to"]) == (RUN_1, RUN_2)
    (new,) = rows[rows["golden_account_id"] == NEW].to_dict("records")
    assert new["dbt_valid_from"] == RUN_2 and pd.isna(new["dbt_valid_to"])


def test_accounts_that_did_not_change_keep_their_first_version(history):
    first, second = history.after_run_1, history.after_run_2
    unchanged = set(first["golden_account_id"]) - CHANGED - {DELETED}
    assert len(unchanged) >= 10
    kept = second[second["golden_account_id"].isin(unchanged)].reset_index(drop=True)
    before = first[first["golden_account_id"].isin(unchanged)].reset_index(drop=True)
    pd.testing.assert_frame_equal(kept, before)
    # one current version per account still in the profile, none for the deleted one
    current = second[second["dbt_valid_to"].isna()]["golden_account_id"]
    assert current.is_unique
    assert set(current) == (history.customer_360_run_1 - {DELETED}) | {NEW}


def test_a_backfill_after_the_second_run_would_leave_the_snapshot_alone(history):
    """The guard reads the engine's own table (on Spark its Parquet files)."""
    from pipelines.transform.assets import SNAPSHOT_NODE, dbt_build_args
    from tests.config_files import run_context

    assert history.latest_as_of == RUN_2.date().isoformat()
    backfill = run_context(RUN_1.date(), "backfill")
    assert dbt_build_args(backfill, history.latest_as_of)[-2:] == ["--exclude", SNAPSHOT_NODE]


def test_spark_records_the_same_history_as_duckdb(duckdb_history, spark_history):
    """Same columns, types and rows, every column: a deletion too is stamped with the run's
    as-of date, not each engine's wall clock."""
    duck, spark = duckdb_history.after_run_2, spark_history.after_run_2
    assert list(spark.columns) == list(duck.columns)
    assert spark.dtypes.to_dict() == duck.dtypes.to_dict()
    pd.testing.assert_frame_equal(spark, duck, check_exact=True)
