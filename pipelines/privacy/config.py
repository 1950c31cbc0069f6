"""``config/privacy.yaml``: retention periods and how erasures treat landing files."""

from __future__ import annotations

from pydantic import Field

from pipelines.config.loader import StrictModel


class Retention(StrictModel):
    """How long personal data is kept (days, measured against the run's as-of date)."""

    superseded_contact_versions_days: int = Field(1095, ge=1)
    quarantine_values_days: int = Field(365, ge=1)
    landing_files_days: int | None = Field(None, ge=1)
    # Retention purges are gone from the DuckDB file only once it is rewritten; erasures
    # always rewrite it, retention at most every this many days (0: every run that purged).
    rewrite_every_days: int = Field(7, ge=0)


class Erasure(StrictModel):
    remove_landing_files: bool = True


class PrivacyConfig(StrictModel):
    version: str
    retention: Retention = Retention()
    erasure: Erasure = Erasure()
