"""The run context: resolved from the partition, one lock per data dir, dead runs reaped."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from dagster import DagsterInstance, DagsterRunStatus

from pipelines import run_lock
from pipelines.launch import LaunchError, dates_between, ensure_nothing_running
from pipelines.partitions import check_as_of, latest_complete_as_of
from pipelines.run_context import (
    RunContextError,
    resolve_run_context,
    snapshot_id_for,
    trigger_of,
)
from pipelines.runs import WORKER_TAG, reap_dead_runs


def test_context_comes_from_the_partition_and_config():
    ctx = resolve_run_context("abcdef123456", {"dagster/partition": "2026-11-20"})
    assert ctx.as_of == date(2026, 11, 20)
    assert ctx.snapshot_id == "20261120-abcdef12" == snapshot_id_for(ctx.as_of, "abcdef123456")
    assert ctx.dbt_vars()["as_of_date"] == "2026-11-20"
    assert ctx.dbt_vars()["snapshot_id"] == ctx.snapshot_id
    assert ctx.tags()["stratum/policy_version"] == ctx.config.policy_version
    # A re-execution continues the snapshot of the run it re-executes.
    retry = resolve_run_context("ffff0000", {"dagster/partition": "2026-11-20"}, None, "abcdef12")
    assert retry.snapshot_id == ctx.snapshot_id and retry.run_id == "ffff0000"


@pytest.mark.parametrize(
    ("tags", "message"),
    [
        ({}, "this run has no as-of date"),
        ({"dagster/partition": "2026-13-01"}, "is not a date"),
        ({"dagster/partition": "2019-01-01"}, "is not a partition: partitions run from 2024-01-01"),
    ],
)
def test_runs_without_a_valid_partition_are_refused(tags, message):
    with pytest.raises(RunContextError, match=message):
        resolve_run_context("r", tags)


def test_future_and_current_days_are_not_partitions():
    zone = ZoneInfo("Asia/Shanghai")
    # 23:30 UTC on Nov 30 is already Dec 1 in Shanghai: Nov 30 is then complete.
    assert latest_complete_as_of(datetime(2026, 11, 30, 23, 30, tzinfo=ZoneInfo("UTC"))) == date(
        2026, 11, 30
    )
    today = datetime.now(zone).date()
    with pytest.raises(ValueError, match="is not a partition"):
        check_as_of(today.isoformat())
    assert check_as_of((today - timedelta(days=1)).isoformat()) == today - timedelta(days=1)


@pytest.mark.parametrize(
    ("tags", "trigger"),
    [
        ({"stratum/trigger": "make run"}, "make run"),
        ({"dagster/backfill": "abc"}, "backfill:abc"),
        ({"dagster/schedule_name": "stratum_daily_schedule"}, "schedule:stratum_daily_schedule"),
        ({"dagster/sensor_name": "landing_sensor"}, "sensor:landing_sensor"),
        ({}, "manual"),
    ],
)
def test_trigger_is_read_from_dagster_tags(tags, trigger):
    assert trigger_of(tags) == trigger


def test_dates_between_steps_and_always_ends_on_the_last_date():
    start = date(2026, 1, 1)
    assert dates_between(start, date(2026, 1, 3)) == [start, date(2026, 1, 2), date(2026, 1, 3)]
    weekly = dates_between(start, date(2026, 1, 20), 7)
    assert weekly == [start, date(2026, 1, 8), date(2026, 1, 15), date(2026, 1, 20)]
    with pytest.raises(LaunchError, match="before"):
        dates_between(date(2026, 2, 1), start)


def test_run_lock_refuses_a_second_run_and_names_the_first(tmp_path):
    first = run_lock.acquire(tmp_path, "run-one", "2026-11-20")
    try:
        with pytest.raises(run_lock.RunInProgressError) as info:
            run_lock.acquire(tmp_path, "run-two", "2026-11-21")
        assert "run run-one (as of 2026-11-20" in str(info.value)
        assert run_lock.holder(tmp_path)["run_id"] == "run-one"
    finally:
        first.release()
    assert run_lock.holder(tmp_path) is None
    run_lock.acquire(tmp_path, "run-two", "2026-11-21").release()


def test_run_lock_dies_with_a_killed_process(tmp_path):
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            textwrap.dedent(
                f"""
                import sys, time
                from pathlib import Path
                from pipelines import run_lock
                lock = run_lock.acquire(Path({str(tmp_path)!r}), "doomed", "2026-11-20")
                print("locked", flush=True)
                time.sleep(120)
                """
            ),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout.readline().strip() == "locked"
    assert run_lock.holder(tmp_path)["run_id"] == "doomed"
    os.kill(holder.pid, signal.SIGKILL)
    holder.wait()
    run_lock.acquire(tmp_path, "next", "2026-11-21").release()


def _started_run(instance: DagsterInstance, pid: int):
    run = instance.create_run_for_job(
        job_def=_job(), run_config={}, tags={"dagster/partition": "2026-11-20"}
    )
    instance.handle_run_event(run.run_id, _start_event(run))
    instance.add_run_tags(run.run_id, {WORKER_TAG: f"{os.uname().nodename}:{pid}"})
    return instance.get_run_by_id(run.run_id)


def _job():
    from dagster import job, op

    @op
    def noop() -> None:
        pass

    @job(name="stratum_daily")
    def stratum_daily():
        noop()

    return stratum_daily


def _start_event(run):
    from dagster import DagsterEvent, DagsterEventType

    return DagsterEvent(DagsterEventType.RUN_START.value, job_name=run.job_name)


def test_dead_runs_are_marked_failed_and_live_ones_block(tmp_path):
    with DagsterInstance.ephemeral() as instance:
        dead = subprocess.Popen([sys.executable, "-c", "pass"])
        dead.wait()
        zombie = _started_run(instance, dead.pid)
        alive = _started_run(instance, os.getpid())
        assert zombie.status == DagsterRunStatus.STARTED
        assert reap_dead_runs(instance) == [zombie.run_id]
        assert instance.get_run_by_id(zombie.run_id).status == DagsterRunStatus.FAILURE
        assert instance.get_run_by_id(alive.run_id).status == DagsterRunStatus.STARTED
        with pytest.raises(LaunchError, match=f"run {alive.run_id} .* still in progress"):
            ensure_nothing_running(instance)
        time.sleep(0)  # the reaper is idempotent
        assert reap_dead_runs(instance) == []
