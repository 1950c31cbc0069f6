"""A Dagster instance built the way people build theirs — with the real launcher behind
``make backfill`` and ``make run`` on a small generated world — served by dagster-webserver.

History made here (world as of 2026-11-20):
- a two-date backfill, 2026-11-18 and 2026-11-19 (succeeds);
- a run for 2026-11-20 (succeeds);
- a run for 2026-11-21 after a delivery of orders that all fail validation: the blocking
  quarantine check stops it;
then one tick of the alert sensor, as the daemon of ``make dev`` would run it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT, PipelineWorld, dagster_webserver, graphql, make_world
from tests.ui.chromium import find_chromium

BACKFILL = (date(2026, 11, 18), date(2026, 11, 19))
RUN_DATE = date(2026, 11, 20)
BLOCKED_DATE = date(2026, 11, 21)
BAD_ORDERS = "\n".join(
    ["order_id,account_id,order_date,status,amount_cny,refund_amount_cny,product_line,updated_at"]
    + [
        f"BAD{i:03d},NOBODY,2026-11-21,completed,-{100 + i}.00,0.00,零售订单,2026-11-21 10:00:00"
        for i in range(12)
    ]
)


@dataclass
class History:
    world: PipelineWorld
    home: Path
    env: dict[str, str]
    backfill_runs: list[str]
    backfill_id: str
    success_run: str
    blocked_run: str
    blocked_reason: str


def _launch(env: dict[str, str], *args: str) -> int:
    proc = subprocess.run(
        [sys.executable, "-m", "pipelines.launch", *args],
        cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=900,
    )  # fmt: skip
    if proc.returncode not in (0, 1):  # 1: a run failed (expected for the blocked run)
        raise AssertionError(f"launch {args} failed:\n{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}")
    return proc.returncode


@pytest.fixture(scope="session")
def chromium() -> str:
    executable = find_chromium()
    if executable is None:
        pytest.skip(
            "headless Chromium is not installed: `make browser` (a dependency of `make test`) "
            "installs the Debian package `chromium` with apt-get, which needs root; the "
            "Dagster UI browser test is skipped here"
        )
    return executable


@pytest.fixture(scope="session")
def history(tmp_path_factory, dbt_manifest, chromium) -> History:
    """Built once for the session: the browser test and the `make dev` test only read it."""
    from dagster import DagsterInstance, DagsterRunStatus

    root = tmp_path_factory.mktemp("ui")
    world = make_world(root, accounts=300, seed=5)
    home = root / "dagster_home"
    home.mkdir()
    shutil.copy(REPO_ROOT / "config" / "dagster.yaml", home / "dagster.yaml")
    env = {
        **os.environ,
        **world.env(),
        "DAGSTER_HOME": str(home),
        "STRATUM_WAREHOUSE": str(world.data_dir / "warehouse" / "stratum.duckdb"),
    }
    first, last = (d.isoformat() for d in BACKFILL)
    assert _launch(env, "backfill", "--from", first, "--to", last) == 0
    assert _launch(env, "run", "--as-of", RUN_DATE.isoformat()) == 0
    (world.landing / "orders" / "orders_bad_delivery.csv").write_text(BAD_ORDERS + "\n")
    assert _launch(env, "run", "--as-of", BLOCKED_DATE.isoformat()) == 1

    with pytest.MonkeyPatch.context() as mp:
        for key, value in env.items():
            if key.startswith(("STRATUM_", "DAGSTER_HOME")):
                mp.setenv(key, value)
        with DagsterInstance.get() as instance:
            runs = {r.tags["dagster/partition"]: r for r in instance.get_runs()}
            _alert_tick(instance)
            blocked = instance.get_run_by_id(runs[BLOCKED_DATE.isoformat()].run_id)
    assert runs[RUN_DATE.isoformat()].status == DagsterRunStatus.SUCCESS
    assert blocked.status == DagsterRunStatus.FAILURE
    reason = blocked.tags.get("stratum/blocked") or blocked.tags["stratum/failure"]
    backfill_runs = [runs[d.isoformat()] for d in BACKFILL]
    return History(
        world=world,
        home=home,
        env=env,
        backfill_runs=[r.run_id for r in backfill_runs],
        backfill_id=backfill_runs[0].tags["dagster/backfill"],
        success_run=runs[RUN_DATE.isoformat()].run_id,
        blocked_run=blocked.run_id,
        blocked_reason=reason,
    )


def _alert_tick(instance) -> None:
    from dagster import build_sensor_context

    from pipelines.alerts.sensor import run_alerts_sensor

    run_alerts_sensor(build_sensor_context(instance=instance))


@pytest.fixture(scope="module")
def webserver(history: History):
    """dagster-webserver over the history's instance, on a free port; stopped by its PID."""
    with dagster_webserver(history.env) as port:
        # The welcome dialog of a new instance would cover the pages.
        assert graphql(port, "mutation { setNuxSeen }")["setNuxSeen"] is True
        yield f"http://127.0.0.1:{port}"
