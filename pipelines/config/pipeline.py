"""``config/pipeline.yaml``: partitions, schedule, catalog (owners, tags), freshness, alerts."""

from __future__ import annotations

from datetime import date
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, HttpUrl, field_validator

from pipelines.config.loader import StrictModel

GROUPS = ("raw", "privacy", "transform", "identity", "scoring", "tiering", "publish")


class Partitions(StrictModel):
    start_date: date
    timezone: str = "Asia/Shanghai"

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r}") from None
        return value


class Schedule(StrictModel):
    cron: str = Field(pattern=r"^\S+ \S+ \S+ \S+ \S+$")


class GroupCatalog(StrictModel):
    owners: list[str] = []
    tags: dict[str, str] = {}

    @field_validator("owners")
    @classmethod
    def _dagster_owners(cls, value: list[str]) -> list[str]:
        for owner in value:
            if not (owner.startswith("team:") or "@" in owner):
                raise ValueError(f"owner {owner!r} must be 'team:<name>' or an email address")
        return value


class Catalog(StrictModel):
    groups: dict[str, GroupCatalog] = {}
    dbt_docs_url: HttpUrl | None = None
    data_docs_url: HttpUrl | None = None

    @field_validator("groups")
    @classmethod
    def _known_groups(cls, value: dict[str, GroupCatalog]) -> dict[str, GroupCatalog]:
        unknown = sorted(set(value) - set(GROUPS))
        if unknown:
            raise ValueError(f"{unknown[0]}: unknown asset group (known: {', '.join(GROUPS)})")
        return value

    def group(self, name: str) -> GroupCatalog:
        return self.groups.get(name, GroupCatalog())


class Freshness(StrictModel):
    published_snapshot_max_lag_hours: int = Field(30, gt=0)


class Alerts(StrictModel):
    webhook_url: HttpUrl | None = None
    timeout_seconds: float = Field(5, gt=0, le=60)


class PipelineConfig(StrictModel):
    version: str
    partitions: Partitions
    schedule: Schedule
    catalog: Catalog = Catalog()
    freshness: Freshness = Freshness()
    alerts: Alerts = Alerts()
