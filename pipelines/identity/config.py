"""Identity configuration (``config/identity.yaml``) and the decisions file, as typed objects.

Both are version-controlled YAML validated on load; an error names the file, the key and the
reason (the project's one config loader, :func:`pipelines.scoring.config.load_config`).
"""

from __future__ import annotations

import os
from datetime import date
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator, model_validator

from pipelines.scoring.config import StrictModel, load_config
from pipelines.settings import CONFIG_DIR

DEFAULT_CONFIG = CONFIG_DIR / "identity.yaml"
DEFAULT_DECISIONS = CONFIG_DIR / "identity_decisions.yaml"


class Thresholds(StrictModel):
    """Match probability above ``match`` merges; between ``review`` and ``match`` is reviewed."""

    match: float = Field(gt=0, lt=1)
    review: float = Field(gt=0, lt=1)

    @model_validator(mode="after")
    def _ordered(self) -> Thresholds:
        if self.review >= self.match:
            raise ValueError(f"review ({self.review}) must be below match ({self.match})")
        return self


class Training(StrictModel):
    """How Splink estimates its parameters (fixed seed: the same data gives the same model)."""

    seed: int = 42
    u_max_pairs: float = Field(default=2e6, gt=0)
    deterministic_recall: float = Field(default=0.6, gt=0, le=1)
    em_max_pairs: float = Field(default=5e5, gt=0)
    min_records: int = Field(default=2000, ge=2)


class IdentityConfig(StrictModel):
    version: str
    thresholds: Thresholds
    max_records_per_golden_account: int = Field(ge=2)
    common_name_records: int = Field(default=5, ge=2)
    ambiguity_margin_bits: float = Field(default=5.0, ge=0)
    personal_email_domains: list[str]
    training: Training = Training()
    duckdb_memory_limit: str = "4GB"
    threads: int = Field(default=2, ge=1)


class Decision(StrictModel):
    """A reviewer's ruling on records: one company (must_link) or never one (cannot_link)."""

    id: str = Field(min_length=1)
    decision: Literal["must_link", "cannot_link"]
    account_ids: list[str] = Field(min_length=2)
    decided_by: str = Field(min_length=1)
    decided_at: date
    reason: str = ""

    @field_validator("account_ids")
    @classmethod
    def _distinct(cls, ids: list[str]) -> list[str]:
        if len(set(ids)) != len(ids):
            raise ValueError("account_ids repeat a record")
        return ids


class Decisions(StrictModel):
    version: str = "1"
    decisions: list[Decision] = []

    @model_validator(mode="after")
    def _unique_ids(self) -> Decisions:
        seen = [d.id for d in self.decisions]
        dup = sorted({i for i in seen if seen.count(i) > 1})
        if dup:
            raise ValueError(f"decision ids repeat: {', '.join(dup)}")
        return self


def load_identity_config(path: Path | str | None = None) -> tuple[IdentityConfig, str]:
    """``STRATUM_IDENTITY_CONFIG`` or ``config/identity.yaml`` -> (config, version)."""
    chosen = path or os.environ.get("STRATUM_IDENTITY_CONFIG") or DEFAULT_CONFIG
    return load_config(IdentityConfig, Path(chosen).resolve())


def load_decisions(path: Path | str | None = None) -> tuple[Decisions, str]:
    """``STRATUM_IDENTITY_DECISIONS`` or ``config/identity_decisions.yaml`` -> (decisions,
    version); a missing file means no decisions yet."""
    chosen = Path(path or os.environ.get("STRATUM_IDENTITY_DECISIONS") or DEFAULT_DECISIONS)
    if not chosen.exists():
        return Decisions(), "none"
    return load_config(Decisions, chosen.resolve())
