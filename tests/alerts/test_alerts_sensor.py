"""The run-failure sensor on real failed runs: recorded in quality.run_alerts, posted to a local
webhook, tagged on the run; a warehouse held by another process delays the record, never
loses it nor makes the sensor fail."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from datetime import UTC, date, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import duckdb
import pytest
from dagster import AssetKey, DagsterInstance, DagsterRunStatus, build_sensor_context
from dagster._core.test_utils import create_run_for_test

from pipelines.alerts import sensor as alerts_sensor
from pipelines.alerts.store import ALERTS_TABLE, pending
from pipelines.config.pipeline import Alerts

AS_OF = date(2026, 11, 20)
BAD_ORDERS = "\n".join(
    ["order_id,account_id,order_date,status,amount_cny,refund_amount_cny,product_line,updated_at"]
    + [
        f"BAD{i:03d},NOBODY,2026-11-19,completed,-{100 + i}.00,0.00,零售订单,2026-11-19 10:00:00"
        for i in range(12)
    ]
)


class _Hook(BaseHTTPRequestHandler):
    received: list[dict] = []

    def do_POST(self) -> None:  # noqa: N802 (http.server's name)
        body = self.rfile.read(int(self.headers["Content-Length"]))
        type(self).received.append(
            {"content_type": self.headers["Content-Type"], "body": json.loads(body)}
        )
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args) -> None:
        pass


@pytest.fixture()
def webhook():
    _Hook.received = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Hook)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/hooks/stratum", _Hook.received
    server.shutdown()
    server.server_close()


@pytest.fixture()
def data_dir(tmp_path, monkeypatch, dbt_manifest) -> Path:
    data = tmp_path / "data"
    monkeypatch.setenv("STRATUM_DATA_DIR", str(data))
    # The quality dir follows the data dir (tests/quality points it elsewhere for its session).
    monkeypatch.delenv("STRATUM_QUALITY_DIR", raising=False)
    monkeypatch.setenv("STRATUM_CODE_VERSION", "test")
    (data / "landing" / "orders").mkdir(parents=True)
    (data / "landing" / "orders" / "bad_delivery.csv").write_text(BAD_ORDERS + "\n")
    return data


def _run(instance, key: list[str]):
    from pipelines.definitions import defs

    job = defs.resolve_job_def("stratum_daily")
    result = job.execute_in_process(
        instance=instance,
        partition_key=AS_OF.isoformat(),
        asset_selection=[AssetKey(key)],
        raise_on_error=False,
    )
    assert not result.success
    return result.run_id


def _alerts(data_dir: Path) -> dict[str, dict]:
    con = duckdb.connect(str(data_dir / "warehouse" / "stratum.duckdb"), read_only=True)
    try:
        frame = con.execute(f"select * from {ALERTS_TABLE}").df()
    finally:
        con.close()
    return {row["run_id"]: row for row in frame.to_dict("records")}


def test_failed_and_blocked_runs_are_recorded_posted_and_tagged(data_dir, webhook, tmp_path):
    url, received = webhook
    with DagsterInstance.ephemeral(tempdir=str(tmp_path / "home")) as instance:
        blocked = _run(instance, ["raw", "orders"])  # all rows quarantined: the check stops it
        broken = _run(instance, ["scores", "rfm"])  # no profile built yet: the step fails
        dead = create_run_for_test(
            instance,
            job_name="stratum_daily",
            status=DagsterRunStatus.STARTED,
            tags={"dagster/partition": "2026-11-19", "stratum/trigger": "make run"},
        )
        instance.report_run_failed(dead, message="Run worker process 4242 on vm is gone.")
        other = create_run_for_test(instance, job_name="some_other_job")
        instance.report_run_failed(other, message="not ours")

        now = datetime.now(UTC).replace(tzinfo=None)
        config = Alerts(webhook_url=url, timeout_seconds=5)
        result = alerts_sensor.process_failures(instance, None, config, now)
        assert [a.run_id for a in result.alerts] == [blocked, broken, dead.run_id]
        assert (result.written, result.waiting) == (3, 0)

        rows = _alerts(data_dir)
        assert set(rows) == {blocked, broken, dead.run_id}
        assert rows[blocked]["failure_kind"] == "blocked"
        # The checks' own sentence (stratum/blocked): what failed, in which file, and what BI
        # still sees.
        assert rows[blocked]["reason"] == (
            "orders quarantine 100.0% > 5.0% in orders/bad_delivery.csv: 12 negative amount "
            "(amount_cny) — nothing was published (no snapshot exists yet)."
        )
        assert instance.get_run_by_id(blocked).tags["stratum/blocked"] == rows[blocked]["reason"]
        assert rows[blocked]["failed_steps"] == "raw__orders_quarantine_rate"
        assert rows[broken]["failure_kind"] == "step_failure"
        assert rows[broken]["reason"].startswith("Step scores__rfm failed: Catalog Error: ")
        assert 'features.account_features" does not exist' in rows[broken]["reason"]
        assert rows[broken]["reason"].endswith("nothing has been published yet.")
        assert rows[dead.run_id]["failure_kind"] == "run_failure"
        assert rows[dead.run_id]["reason"].startswith("Run worker process 4242 on vm is gone")
        assert rows[dead.run_id]["trigger"] == "make run"
        assert str(rows[dead.run_id]["as_of_date"])[:10] == "2026-11-19"
        assert {r["webhook_status"] for r in rows.values()} == {"sent (HTTP 204)"}

        bodies = {r["body"]["run_id"]: r for r in received}
        assert set(bodies) == {blocked, broken, dead.run_id}
        posted = bodies[blocked]
        assert posted["content_type"].startswith("application/json")
        assert posted["body"]["failure_kind"] == "blocked"
        assert posted["body"]["as_of_date"] == "2026-11-20"
        assert posted["body"]["reason"] == rows[blocked]["reason"]
        assert posted["body"]["text"].startswith(f"Stratum run {blocked[:8]} (2026-11-20, ")
        # A blocked run keeps its own sentence; only other failures get the alert's as a tag.
        assert "stratum/failure" not in instance.get_run_by_id(blocked).tags
        assert instance.get_run_by_id(broken).tags["stratum/failure"] == rows[broken]["reason"]
        last = instance.all_logs(blocked)[-1]
        assert last.dagster_event.message == f"stratum_run_alerts: {posted['body']['text']}"

        # The next tick starts after the cursor: nothing is recorded or posted twice.
        again = alerts_sensor.process_failures(instance, result.cursor, config, now)
        assert (again.alerts, again.written, len(received)) == ([], 0, 3)


def test_a_busy_warehouse_delays_the_record_without_failing_the_sensor(
    data_dir, tmp_path, monkeypatch
):
    monkeypatch.setattr(alerts_sensor, "LOCK_TIMEOUT_S", 1.0)
    warehouse = data_dir / "warehouse" / "stratum.duckdb"
    warehouse.parent.mkdir(parents=True)
    duckdb.connect(str(warehouse)).close()
    with DagsterInstance.ephemeral(tempdir=str(tmp_path / "home")) as instance:
        blocked = _run(instance, ["raw", "orders"])
        # Another process (a running pipeline step) holds the warehouse.
        holder = subprocess.Popen(
            [sys.executable, "-c", "import duckdb, sys; c = duckdb.connect(sys.argv[1]); "
             "print('ready', flush=True); sys.stdin.read()", str(warehouse)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
        )  # fmt: skip
        try:
            assert holder.stdout.readline().strip() == "ready"
            context = build_sensor_context(instance=instance)
            skipped = alerts_sensor.run_alerts_sensor(context)
            assert "1 waiting for the warehouse" in skipped.skip_message
            assert [a.run_id for _, a in pending(data_dir / "quality")] == [blocked]
        finally:
            holder.stdin.close()
            holder.wait(timeout=30)
        # The next tick (no new failure) records it.
        context = build_sensor_context(instance=instance, cursor=context.cursor)
        done = alerts_sensor.run_alerts_sensor(context)
        assert done.skip_message == "no new failed run(s); 1 recorded in quality.run_alerts"
        assert list(_alerts(data_dir)) == [blocked]
        assert pending(data_dir / "quality") == []
