"""Runs in the Dagster instance: which are really alive, and marking dead ones failed.

A run killed with SIGKILL (or on a machine that lost power) never records its end: Dagster
shows it STARTED forever, the queued coordinator counts it against the one-run limit, and a
sensor treats its run key as done. Every run records the process that executes it
(``stratum/worker`` = ``<host>:<pid>``, set by :class:`pipelines.run_context.RunContextResource`,
and Dagster's own "Started process" engine event); :func:`reap_dead_runs` marks a run whose
process is gone as failed, saying so, and tags it ``stratum/reaped``; the launcher, the
landing sensor and the daily schedule call it before deciding anything, and the sensor then
asks for the killed run's work again (:func:`killed_runs_to_redo`).

Dagster's own run monitoring (``config/dagster.yaml``) covers runs stuck while starting or
cancelling; it cannot see a dead worker of a STARTED run with the default run launcher (no
worker health check), which is what this module is for.
"""

from __future__ import annotations

import os
import re
import socket
from typing import Any

from dagster import DagsterInstance, DagsterRun, DagsterRunStatus, RunsFilter
from dagster._core.errors import DagsterInvariantViolationError

WORKER_TAG = "stratum/worker"
REAPED_TAG = "stratum/reaped"
REDO_OF_TAG = "stratum/redo_of"
REFUSED_TAG = "stratum/refused"
# A run killed again and again (e.g. by the OOM killer) is asked for at most this many times.
MAX_REDOS = 2
ALIVE_STATUSES = [DagsterRunStatus.STARTING, DagsterRunStatus.STARTED, DagsterRunStatus.CANCELING]
_PID_IN_MESSAGE = re.compile(r"\(pid: (\d+)\)")


def worker_tag() -> str:
    """``<host>:<pid>`` of this process."""
    return f"{socket.gethostname()}:{os.getpid()}"


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True


def run_worker(instance: DagsterInstance, run: DagsterRun) -> tuple[str, int] | None:
    """(host, pid) of the process executing ``run``, if it recorded one."""
    tag = run.tags.get(WORKER_TAG)
    if tag and ":" in tag:
        host, _, pid = tag.rpartition(":")
        return host, int(pid)
    # Before its first step the run has only Dagster's engine event ("... (pid: N)").
    for record in instance.all_logs(run.run_id):
        message = record.user_message or ""
        match = _PID_IN_MESSAGE.search(message)
        if match and record.dagster_event and record.dagster_event.is_engine_event:
            return socket.gethostname(), int(match.group(1))
    return None


def is_dead(instance: DagsterInstance, run: DagsterRun) -> bool:
    """True when ``run`` claims to be running but its process on this host is gone."""
    worker = run_worker(instance, run)
    if worker is None:
        return False  # not started yet, or started elsewhere: nothing to judge
    host, pid = worker
    return host == socket.gethostname() and not _pid_alive(pid)


def instance_of(context: Any) -> DagsterInstance | None:
    """The instance of a sensor or schedule evaluation, None for a context built without one
    (a unit test's ``build_sensor_context()``)."""
    try:
        return context.instance
    except DagsterInvariantViolationError:
        return None


def reap_dead_runs(instance: DagsterInstance) -> list[str]:
    """Mark every started run whose process died as failed; returns their run ids."""
    reaped = []
    for run in instance.get_runs(filters=RunsFilter(statuses=ALIVE_STATUSES)):
        if is_dead(instance, run):
            host, pid = run_worker(instance, run) or ("?", 0)
            note = f"worker process {pid} on {host} gone"
            instance.add_run_tags(run.run_id, {REAPED_TAG: note})
            instance.report_run_failed(
                run,
                message=f"Run worker process {pid} on {host} is gone (killed?); marked failed "
                "so that later runs and sensors are not blocked by it. Its work is asked for "
                "again by the landing sensor (docs/operations.md).",
            )
            reaped.append(run.run_id)
    return reaped


def _redo_depth(instance: DagsterInstance, run: DagsterRun) -> int:
    depth = 0
    while run.tags.get(REDO_OF_TAG) and depth <= MAX_REDOS:
        parent = instance.get_run_by_id(run.tags[REDO_OF_TAG])
        if parent is None:
            break
        run, depth = parent, depth + 1
    return depth


def killed_runs_to_redo(
    instance: DagsterInstance, job_name: str, lookback: int = 50
) -> list[DagsterRun]:
    """The reaped runs whose work nobody finished, oldest first: per partition, the latest
    attempt (among the job's ``lookback`` latest runs) if it was killed. A run refused because
    another held the data dir (``stratum/refused``) is not an attempt; a run that is alive,
    succeeded or failed for a reason of its own is. A run redone :data:`MAX_REDOS` times in a
    row is left to an operator (something keeps killing it)."""
    decided: set[str | None] = set()
    todo = []
    for run in instance.get_runs(filters=RunsFilter(job_name=job_name), limit=lookback):
        partition = run.tags.get("dagster/partition")
        if partition in decided or REFUSED_TAG in run.tags:
            continue
        decided.add(partition)
        if REAPED_TAG in run.tags and _redo_depth(instance, run) < MAX_REDOS:
            todo.append(run)
    return list(reversed(todo))


def runs_in_progress(instance: DagsterInstance, job_name: str) -> list[DagsterRun]:
    """Runs of ``job_name`` that are starting or running (dead ones should be reaped first)."""
    return list(instance.get_runs(filters=RunsFilter(job_name=job_name, statuses=ALIVE_STATUSES)))
