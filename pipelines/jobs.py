"""The job that runs the whole graph, its daily schedule."""

from __future__ import annotations

from dagster import AssetSelection, ScheduleDefinition, define_asset_job

# One job for the whole path: landing files -> raw -> dbt -> checks -> scores -> tiers -> publish.
# Blocking checks (ingest reconciliation, Great Expectations, dbt tests) stop everything downstream
# of a failure in the same run, so a bad delivery never reaches the published tiers.
stratum_job = define_asset_job(
    name="stratum_daily",
    selection=AssetSelection.all(),
    description="Ingest, profile, score, tier and publish: the whole customer-tiering pipeline.",
)

daily_schedule = ScheduleDefinition(
    name="stratum_daily_schedule",
    job=stratum_job,
    cron_schedule="0 6 * * *",
    execution_timezone="Asia/Shanghai",
    description="Every morning at 06:00 China time, after the nightly CRM and order exports land.",
)
