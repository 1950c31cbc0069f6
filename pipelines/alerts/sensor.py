"""The run-failure sensor: every failed or blocked run of the job recorded, and posted.

Each tick reads the job's new ``RUN_FAILURE`` events (the cursor is the last one handled),
turns each failed run into a :class:`~pipelines.alerts.record.RunAlert` (kind and one
sentence), spools it, posts it to the webhook of ``config/pipeline.yaml`` when one is set, puts
the sentence on the run — as the ``stratum/failure`` tag (unless the checks already gave it a
``stratum/blocked`` tag) and as the last event of its log — and flushes the spool into
``quality.run_alerts``. The warehouse is opened with a short lock wait and held for one short
transaction, so a running pipeline is never failed or held up by the sensor; when a run holds
the warehouse, alerts stay spooled until a later tick.
"""

# No `from __future__ import annotations`: Dagster inspects the context annotation.

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from dagster import (
    AssetCheckSeverity,
    DagsterEventType,
    DagsterInstance,
    DagsterRun,
    DefaultSensorStatus,
    RunStatusChangeRecordsFilter,
    SensorEvaluationContext,
    SkipReason,
    sensor,
)

from pipelines.alerts.record import (
    BLOCKED_TAG,
    FAILURE_TAG,
    FailedCheck,
    FailedStep,
    RunAlert,
    describe_failure,
)
from pipelines.alerts.store import flush, spool, update_pending
from pipelines.alerts.webhook import post_alert
from pipelines.config.loader import load_model
from pipelines.config.pipeline import Alerts, PipelineConfig
from pipelines.history import current, list_snapshots
from pipelines.resources import Warehouse
from pipelines.run_context import trigger_of
from pipelines.settings import config_dir, get_paths

JOB = "stratum_daily"
SENSOR_NAME = "stratum_run_alerts"
LOCK_TIMEOUT_S = 10.0  # well inside a sensor tick's time limit
POST_WITHIN = timedelta(hours=24)  # older failures found on a first start are recorded, not posted
BATCH = 50
_CLASS_PREFIX = re.compile(r"^[\w.]+(Error|Exception|Failure): ")
_FACT_EVENTS = {
    DagsterEventType.STEP_FAILURE,
    DagsterEventType.ASSET_CHECK_EVALUATION,
    DagsterEventType.RUN_FAILURE,
}


def _root_message(error) -> str:
    """The message of the innermost cause: Dagster wraps user errors ("Error occurred while
    executing op ...") around the exception that says what went wrong."""
    while error is not None and error.cause is not None:
        error = error.cause
    return error.message if error is not None else ""


def run_facts(
    instance: DagsterInstance, run_id: str
) -> tuple[list[FailedCheck], list[FailedStep], str | None]:
    """The blocking checks that failed, the steps that failed and the run's failure message."""
    checks, steps, message = [], [], None
    for record in instance.all_logs(run_id, of_type=_FACT_EVENTS):
        event = record.dagster_event
        data = event.event_specific_data
        if event.event_type == DagsterEventType.ASSET_CHECK_EVALUATION:
            if not data.passed and data.severity == AssetCheckSeverity.ERROR and data.blocking:
                metadata = {k: v.value for k, v in data.metadata.items()}
                checks.append(
                    FailedCheck(
                        data.asset_key.to_user_string(), data.check_name, data.description, metadata
                    )
                )
        elif event.event_type == DagsterEventType.STEP_FAILURE:
            error = data.error
            failure = data.user_failure_data  # a `Failure` raised by the asset: its own words
            text = (failure and failure.description) or _root_message(error)
            steps.append(
                FailedStep(
                    event.step_key or "?",
                    _CLASS_PREFIX.sub("", text or record.user_message or ""),
                    is_check_gate=bool(error and error.cls_name == "DagsterAssetCheckFailedError"),
                )
            )
        else:
            message = record.user_message or event.message
    return checks, steps, message


def alert_for_run(instance: DagsterInstance, run: DagsterRun, failed_at: datetime) -> RunAlert:
    """The alert of one failed run, with what BI sees now (from the published snapshots)."""
    checks, steps, message = run_facts(instance, run.run_id)
    snapshots = list_snapshots(get_paths().snapshots_dir)
    in_force = current(snapshots)
    return describe_failure(
        run_id=run.run_id,
        job_name=run.job_name,
        tags=run.tags,
        failed_at=failed_at,
        trigger=trigger_of(run.tags),
        failed_checks=checks,
        failed_steps=steps,
        run_message=message,
        published=[s.snapshot_id for s in snapshots],
        in_force=in_force.snapshot_id if in_force else None,
    )


@dataclass(frozen=True)
class TickResult:
    cursor: str | None
    alerts: list[RunAlert]
    written: int
    waiting: int

    def summary(self) -> str:
        done = ", ".join(f"{a.run_id[:8]} {a.failure_kind}" for a in self.alerts) or "no new"
        text = f"{done} failed run(s); {self.written} recorded in quality.run_alerts"
        return text + (f"; {self.waiting} waiting for the warehouse" if self.waiting else "")


def process_failures(
    instance: DagsterInstance, cursor: str | None, alerts_config: Alerts, now: datetime
) -> TickResult:
    """One tick: alert on the job's failed runs after ``cursor``, then flush the spool."""
    quality_dir = get_paths().quality_dir
    records = instance.fetch_run_status_changes(
        # Filtered by job below: the local event log storage has no job-name selector.
        RunStatusChangeRecordsFilter(
            DagsterEventType.RUN_FAILURE, after_storage_id=int(cursor) if cursor else None
        ),
        limit=BATCH,
        ascending=True,
    ).records
    alerts = []
    for record in records:
        run = instance.get_run_by_id(record.run_id)
        if run is None or run.job_name != JOB:
            continue
        failed_at = datetime.fromtimestamp(record.timestamp, UTC).replace(tzinfo=None)
        alert = alert_for_run(instance, run, failed_at)
        path = spool(alert, quality_dir)
        url = alerts_config.webhook_url
        if url is not None and now - failed_at <= POST_WITHIN:
            status = post_alert(str(url), alert, alerts_config.timeout_seconds)
            alert = update_pending(path, alert, status)
        if not run.tags.get(BLOCKED_TAG):
            instance.add_run_tags(run.run_id, {FAILURE_TAG: alert.reason})
        # In the run's own event log too, where the UI shows it in full.
        instance.report_engine_event(f"{SENSOR_NAME}: {alert.headline()}", run)
        alerts.append(alert)
    new_cursor = str(records[-1].storage_id) if records else cursor
    written, waiting = flush(Warehouse(), quality_dir, LOCK_TIMEOUT_S)
    return TickResult(new_cursor, alerts, written, waiting)


@sensor(
    name=SENSOR_NAME,
    minimum_interval_seconds=30,
    default_status=DefaultSensorStatus.RUNNING,
    description="Run-failure sensor: records every failed or blocked run of stratum_daily in "
    "quality.run_alerts (run, as-of date, trigger, kind, one-sentence reason) and posts it to "
    "alerts.webhook_url of config/pipeline.yaml when set.",
)
def run_alerts_sensor(context: SensorEvaluationContext) -> SkipReason:
    config = load_model(PipelineConfig, config_dir() / "pipeline.yaml").model
    now = datetime.now(UTC).replace(tzinfo=None)
    result = process_failures(context.instance, context.cursor, config.alerts, now)
    if result.cursor != context.cursor:
        context.update_cursor(result.cursor)
    return SkipReason(result.summary())
