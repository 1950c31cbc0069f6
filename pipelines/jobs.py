"""The job that runs the whole graph for one as-of date, and its daily schedule."""

from __future__ import annotations

from dagster import (
    AssetSelection,
    RunRequest,
    ScheduleEvaluationContext,
    define_asset_job,
    schedule,
)

from pipelines.config.loader import load_model
from pipelines.config.pipeline import PipelineConfig
from pipelines.partitions import AS_OF_PARTITIONS, latest_complete_as_of
from pipelines.runs import instance_of, reap_dead_runs
from pipelines.settings import config_dir

# One job for the whole path: landing files -> raw -> dbt -> checks -> scores -> tiers -> publish,
# partitioned by as-of date. Blocking checks (ingest reconciliation, Great Expectations, dbt
# tests) stop everything downstream of a failure in the same run, so a bad delivery never
# reaches the published tiers.
stratum_job = define_asset_job(
    name="stratum_daily",
    selection=AssetSelection.all(),
    partitions_def=AS_OF_PARTITIONS,
    description="Ingest, profile, score, tier and publish one as-of date: the whole "
    "customer-tiering pipeline.",
)

_SCHEDULE = load_model(PipelineConfig, config_dir() / "pipeline.yaml").model.schedule


@schedule(
    name="stratum_daily_schedule",
    job=stratum_job,
    cron_schedule=_SCHEDULE.cron,
    execution_timezone=AS_OF_PARTITIONS.timezone,
    description="Every morning after the nightly CRM and order exports land (cron in "
    "config/pipeline.yaml), for the business day that just ended.",
)
def daily_schedule(context: ScheduleEvaluationContext) -> RunRequest:
    # A killed run still marked STARTED would hold the queue (one run at a time) forever:
    # mark dead runs failed before queueing (the landing sensor then asks for their work).
    instance = instance_of(context)
    if instance is not None:
        reap_dead_runs(instance)
    as_of = latest_complete_as_of(context.scheduled_execution_time)
    return RunRequest(
        run_key=f"schedule-{as_of.isoformat()}",
        partition_key=as_of.isoformat(),
    )
