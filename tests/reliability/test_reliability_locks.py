"""Readers of the warehouse never fail a run, and the sensor stays out of a running one's way."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import duckdb
import pytest
from dagster import SkipReason, build_sensor_context

from pipelines import run_lock
from pipelines.ingest import sensors
from pipelines.ingest.loader import ensure_raw_schema
from pipelines.jobs import stratum_job
from pipelines.resources import Warehouse
from pipelines.settings import get_paths
from tests.conftest import DBT_DIR

HOLDER = textwrap.dedent(
    """
    import sys, duckdb
    con = duckdb.connect(sys.argv[1], read_only=True)  # an analyst's client, or a sensor tick
    print("holding", flush=True)
    sys.stdin.readline()
    con.close()
    """
)


def test_dbt_waits_for_a_read_only_connection_instead_of_failing(tmp_path, dbt_manifest):
    warehouse = tmp_path / "stratum.duckdb"
    with duckdb.connect(str(warehouse)) as con:
        ensure_raw_schema(con)
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(warehouse)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert holder.stdout.readline().strip() == "holding"
    logs, target = tmp_path / "logs", tmp_path / "target"
    dbt = subprocess.Popen(
        [
            str(Path(sys.executable).parent / "dbt"), "--no-use-colors", "run",
            "--select", "stg_orders__orders", "--vars", json.dumps({"as_of_date": "2026-11-20"}),
            "--project-dir", str(DBT_DIR), "--profiles-dir", str(DBT_DIR),
            "--log-path", str(logs), "--target-path", str(target),
        ],
        env={**os.environ, "STRATUM_WAREHOUSE": str(warehouse)},
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    log = logs / "dbt.log"
    deadline = time.monotonic() + 300
    while not (log.exists() and "Acquiring new duckdb connection" in log.read_text()):
        assert dbt.poll() is None, dbt.stdout.read()
        assert time.monotonic() < deadline, "dbt never tried to connect"
        time.sleep(0.2)
    time.sleep(3)  # dbt's first connect follows that line at once: it meets the reader's lock
    holder.communicate("release\n", timeout=60)
    out, _ = dbt.communicate(timeout=300)
    assert dbt.returncode == 0, out[-3000:]
    with duckdb.connect(str(warehouse), read_only=True) as con:
        assert con.execute("select count(*) from staging.stg_orders__orders").fetchone() == (0,)


@pytest.fixture
def data_dir(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("STRATUM_DATA_DIR", str(tmp_path / "data"))
    return get_paths().data_dir


def test_sensor_does_not_open_the_warehouse_while_a_run_holds_the_data_dir(data_dir, monkeypatch):
    (get_paths().landing_dir / "orders").mkdir(parents=True)
    (get_paths().landing_dir / "orders" / "orders.csv").write_text("order_id\n1\n")
    lock = run_lock.acquire(data_dir, "run-in-progress", "2026-11-20")
    try:
        monkeypatch.setattr(sensors, "loaded_files", lambda path: pytest.fail("opened"))
        result = sensors.build_landing_sensor(stratum_job)(
            build_sensor_context(resources={"warehouse": Warehouse()})
        )
    finally:
        lock.release()
    assert isinstance(result, SkipReason)
    assert result.skip_message == "run run-in-progress is in progress; will look again"


def test_peeking_at_the_lock_never_takes_it(data_dir):
    assert run_lock.peek(data_dir) is None
    lock = run_lock.acquire(data_dir, "r1", "2026-11-20")
    try:
        assert run_lock.peek(data_dir)["run_id"] == "r1"
    finally:
        lock.release()
    assert run_lock.peek(data_dir) is None
    # A holder killed without releasing leaves its note; its process is gone.
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    run_lock.lock_path(data_dir).write_text(json.dumps({"run_id": "r2", "pid": dead.pid}))
    assert run_lock.peek(data_dir) is None
    run_lock.acquire(data_dir, "r3", "2026-11-20").release()
