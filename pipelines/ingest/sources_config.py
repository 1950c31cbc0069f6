"""``config/sources.yaml``: per-source encoding, quarantine threshold, future tolerance, glob.

Loaded (by :mod:`pipelines.config`) into pydantic models; any bad key or value fails loudly
with the file, its key and the reason.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import Field, ValidationError

from pipelines.config.loader import ConfigError, StrictModel, validate, validation_problems
from pipelines.ingest.contracts import CONTRACTS


class SourceConfig(StrictModel):
    """Settings of one source entity."""

    encoding: Literal["auto", "utf-8", "utf-16", "gbk", "gb18030", "big5", "windows-1252"] = "auto"
    quarantine_rate_threshold: float = Field(default=0.05, ge=0.0, le=1.0)
    # Dates and timestamps may lie at most this far after the load time (clock skew, a
    # system in a zone ahead of China); later ones are quarantined as "in the future".
    future_tolerance_hours: float = Field(default=24.0, ge=0.0, le=24.0 * 366)
    severity: Literal["ERROR", "WARN"] = "ERROR"
    glob: str = Field(default="*", min_length=1)


class SourcesFile(StrictModel):
    """The file as written: ``defaults`` for every entity, ``sources`` per entity."""

    version: str = "0"
    defaults: dict[str, Any] = Field(default_factory=dict)
    sources: dict[str, dict[str, Any]] = Field(default_factory=dict)


def resolve_sources(parsed: SourcesFile, path: str | Path) -> dict[str, SourceConfig]:
    """``{entity: SourceConfig}`` for every contract entity: the file's ``defaults`` overlaid
    with the entity's own keys. Raises :class:`ConfigError` naming the key (e.g.
    ``sources.orders.severity``) and the reason."""
    unknown = sorted(set(parsed.sources) - set(CONTRACTS))
    if unknown:
        raise ConfigError(
            path, [(f"sources.{unknown[0]}", f"unknown entity (known: {', '.join(CONTRACTS)})")]
        )
    try:
        SourceConfig.model_validate(parsed.defaults)
    except ValidationError as exc:
        raise ConfigError(
            path, [(f"defaults.{key}", why) for key, why in validation_problems(exc)]
        ) from None
    result: dict[str, SourceConfig] = {}
    for entity in CONTRACTS:
        own = parsed.sources.get(entity) or {}
        try:
            result[entity] = SourceConfig.model_validate({**parsed.defaults, **own})
        except ValidationError as exc:
            problems = [(f"sources.{entity}.{key}", why) for key, why in validation_problems(exc)]
            raise ConfigError(path, problems) from None
    return result


def parse_sources(data: dict[str, Any], path: str | Path = "<sources>") -> dict[str, SourceConfig]:
    """Validate the content of a sources file (as loaded from YAML)."""
    return resolve_sources(validate(SourcesFile, data, path), path)
