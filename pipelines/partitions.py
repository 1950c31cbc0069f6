"""The as-of date as a Dagster daily partition.

A partition is one *business day* in the configured time zone (``config/pipeline.yaml``), and
a run for partition D sees what was true at the end of D. Only complete days are partitions:
the last one is yesterday, so the daily schedule, the landing sensor and ``make run`` all
default to the day that just ended.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pandas as pd
from dagster import DailyPartitionsDefinition

from pipelines.config.loader import load_model
from pipelines.config.pipeline import PipelineConfig
from pipelines.settings import config_dir


def build_partitions(cfg: PipelineConfig) -> DailyPartitionsDefinition:
    return DailyPartitionsDefinition(
        start_date=cfg.partitions.start_date.isoformat(),
        timezone=cfg.partitions.timezone,
        fmt="%Y-%m-%d",
    )


def _pipeline_config() -> PipelineConfig:
    # Read at import (no connection, one small file): the partitions are part of the asset
    # definitions Dagster loads.
    return load_model(PipelineConfig, config_dir() / "pipeline.yaml").model


AS_OF_PARTITIONS = build_partitions(_pipeline_config())


def business_today(now: datetime | None = None) -> date:
    """Today's date in the partitions' time zone (the day still in progress)."""
    zone = ZoneInfo(AS_OF_PARTITIONS.timezone)
    return (now.astimezone(zone) if now is not None else datetime.now(zone)).date()


def business_date_of(utc: datetime) -> date:
    """The business day (partitions' zone) of a naive UTC timestamp such as ``_loaded_at``."""
    moment = pd.Timestamp(utc).to_pydatetime()
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(ZoneInfo(AS_OF_PARTITIONS.timezone)).date()


def latest_complete_as_of(now: datetime | None = None) -> date:
    """The last complete business day at ``now`` (default: the current time): the day before
    ``now`` in the partitions' time zone, i.e. the newest partition."""
    latest = business_today(now) - timedelta(days=1)
    first = date.fromisoformat(AS_OF_PARTITIONS.get_first_partition_key() or latest.isoformat())
    if latest < first:
        raise ValueError(f"no complete as-of date yet: partitions start on {first}")
    return latest


def check_as_of(value: str) -> date:
    """``value`` as a date if it is a partition (a complete day since the start date)."""
    try:
        as_of = date.fromisoformat(value)
    except ValueError:
        raise ValueError(f"as-of date {value!r} is not a date (YYYY-MM-DD)") from None
    if not AS_OF_PARTITIONS.has_partition_key(as_of.isoformat()):
        first = AS_OF_PARTITIONS.get_first_partition_key()
        raise ValueError(
            f"as-of date {as_of} is not a partition: partitions run from {first} to "
            f"{latest_complete_as_of()} (the last complete day in "
            f"{AS_OF_PARTITIONS.timezone}); see config/pipeline.yaml"
        )
    return as_of
