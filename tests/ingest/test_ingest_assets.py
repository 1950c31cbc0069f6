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
from pipelines.resources import Warehouse
from pipelines.run_context import RunContextResource
from pipelines.settings import ENTITIES, REPO_ROOT, get_paths
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


def _materialize():
    return materialize(
        [*raw_assets, *raw_checks],
        resources={"warehouse": Warehouse(), "run": RunContextResource()},
        raise_on_error=False,
        partition_key="2024-06-30",
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


def test_definitions_shape():
    assert [a.key for a in raw_assets] == [AssetKey(["raw", e]) for e in ENTITIES]
    orders = next(a for a in raw_assets if a.key == AssetKey(["raw", "orders"]))
    assert AssetKey(["raw", "crm_accounts"]) in orders.asset_deps[orders.key]
    assert all(a.group_names_by_key[a.key] == "raw" for a in raw_assets)
    assert all("warehouse" in a.required_resource_keys for a in raw_assets)
    check_keys = {k for c in raw_checks for k in c.check_keys}
    assert len(check_keys) == 2 * len(ENTITIES)
    assert all(spec.blocking for c in raw_checks for spec in c.check_specs)
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
    assert (meta["files_loaded"], meta["files_skipped"], meta["rows_loaded"]) == (0, 2, 0)
    with duckdb.connect(str(get_paths().warehouse), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM raw.crm_accounts").fetchone()[0] == 4


def test_error_quarantine_rate_fails_blocking_check(data_dir):
    _drop("accounts_utf8_bom.csv", "crm_accounts")
    _drop("orders_amounts.csv", "orders")  # 6 of 7 rows bad; orders threshold is ERROR
    result = _materialize()
    assert not result.success
    assert _checks(result)[("orders", "quarantine_rate")] == (False, "ERROR")
    assert _checks(result)[("orders", "reconciliation")] == (True, "ERROR")


def test_unreadable_file_fails_the_asset_but_keeps_good_files(data_dir):
    _drop("accounts_utf8_bom.csv", "crm_accounts")
    _drop("orders_batch1.csv", "orders")
    _drop("orders_truncated.parquet", "orders")
    result = _materialize()
    assert not result.success
    failures = [e for e in result.all_events if e.event_type_value == "STEP_FAILURE"]
    assert any(
        "orders_truncated.parquet: unreadable Parquet" in str(e.event_specific_data)
        for e in failures
    )
    with duckdb.connect(str(get_paths().warehouse), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM raw.orders").fetchone()[0] == 2


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
