"""Which killed runs get their work asked for again, and the schedule's reaping.

The runs here are records in an instance whose worker is a process that really ran and ended
(a dead pid); the fault suite (test_reliability_faults.py) kills real runs of the job.
"""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import datetime
from zoneinfo import ZoneInfo

from dagster import (
    DagsterEvent,
    DagsterEventType,
    DagsterInstance,
    DagsterRunStatus,
    build_schedule_context,
)

from pipelines.jobs import daily_schedule
from pipelines.runs import (
    MAX_REDOS,
    REAPED_TAG,
    REDO_OF_TAG,
    REFUSED_TAG,
    WORKER_TAG,
    killed_runs_to_redo,
    reap_dead_runs,
)
from tests.test_run_context import _job

JOB = "stratum_daily"


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def _run(instance: DagsterInstance, partition: str, tags: dict | None = None, pid: int = 0):
    """A STARTED run of the job for ``partition`` whose worker is ``pid`` (default: dead)."""
    run = instance.create_run_for_job(
        job_def=_job(), run_config={}, tags={"dagster/partition": partition, **(tags or {})}
    )
    instance.handle_run_event(
        run.run_id, DagsterEvent(DagsterEventType.RUN_START.value, job_name=run.job_name)
    )
    instance.add_run_tags(run.run_id, {WORKER_TAG: f"{os.uname().nodename}:{pid or _dead_pid()}"})
    return instance.get_run_by_id(run.run_id)


def _finish(instance: DagsterInstance, run, success: bool = True) -> None:
    if success:
        instance.handle_run_event(
            run.run_id, DagsterEvent(DagsterEventType.RUN_SUCCESS.value, job_name=run.job_name)
        )
    else:
        instance.report_run_failed(run, message="a step failed")


def test_the_latest_killed_attempt_of_each_date_is_redone_once():
    with DagsterInstance.ephemeral() as instance:
        first = _run(instance, "2026-11-20")
        again = _run(instance, "2026-11-20")  # killed too: only the latest attempt counts
        other = _run(instance, "2026-11-21")
        _finish(instance, _run(instance, "2026-11-22"), success=False)  # an ordinary failure
        assert set(reap_dead_runs(instance)) == {first.run_id, again.run_id, other.run_id}
        assert instance.get_run_by_id(first.run_id).tags[REAPED_TAG].startswith("worker process")
        # A run refused because the killed one still held the data dir is not an attempt.
        _finish(instance, _run(instance, "2026-11-21", {REFUSED_TAG: "run x in progress"}), False)
        todo = killed_runs_to_redo(instance, JOB)
        assert [r.run_id for r in todo] == [again.run_id, other.run_id]


def test_a_later_attempt_of_the_date_settles_it():
    with DagsterInstance.ephemeral() as instance:
        killed = _run(instance, "2026-11-20")
        assert reap_dead_runs(instance) == [killed.run_id]
        _finish(instance, _run(instance, "2026-11-20", pid=os.getpid()))
        assert killed_runs_to_redo(instance, JOB) == []
        killed_too = _run(instance, "2026-11-21")
        reap_dead_runs(instance)
        live = _run(instance, "2026-11-21", pid=os.getpid())  # running now
        assert killed_runs_to_redo(instance, JOB) == []
        _finish(instance, live, success=False)  # failed on its own (e.g. blocked): settled
        assert killed_runs_to_redo(instance, JOB) == []
        assert instance.get_run_by_id(killed_too.run_id).status == DagsterRunStatus.FAILURE


def test_a_run_killed_again_and_again_is_left_to_an_operator():
    with DagsterInstance.ephemeral() as instance:
        parent = _run(instance, "2026-11-20")
        for _ in range(MAX_REDOS):
            reap_dead_runs(instance)
            assert [r.run_id for r in killed_runs_to_redo(instance, JOB)] == [parent.run_id]
            parent = _run(instance, "2026-11-20", {REDO_OF_TAG: parent.run_id})
        reap_dead_runs(instance)
        assert killed_runs_to_redo(instance, JOB) == []


def test_the_schedule_reaps_dead_runs_before_queueing(tmp_path):
    with DagsterInstance.local_temp(str(tmp_path)) as instance:
        zombie = _run(instance, "2026-11-20")
        tick = datetime(2026, 11, 21, 6, tzinfo=ZoneInfo("Asia/Shanghai"))
        request = daily_schedule(
            build_schedule_context(instance=instance, scheduled_execution_time=tick)
        )
        assert instance.get_run_by_id(zombie.run_id).status == DagsterRunStatus.FAILURE
        assert (request.run_key, request.partition_key) == ("schedule-2026-11-20", "2026-11-20")
