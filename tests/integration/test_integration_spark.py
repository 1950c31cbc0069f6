"""The Spark engine gives what DuckDB gives (issue 15): the integration world (1,000 accounts and
the hand-made cases) run once more with ``STRATUM_ENGINE=spark`` matches identities with Splink on
Spark into the same scored pairs and identity map, builds the same profile, features and training
windows, row for row (floats within 1e-9 relative), copies back to DuckDB what the single-node
stages read there, and publishes the same tiers as the DuckDB run.

One world, two runs: the DuckDB run is the integration modules' shared, read-only ``first_run``
(computed once per test process, by whichever module asks first), the Spark run is this
module's own, in a Dagster instance of its own; the Spark session it leaves in this process is
stopped when the module ends. Needs the ``spark`` extra, which ``make test`` installs.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import pandas as pd
import pytest
from dagster import DagsterInstance

from pipelines.spark.session import stop_reader_session, table_location
from tests.conftest import PipelineWorld, make_world, run_pipeline
from tests.integration.conftest import add_hand_cases, failures, materialized, warehouse

pytestmark = pytest.mark.integration

# Columns that name the run, not the data: they differ between any two runs.
RUN_COLUMNS = {"snapshot_id", "run_id"}


@pytest.fixture(scope="module")
def spark_run(tmp_path_factory, dbt_manifest) -> Iterator[tuple[PipelineWorld, object]]:
    """The same landing files as ``world``, the whole job on the Spark engine, in a Dagster
    instance of its own; this process's Spark reading session is stopped when the module ends,
    and one left by an earlier module is stopped before the run."""
    spark_world = make_world(tmp_path_factory.mktemp("spark_world"), accounts=1000, seed=11)
    add_hand_cases(spark_world)
    stop_reader_session()
    try:
        with DagsterInstance.ephemeral() as instance, pytest.MonkeyPatch.context() as mp:
            mp.setenv("STRATUM_ENGINE", "spark")
            # The dbt unit tests run on Spark too: the cross-database macros under test.
            mp.setenv("STRATUM_DBT_UNIT_TESTS", "1")
            result = run_pipeline(spark_world, instance)
            assert result.success, failures(result)
            yield spark_world, result
    finally:
        stop_reader_session()


def _duckdb_table(world: PipelineWorld, relation: str, keys: Sequence[str]) -> pd.DataFrame:
    con = warehouse(world)
    try:
        return con.execute(f"select * from {relation} order by {', '.join(keys)}").df()
    finally:
        con.close()


def _spark_table(world: PipelineWorld, relation: str, keys: Sequence[str]) -> pd.DataFrame:
    """A table as Spark built it, through the engine's Arrow reader (DuckDB's pandas types)."""
    from pipelines.engine import read_model

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("STRATUM_DATA_DIR", str(world.data_dir))
        mp.setenv("STRATUM_ENGINE", "spark")
        assert table_location(relation).is_dir()
        con = warehouse(world)
        try:
            return read_model(con, relation, order_by=tuple(keys))
        finally:
            con.close()


def assert_same_rows(duck: pd.DataFrame, spark: pd.DataFrame) -> None:
    """Same columns in the same order with the same types, same rows; floats within 1e-9
    relative, everything else exactly."""
    drop = [c for c in duck.columns if c in RUN_COLUMNS]
    duck, spark = duck.drop(columns=drop), spark.drop(columns=drop)
    assert list(spark.columns) == list(duck.columns)
    assert spark.dtypes.to_dict() == duck.dtypes.to_dict()
    assert len(duck) > 0
    pd.testing.assert_frame_equal(
        spark.reset_index(drop=True),
        duck.reset_index(drop=True),
        check_exact=False,
        rtol=1e-9,
        atol=0,
    )


@pytest.mark.parametrize(
    ("relation", "keys"),
    [
        ("marts.customer_360", ["golden_account_id"]),
        ("intermediate.int_account_identity_map", ["account_id"]),
        ("features.account_features", ["golden_account_id"]),
        ("features.account_windows", ["golden_account_id", "periods_back"]),
        ("marts.group_360", ["root_golden_account_id"]),
    ],
)
def test_spark_builds_the_same_profile_identity_and_features(
    world, first_run, spark_run, relation, keys
):
    spark_world, _ = spark_run
    assert_same_rows(
        _duckdb_table(world, relation, keys), _spark_table(spark_world, relation, keys)
    )


def _match_stats(result) -> dict:
    (mat,) = result.asset_materializations_for_node("identity__account_matches")
    return mat.metadata["match_stats"].value


def test_identity_matching_runs_splink_on_the_engine(first_run, spark_run):
    """Splink's backend is the engine's: DuckDB in the DuckDB run, Spark in the Spark run."""
    _, spark_result = spark_run
    duck_stats, spark_stats = _match_stats(first_run["result"]), _match_stats(spark_result)
    assert (duck_stats["splink_backend"], spark_stats["splink_backend"]) == ("duckdb", "spark")
    assert spark_stats["scored_pairs"] == duck_stats["scored_pairs"] > 0


@pytest.mark.parametrize(
    ("relation", "keys"),
    [
        ("identity.match_pairs", ["account_id_l", "account_id_r"]),
        ("identity.identity_review", ["pair_id"]),
        ("identity.account_identity", ["account_id"]),
    ],
)
def test_splink_on_spark_scores_and_matches_as_on_duckdb(
    world, first_run, spark_run, relation, keys
):
    """The matching step's own tables (written in DuckDB by either engine): the scored pairs
    with their match weights, the review queue and the record -> golden id map."""
    spark_world, _ = spark_run
    assert_same_rows(
        _duckdb_table(world, relation, keys), _duckdb_table(spark_world, relation, keys)
    )


def test_the_models_python_reads_in_duckdb_arrive_with_duckdbs_types(world, first_run, spark_run):
    """The models the single-node stages read in DuckDB (the profile, the identity map, the
    backtest's orders, leads and accounts, the score and publish models) are copied back to the
    Spark run's DuckDB: same column types as DuckDB's own build, same rows."""
    spark_world, _ = spark_run
    for relation, key in [
        ("marts.customer_360", "golden_account_id"),
        ("intermediate.int_account_identity_map", "account_id"),
        ("marts.orders", "order_id"),
        ("marts.leads", "lead_id"),
        ("features.account_features", "golden_account_id"),
        ("scores.account_scores", "golden_account_id"),
        ("tiers.published_customer_tier", "golden_account_id"),
    ]:
        duck, spark = warehouse(world), warehouse(spark_world)
        try:
            types = [duck.execute(f"describe {relation}").fetchall()]
            types.append(spark.execute(f"describe {relation}").fetchall())
        finally:
            duck.close()
            spark.close()
        assert types[0] == types[1], relation
        assert_same_rows(
            _duckdb_table(world, relation, [key]), _duckdb_table(spark_world, relation, [key])
        )


def test_spark_publishes_the_same_tiers(world, first_run, spark_run):
    spark_world, _ = spark_run
    published = []
    for w in (world, spark_world):
        (snapshot,) = [
            p
            for p in (w.data_dir / "serving" / "snapshots").iterdir()
            if not p.name.startswith(".")
        ]
        frame = pd.read_parquet(snapshot / "customer_tier.parquet")
        published.append(frame.sort_values("golden_account_id"))
    duck, spark = published
    assert duck["tier"].nunique() >= 3  # a real distribution, not one default tier
    assert_same_rows(duck, spark)


def test_spark_records_the_same_attribute_snapshot(world, first_run, spark_run):
    """The SCD2 snapshot after the run (on Spark the project's own snapshot materialization,
    dbt_project/macros/snapshot_without_merge.sql), every column: none names the run or the
    wall clock here. dbt_valid_from and dbt_updated_at are the run's as-of (updated_at is
    snapshot_as_of), dbt_scd_id hashes the account and that date, and dbt_valid_to stays null
    until a later run closes a version (tests/spark/test_spark_snapshot.py: two runs)."""
    spark_world, _ = spark_run
    relation, keys = "snapshots.account_attributes_snapshot", ["golden_account_id"]
    duck = _duckdb_table(world, relation, keys)
    assert duck["golden_account_id"].is_unique and duck["dbt_valid_to"].isna().all()
    assert_same_rows(duck, _spark_table(spark_world, relation, keys))


def test_the_same_assets_and_checks_run_on_both_engines(first_run, spark_run):
    """The same graph on both engines, the SCD2 attribute snapshot and its checks included."""
    _, spark_result = spark_run
    duck_result = first_run["result"]
    assert "account_attributes_snapshot" in materialized(spark_result)
    assert materialized(spark_result) == materialized(duck_result)

    def checks(result) -> dict[str, bool]:
        return {
            f"{e.event_specific_data.asset_key.to_user_string()}:{e.event_specific_data.check_name}": (
                e.event_specific_data.passed
            )
            for e in result.all_events
            if e.event_type_value == "ASSET_CHECK_EVALUATION"
        }

    duck_checks, spark_checks = checks(duck_result), checks(spark_result)
    assert all(spark_checks.values())
    assert set(spark_checks) == set(duck_checks)
