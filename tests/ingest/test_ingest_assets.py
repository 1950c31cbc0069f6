"""Asset level: materialize raw assets and checks against a temp warehouse and landing dir."""

from __future__ import annotations

import shutil
from pathlib import Path

import duckdb
import pytest
import yaml
from dagster import (
    AssetKey,
    AssetSelection,
    Definitions,
    RunRequest,
    SkipReason,
    build_sensor_context,
    define_asset_job,
    materialize,
)

from pipelines.ingest import sensors
from pipelines.ingest.assets import raw_assets, raw_checks
from pipelines.privacy.assets import PRIVACY_KEYS
from pipelines.resources import Warehouse
from pipelines.run_context import RunContextResource
from pipelines.settings import LANDING_ENTITIES, REPO_ROOT, get_paths
from tests.ingest.conftest import FIXTURES


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for var in ("STRATUM_LANDING_DIR", "STRATUM_WAREHOUSE"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("STRATUM_DATA_DIR", str(tmp_path))
    return tmp_path


def _drop(fixture: str, entity: str) -> None:
    target = get_paths().landing_dir / entity / fixture
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(FIXTURES / fixture, target)


def _materialize(selection=None):
    return materialize(
        [*raw_assets, *raw_checks],
        resources={"warehouse": Warehouse(), "run": RunContextResource()},
        raise_on_error=False,
        partition_key="2024-06-30",
        selection=selection,
    )


def _checks(result) -> dict[tuple[str, str], tuple[bool, str]]:
    return {
        (e.asset_key.path[-1], e.check_name): (e.passed, e.severity.value)
        for e in result.get_asset_check_evaluations()
    }


def _metadata(result, entity: str) -> dict:
    (event,) = [
        m
        for m in result.get_asset_materialization_events()
        if m.asset_key == AssetKey(["raw", entity])
    ]
    return {k: v.value for k, v in event.materialization.metadata.items()}


def _check_evaluations(result) -> dict[tuple[str, str], object]:
    return {(e.asset_key.path[-1], e.check_name): e for e in result.get_asset_check_evaluations()}


def test_definitions_shape():
    (ingest,) = raw_assets
    raw_keys = {AssetKey(["raw", e]) for e in LANDING_ENTITIES}
    # The same step carries out erasure requests and retention (docs/privacy.md).
    assert ingest.keys == raw_keys | PRIVACY_KEYS
    assert ingest.can_subset
    # Lineage keeps the accounts -> orders edge: orders are checked against loaded accounts.
    assert AssetKey(["raw", "crm_accounts"]) in ingest.asset_deps[AssetKey(["raw", "orders"])]
    assert all(ingest.group_names_by_key[k] == "raw" for k in raw_keys)
    assert all(ingest.group_names_by_key[k] == "privacy" for k in PRIVACY_KEYS)
    assert "warehouse" in ingest.required_resource_keys
    specs = {
        (spec.asset_key.path[-1], spec.name): spec for c in raw_checks for spec in c.check_specs
    }
    assert len(specs) == 4 * len(LANDING_ENTITIES)
    blocking = {name for (_, name), spec in specs.items() if spec.blocking}
    assert blocking == {"files_readable", "reconciliation", "quarantine_rate"}
    assert {"warehouse", "run"} <= ingest.required_resource_keys
    Definitions(
        assets=raw_assets,
        asset_checks=raw_checks,
        resources={"warehouse": Warehouse(), "run": RunContextResource()},
    )


def test_materialize_loads_reports_and_checks(data_dir, tmp_path, monkeypatch):
    # Severity is configuration: here risk's quarantine-rate breach is only recorded (WARN).
    config = tmp_path / "config"
    shutil.copytree(REPO_ROOT / "config", config)
    shipped = yaml.safe_load((config / "sources.yaml").read_text(encoding="utf-8"))
    shipped["sources"]["risk"]["severity"] = "WARN"
    (config / "sources.yaml").write_text(yaml.safe_dump(shipped), encoding="utf-8")
    monkeypatch.setenv("STRATUM_CONFIG_DIR", str(config))
    _drop("accounts_utf8_bom.csv", "crm_accounts")
    _drop("accounts_extra_column.csv", "crm_accounts")
    _drop("orders_batch1.csv", "orders")
    _drop("risk_gbk.csv", "risk")  # 2 of 3 rows quarantined: over the WARN threshold
    result = _materialize()
    assert result.success
    checks = _checks(result)
    assert checks[("orders", "reconciliation")] == (True, "ERROR")
    assert checks[("orders", "quarantine_rate")] == (True, "ERROR")
    assert checks[("risk", "reconciliation")] == (True, "ERROR")
    assert checks[("risk", "quarantine_rate")] == (False, "WARN")  # configured WARN above
    assert all(checks[(e, "files_readable")] == (True, "ERROR") for e in LANDING_ENTITIES)
    assert all(checks[(e, "columns_populated")] == (True, "WARN") for e in LANDING_ENTITIES)

    meta = _metadata(result, "crm_accounts")
    assert (meta["files_loaded"], meta["rows_read"], meta["rows_loaded"]) == (2, 4, 4)
    assert meta["unknown_columns"] == {"crm_accounts/accounts_extra_column.csv": ["wechat_id"]}
    assert meta["dagster/row_count"] == 4
    assert "accounts_utf8_bom.csv" in meta["source_files"]
    risk = _metadata(result, "risk")
    assert "| not an allowed value: credit_rating | 1 |" in risk["quarantine_reasons"]
    assert "| duplicate key in file: uscc/as_of_date | 1 |" in risk["quarantine_reasons"]

    # A second run with nothing new loads nothing and skips every file.
    again = _materialize()
    assert again.success
    meta = _metadata(again, "crm_accounts")
    assert (meta["files_loaded"], meta["files_unchanged"], meta["rows_loaded"]) == (0, 2, 0)
    with duckdb.connect(str(get_paths().warehouse), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM raw.crm_accounts").fetchone()[0] == 4


def test_error_quarantine_rate_fails_blocking_check(data_dir):
    _drop("accounts_utf8_bom.csv", "crm_accounts")
    _drop("orders_amounts.csv", "orders")  # 6 of 7 rows bad; orders threshold is ERROR
    result = _materialize()
    assert not result.success
    assert _checks(result)[("orders", "quarantine_rate")] == (False, "ERROR")
    assert _checks(result)[("orders", "reconciliation")] == (True, "ERROR")


def test_unreadable_file_fails_its_check_but_keeps_good_files(data_dir):
    _drop("accounts_utf8_bom.csv", "crm_accounts")
    _drop("orders_batch1.csv", "orders")
    _drop("orders_truncated.parquet", "orders")
    result = _materialize()
    assert not result.success
    evaluation = _check_evaluations(result)[("orders", "files_readable")]
    assert not evaluation.passed and evaluation.severity.value == "ERROR"
    assert evaluation.description.startswith(
        "orders/orders_truncated.parquet: unreadable Parquet: "
    )
    # The ingest step itself succeeded: every entity materialized, the other checks ran.
    assert {m.asset_key.path[-1] for m in result.get_asset_materialization_events()} == {
        *LANDING_ENTITIES,
        "erasure_log",
        "retention_log",
    }
    assert _checks(result)[("orders", "reconciliation")] == (True, "ERROR")
    assert _checks(result)[("crm_accounts", "files_readable")] == (True, "ERROR")
    with duckdb.connect(str(get_paths().warehouse), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM raw.orders").fetchone()[0] == 2


def test_unreadable_accounts_file_does_not_stop_orders(data_dir):
    """Item 10: orders of the same run load; orders of accounts in the broken file wait."""
    _drop("accounts_utf8_bom.csv", "crm_accounts")  # A1-A3
    _drop("accounts_corrupt.xlsx", "crm_accounts")
    _drop("orders_batch1.csv", "orders")  # A1, A2: known
    waiting = get_paths().landing_dir / "orders" / "orders_new_account.csv"
    waiting.write_text(
        "order_id,account_id,order_date,status,amount_cny,updated_at\n"
        "W1,A1,2024-03-01,completed,10.00,2024-03-01 09:00:00\n"
        "W2,NEW-1,2024-03-01,completed,20.00,2024-03-01 09:00:00\n",
        encoding="utf-8",
    )
    result = _materialize()
    assert not result.success
    evaluations = _check_evaluations(result)
    assert not evaluations[("crm_accounts", "files_readable")].passed
    orders_check = evaluations[("orders", "files_readable")]
    assert not orders_check.passed
    assert orders_check.description == (
        "1 row(s) reference accounts not loaded yet while a crm_accounts file failed in this "
        "run: retried on the next run"
    )
    meta = _metadata(result, "orders")
    assert (meta["files_loaded"], meta["files_deferred"], meta["rows_loaded"]) == (1, 1, 2)
    with duckdb.connect(str(get_paths().warehouse), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM raw._quarantine").fetchone()[0] == 0

    # The sender fixes the accounts file (NEW-1 was in it): everything loads, nothing is lost.
    broken = get_paths().landing_dir / "crm_accounts" / "accounts_corrupt.xlsx"
    broken.unlink()
    (broken.parent / "accounts_fixed.csv").write_text(
        "account_id,account_name,created_at,updated_at\nNEW-1,新客户有限公司,2024-01-01,2024-01-01\n",
        encoding="utf-8",
    )
    again = _materialize()
    assert again.success
    with duckdb.connect(str(get_paths().warehouse), read_only=True) as con:
        assert sorted(r[0] for r in con.execute("SELECT order_id FROM raw.orders").fetchall()) == [
            "O1",
            "O2",
            "W1",
            "W2",
        ]


def test_empty_documented_column_is_a_warning_not_a_failure(data_dir):
    target = get_paths().landing_dir / "crm_accounts" / "accounts_empty_industry.csv"
    target.parent.mkdir(parents=True)
    shutil.copyfile(FIXTURES / "hostile" / "accounts_empty_industry.csv", target)
    result = _materialize()
    assert result.success  # a WARN check records, it does not block
    check = _check_evaluations(result)[("crm_accounts", "columns_populated")]
    assert (check.passed, check.severity.value) == (False, "WARN")
    assert check.description.startswith(
        "column industry has no value in any of the 25 rows; documented column(s) absent: uscc"
    )
    assert "column industry has no value" in _metadata(result, "crm_accounts")["warnings"]


def test_one_entity_can_be_materialized_alone(data_dir):
    _drop("accounts_utf8_bom.csv", "crm_accounts")
    _drop("orders_batch1.csv", "orders")
    result = _materialize(AssetSelection.assets(AssetKey(["raw", "crm_accounts"])))
    assert result.success
    assert [m.asset_key for m in result.get_asset_materialization_events()] == [
        AssetKey(["raw", "crm_accounts"])
    ]
    with duckdb.connect(str(get_paths().warehouse), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM raw.orders").fetchone()[0] == 0
        assert con.execute("SELECT count(*) FROM raw.crm_accounts").fetchone()[0] == 3


def test_sensor_requests_new_files_once_and_skips_when_loaded(data_dir, monkeypatch):
    job = define_asset_job("ingest_job", selection=AssetSelection.groups("raw"))
    sensor = sensors.build_landing_sensor(job)
    _drop("accounts_utf8_bom.csv", "crm_accounts")
    _drop("orders_batch1.csv", "orders")

    context = build_sensor_context(resources={"warehouse": Warehouse()})
    first = sensor(context)
    assert isinstance(first, RunRequest)
    expected = sensors.pending_run_key(
        {
            ("crm_accounts", sensors.sha256_file(FIXTURES / "accounts_utf8_bom.csv")),
            ("orders", sensors.sha256_file(FIXTURES / "orders_batch1.csv")),
        }
    )
    assert first.run_key == expected

    # Unchanged files are not hashed again: the cursor caches size + mtime -> sha256.
    calls: list[Path] = []
    monkeypatch.setattr(sensors, "sha256_file", lambda p: calls.append(p) or "x")
    again = sensor(
        build_sensor_context(resources={"warehouse": Warehouse()}, cursor=context.cursor)
    )
    assert isinstance(again, RunRequest) and again.run_key == expected
    assert calls == []
    monkeypatch.undo()
    monkeypatch.setenv("STRATUM_DATA_DIR", str(data_dir))

    assert _materialize().success
    after = sensor(build_sensor_context(resources={"warehouse": Warehouse()}))
    assert isinstance(after, SkipReason)


def test_sensor_skips_tick_when_warehouse_is_locked(data_dir):
    job = define_asset_job("ingest_job", selection=AssetSelection.groups("raw"))
    sensor = sensors.build_landing_sensor(job)
    _drop("orders_batch1.csv", "orders")
    path = get_paths().warehouse
    path.parent.mkdir(parents=True)
    writer = duckdb.connect(str(path))  # a "running pipeline" holding the file read-write
    try:
        assert sensors.loaded_files(path) is None
        result = sensor(build_sensor_context(resources={"warehouse": Warehouse()}))
        assert isinstance(result, SkipReason)
        assert "locked" in result.skip_message
    finally:
        writer.close()


def test_sensor_counts_only_loaded_files_as_loaded(data_dir):
    """A failed file is in the manifest too; the sensor must still see it as pending."""
    _drop("accounts_utf8_bom.csv", "crm_accounts")
    _drop("orders_truncated.parquet", "orders")
    assert not _materialize().success
    loaded = sensors.loaded_files(get_paths().warehouse)
    assert loaded == {("crm_accounts", sensors.sha256_file(FIXTURES / "accounts_utf8_bom.csv"))}
    job = define_asset_job("ingest_job", selection=AssetSelection.groups("raw"))
    request = sensors.build_landing_sensor(job)(
        build_sensor_context(resources={"warehouse": Warehouse()})
    )
    assert isinstance(request, RunRequest)
    assert request.run_key == sensors.pending_run_key(
        {("orders", sensors.sha256_file(FIXTURES / "orders_truncated.parquet"))}
    )
