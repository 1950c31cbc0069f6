"""Identity configuration (``config/identity.yaml``) and the decisions file
(``config/identity_decisions.yaml``), as typed objects.

Both are version-controlled YAML read by the project's one loader
(:func:`pipelines.config.loader.load_model`: errors name the file, the key and the reason;
versions are ``<version>+<content hash>``) as part of the run's configuration
(:func:`pipelines.config.load_stratum_config`), so a run never mixes two versions.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator, model_validator

from pipelines.config.loader import Loaded, StrictModel, load_model

IDENTITY_FILE = "identity.yaml"
DECISIONS_FILE = "identity_decisions.yaml"


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


def load_identity_config(root: Path) -> Loaded[IdentityConfig]:
    """``<config dir>/identity.yaml``."""
    return load_model(IdentityConfig, root / IDENTITY_FILE)


def load_decisions(root: Path) -> Loaded[Decisions]:
    """``<config dir>/identity_decisions.yaml``; no file means no decisions yet."""
    path = root / DECISIONS_FILE
    if not path.exists():
        return Loaded(Decisions(), "none", path)
    return load_model(Decisions, path)
