"""Run the pipeline from the command line, as runs of the ``stratum`` code location.

    python -m pipelines.launch run [--as-of YYYY-MM-DD] [--policy FILE] [--rebuild]  # make run
    python -m pipelines.launch backfill --from YYYY-MM-DD --to YYYY-MM-DD [--step DAYS]

Runs are created through the workspace (``workspace.yaml``), exactly as the UI, the schedule
and the sensor create them, so they carry the code location's origin and show up in the job's
Runs tab, the Overview timeline and the partition view; they then execute in this process,
with the step log on the console. A backfill is recorded as one Dagster backfill whose runs
go oldest date first (each date compares with the one before).

`make run` chooses the partition with an environment variable, read by :func:`env_as_of` here
and nowhere else (default: the last complete business day).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import date, timedelta
from typing import Any

import yaml
from dagster import DagsterInstance, DagsterRun, DagsterRunStatus

from pipelines.partitions import check_as_of, latest_complete_as_of
from pipelines.run_context import PARTITION_TAG, TRIGGER_TAG
from pipelines.runs import reap_dead_runs, runs_in_progress
from pipelines.settings import REPO_ROOT

JOB = "stratum_daily"
LOCATION = "stratum"
RUN_CONFIG = REPO_ROOT / "config" / "run_config.yaml"


class LaunchError(RuntimeError):
    """The run cannot start (another one is running, bad date, ...)."""


def env_as_of() -> str | None:
    """The as-of date `make run` was given, if any (the one place it is mapped)."""
    return os.environ.get("STRATUM_AS_OF") or None


def dates_between(start: date, end: date, step_days: int = 1) -> list[date]:
    """``start``, ``start + step``, ... up to ``end``, and ``end`` itself (so the last date of
    a stepped backfill is always built)."""
    if end < start:
        raise LaunchError(f"--to {end} is before --from {start}")
    if step_days < 1:
        raise LaunchError("--step must be at least 1 day")
    days = [start + timedelta(days=i) for i in range(0, (end - start).days + 1, step_days)]
    return days if days[-1] == end else [*days, end]


def run_config(policy: str | None, rebuild: bool = False) -> dict[str, Any]:
    config = yaml.safe_load(RUN_CONFIG.read_text(encoding="utf-8")) or {}
    run: dict[str, Any] = {}
    if policy:
        run["tier_policy"] = policy
    if rebuild:  # even when nothing changed since the date's snapshot (pipelines/run_inputs.py)
        run["rebuild"] = True
    if run:
        config.setdefault("resources", {})["run"] = {"config": run}
    return config


@contextmanager
def _workspace(instance: DagsterInstance) -> Iterator[Any]:
    """The workspace of ``workspace.yaml`` with its code locations loaded in this process.

    The UI, the daemon and ``make dev`` load the same locations from the same file in code
    servers; here the run executes in this process anyway, so loading the location here too
    saves starting a code server and importing the definitions a second time (about 6 s per
    run). The run's origin is the same location by name, so it belongs to ``stratum`` in the
    UI (tests/ui/test_ui_browser.py opens it there)."""
    from dagster import __version__
    from dagster._core.remote_origin import InProcessCodeLocationOrigin
    from dagster._core.workspace.context import WorkspaceProcessContext
    from dagster._core.workspace.load_target import (
        InProcessWorkspaceLoadTarget,
        WorkspaceFileTarget,
    )

    origins = WorkspaceFileTarget(paths=[str(REPO_ROOT / "workspace.yaml")]).create_origins()
    target = InProcessWorkspaceLoadTarget(
        [
            InProcessCodeLocationOrigin(o.loadable_target_origin, location_name=o.location_name)
            for o in origins
        ]
    )
    with WorkspaceProcessContext(
        instance, version=__version__, read_only=False, workspace_load_target=target
    ) as process_context:
        yield process_context.create_request_context()


def _remote_job(workspace: Any) -> tuple[Any, Any, Any]:
    location = workspace.get_code_location(LOCATION)
    repo = next(iter(location.get_repositories().values()))
    return location, repo, repo.get_full_job(JOB)


def create_run(
    instance: DagsterInstance,
    workspace: Any,
    as_of: date,
    tags: dict[str, str],
    config: dict[str, Any],
) -> DagsterRun:
    """A run of the job for one partition, with the code location's origin."""
    from dagster._core.definitions.selector import JobSubsetSelector

    location, repo, remote_job = _remote_job(workspace)
    selector = JobSubsetSelector(
        location_name=location.name, repository_name=repo.name, job_name=JOB, op_selection=None
    )
    remote_job = location.get_job(selector)
    run_tags = {**remote_job.tags, **tags, PARTITION_TAG: as_of.isoformat()}
    plan = location.get_execution_plan(
        remote_job, config, step_keys_to_execute=None, known_state=None, instance=instance
    )
    return instance.create_run(
        job_name=JOB,
        run_id=None,
        run_config=config,
        resolved_op_selection=None,
        step_keys_to_execute=plan.execution_plan_snapshot.step_keys_to_execute,
        op_selection=None,
        status=None,
        root_run_id=None,
        parent_run_id=None,
        tags=run_tags,
        job_snapshot=remote_job.job_snapshot,
        execution_plan_snapshot=plan.execution_plan_snapshot,
        parent_job_snapshot=remote_job.parent_job_snapshot,
        remote_job_origin=remote_job.get_remote_origin(),
        job_code_origin=remote_job.get_python_origin(),
        asset_selection=None,
        asset_check_selection=None,
        asset_graph=repo.asset_graph,
    )


def execute(instance: DagsterInstance, run: DagsterRun) -> DagsterRun:
    """Execute a created run in this process (as ``dagster api execute_run`` does)."""
    from dagster._core.events import EngineEventData
    from dagster._grpc.impl import core_execute_run
    from dagster._utils.hosted_user_process import recon_job_from_origin

    recon_job = recon_job_from_origin(run.job_code_origin)  # type: ignore[arg-type]
    instance.report_engine_event(
        f"Started process for run (pid: {os.getpid()}).",
        run,
        EngineEventData.in_process(os.getpid()),
    )
    for _ in core_execute_run(recon_job, run, instance, inject_env_vars=True):
        pass
    final = instance.get_run_by_id(run.run_id)
    assert final is not None
    return final


def ensure_nothing_running(instance: DagsterInstance) -> None:
    """Reap dead runs, then refuse to start while another run of the job is alive."""
    for run_id in reap_dead_runs(instance):
        print(f"marked run {run_id} failed: its process is gone (killed?)")
    alive = runs_in_progress(instance, JOB)
    if alive:
        run = alive[0]
        raise LaunchError(
            f"run {run.run_id} (as of {run.tags.get(PARTITION_TAG, '?')}, "
            f"{run.status.value}) is still in progress: wait for it or stop it in the UI "
            "(docs/operations.md). Nothing was started."
        )


def _outcome(run: DagsterRun) -> str:
    reason = run.tags.get("stratum/blocked") or run.tags.get("dagster/failure_reason") or ""
    return f"{run.status.value}{': ' + reason if reason else ''}"


def failed_warnings(instance: DagsterInstance, run_id: str) -> list[str]:
    """The WARN-severity checks that failed in the run, one line each: they do not stop the
    run, so ``make run`` says them at the end instead of leaving them to the UI."""
    from dagster import AssetCheckSeverity, DagsterEventType

    lines = []
    for record in instance.all_logs(run_id, of_type=DagsterEventType.ASSET_CHECK_EVALUATION):
        data = record.dagster_event.event_specific_data
        if data.passed or data.severity != AssetCheckSeverity.WARN:
            continue
        metadata = {k: v.value for k, v in data.metadata.items()}
        detail = metadata.get("losses") or "; ".join(
            f"{k}={v}" for k, v in list(metadata.items())[:3]
        )
        lines.append(f"{data.asset_key.to_user_string()} {data.check_name}: {detail}")
    return lines


def _new_backfill_id() -> str:
    from dagster._core.utils import make_new_backfill_id

    return make_new_backfill_id()


def launch_dates(
    dates: Sequence[date],
    trigger: str,
    policy: str | None = None,
    backfill: bool = False,
    rebuild: bool = False,
) -> list[DagsterRun]:
    """Create and execute one run per date, in order; returns the finished runs."""
    instance = DagsterInstance.get()
    ensure_nothing_running(instance)
    config = run_config(policy, rebuild)
    finished = []
    started_at = time.time()
    with _workspace(instance) as workspace:
        backfill_id = _new_backfill_id() if backfill else None
        for as_of in dates:
            tags = {TRIGGER_TAG: trigger}
            if backfill_id:
                tags["dagster/backfill"] = backfill_id
            run = create_run(instance, workspace, as_of, tags, config)
            print(f"run {run.run_id} for as-of date {as_of} ({trigger})")
            done = execute(instance, run)
            print(f"run {run.run_id} for {as_of}: {_outcome(done)}")
            for line in failed_warnings(instance, run.run_id):
                print(f"  warning: {line}")
            finished.append(done)
        if backfill_id:
            _record_backfill(instance, workspace, backfill_id, finished, started_at)
    return finished


def _record_backfill(
    instance: DagsterInstance,
    workspace: Any,
    backfill_id: str,
    runs: list[DagsterRun],
    started_at: float,
) -> None:
    """Record the finished backfill (as ``dagster job backfill`` does, after its runs): a
    backfill recorded as requested earlier would be picked up by a running daemon as well."""
    from dagster._core.execution.backfill import BulkActionStatus, PartitionBackfill
    from dagster._time import get_current_timestamp

    _, repo, remote_job = _remote_job(workspace)
    partition_set = next(p for p in repo.get_partition_sets() if p.job_name == remote_job.name)
    ok = all(r.status == DagsterRunStatus.SUCCESS for r in runs)
    instance.add_backfill(
        PartitionBackfill(
            backfill_id=backfill_id,
            partition_set_origin=partition_set.get_remote_origin(),
            status=BulkActionStatus.COMPLETED_SUCCESS if ok else BulkActionStatus.COMPLETED_FAILED,
            partition_names=[r.tags[PARTITION_TAG] for r in runs],
            from_failure=False,
            reexecution_steps=None,
            tags={TRIGGER_TAG: "backfill"},
            backfill_timestamp=started_at,
        ).with_end_timestamp(get_current_timestamp())
    )


def _parse(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m pipelines.launch", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="run one as-of date (default: the last complete day)")
    run.add_argument("--as-of", help="YYYY-MM-DD (default: make run's variable, else yesterday)")
    run.add_argument("--policy", help="tier policy file for this run")
    run.add_argument(
        "--rebuild", action="store_true", help="rebuild and publish even if nothing changed"
    )
    fill = sub.add_parser("backfill", help="run a range of past as-of dates, oldest first")
    fill.add_argument("--from", dest="start", required=True, help="first as-of date")
    fill.add_argument("--to", dest="end", required=True, help="last as-of date")
    fill.add_argument("--step", type=int, default=1, help="days between dates (7 = weekly)")
    fill.add_argument("--policy", help="tier policy file for these runs")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = _parse(argv)
    try:
        if args.command == "run":
            value = args.as_of or env_as_of() or latest_complete_as_of().isoformat()
            runs = launch_dates([check_as_of(value)], "make run", args.policy, rebuild=args.rebuild)
        else:
            dates = dates_between(check_as_of(args.start), check_as_of(args.end), args.step)
            runs = launch_dates(dates, "backfill", args.policy, backfill=True)
    except (LaunchError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0 if all(r.status == DagsterRunStatus.SUCCESS for r in runs) else 1


if __name__ == "__main__":
    sys.exit(main())
