"""``config/sources.yaml``: per-source encoding, quarantine threshold and file glob.

Loaded into pydantic models; any bad key or value fails loudly with its path and reason.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from pipelines.ingest.contracts import CONTRACTS
from pipelines.settings import CONFIG_DIR

SOURCES_YAML = CONFIG_DIR / "sources.yaml"


class SourcesConfigError(ValueError):
    """``sources.yaml`` is missing, malformed, or has an invalid key or value."""


class SourceConfig(BaseModel):
    """Settings of one source entity."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    encoding: Literal["auto", "utf-8", "gbk", "gb18030"] = "auto"
    quarantine_rate_threshold: float = Field(default=0.05, ge=0.0, le=1.0)
    severity: Literal["ERROR", "WARN"] = "ERROR"
    glob: str = Field(default="*", min_length=1)


class _SourcesFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    defaults: dict[str, object] = Field(default_factory=dict)
    sources: dict[str, dict[str, object]] = Field(default_factory=dict)


def load_sources_config(path: Path | None = None) -> dict[str, SourceConfig]:
    """Read ``sources.yaml`` into ``{entity: SourceConfig}`` for every contract entity.

    Entities not listed get the file's ``defaults``. ``STRATUM_SOURCES_CONFIG`` points at
    another file (as ``STRATUM_TIER_POLICY`` does for the tier policy). Raises
    :class:`SourcesConfigError` naming the file, the key (e.g. ``sources.orders.severity``) and
    the reason.
    """
    path = path or Path(os.environ.get("STRATUM_SOURCES_CONFIG") or SOURCES_YAML)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise SourcesConfigError(f"{path}: cannot read: {exc}") from None
    try:
        parsed = _SourcesFile.model_validate(data)
    except ValidationError as exc:
        raise SourcesConfigError(f"{path}: {_explain(exc)}") from None
    unknown = sorted(set(parsed.sources) - set(CONTRACTS))
    if unknown:
        raise SourcesConfigError(
            f"{path}: sources.{unknown[0]}: unknown entity (known: {', '.join(CONTRACTS)})"
        )
    result: dict[str, SourceConfig] = {}
    for entity in CONTRACTS:
        merged = {**parsed.defaults, **(parsed.sources.get(entity) or {})}
        try:
            result[entity] = SourceConfig.model_validate(merged)
        except ValidationError as exc:
            where = "defaults" if entity not in parsed.sources else f"sources.{entity}"
            raise SourcesConfigError(f"{path}: {_explain(exc, where)}") from None
    return result


def _explain(exc: ValidationError, prefix: str = "") -> str:
    err = exc.errors()[0]
    key = ".".join(str(p) for p in (prefix, *err["loc"]) if p != "")
    return f"{key}: {err['msg']} (got {err.get('input')!r})"
