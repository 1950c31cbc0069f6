"""The Stratum code location: every asset, check, job, schedule and sensor, assembled.

The in-process executor runs one step at a time: DuckDB allows a single writer per file, and
every stage here writes the same warehouse.
"""

from __future__ import annotations

from dagster import Definitions, in_process_executor

from pipelines.alerts.sensor import run_alerts_sensor
from pipelines.backtest.assets import tier_backtest
from pipelines.catalog import with_catalog
from pipelines.identity.assets import identity_assets
from pipelines.ingest.assets import raw_assets, raw_checks
from pipelines.ingest.sensors import build_landing_sensor
from pipelines.jobs import daily_schedule, stratum_job
from pipelines.publish.assets import publish_assets
from pipelines.quality.checks import customer_360_quality_checks, raw_quality_checks
from pipelines.quality.volume_checks import volume_checks
from pipelines.resources import Warehouse
from pipelines.run_context import RunContextResource
from pipelines.scoring.assets import scoring_assets
from pipelines.tiering.assets import tiering_assets
from pipelines.transform.assets import dbt_resource, transform_assets

defs = Definitions(
    # transform_assets: dbt staging, then (after identity matching) the marts and features,
    # account_scores over the score tables, the published tier rows over the tier table.
    assets=with_catalog(
        [
            *raw_assets,
            *transform_assets,
            *identity_assets,
            *scoring_assets,
            *tiering_assets,
            tier_backtest,
            *publish_assets,
        ]
    ),
    asset_checks=[
        *raw_checks,
        *raw_quality_checks,
        *customer_360_quality_checks,
        *volume_checks,
    ],
    jobs=[stratum_job],
    schedules=[daily_schedule],
    sensors=[build_landing_sensor(stratum_job), run_alerts_sensor],
    resources={"warehouse": Warehouse(), "dbt": dbt_resource(), "run": RunContextResource()},
    executor=in_process_executor,
)
