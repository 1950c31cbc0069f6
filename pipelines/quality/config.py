"""Quality policy (``config/quality.yaml``) loaded into typed objects that fail loudly.

The policy says how hard each Great Expectations suite bites: the default severity of a
suite, per-expectation overrides, the freshness window and how big a batch may get before it
is validated on a sample. Suites themselves live in ``expectations/<suite>.json``.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from pipelines.settings import CONFIG_DIR

Severity = Literal["ERROR", "WARN"]
BatchPolicy = Literal["current_run", "latest_load"]

QUALITY_CONFIG_PATH = CONFIG_DIR / "quality.yaml"


class QualityConfigError(ValueError):
    """The quality policy is invalid; the message names the file and the offending key."""


class Defaults(BaseModel):
    model_config = ConfigDict(extra="forbid")

    severity: Severity = "ERROR"
    freshness_days: int = Field(30, ge=0)
    max_rows: int = Field(200_000, gt=0)
    examples: int = Field(5, ge=0, le=100)
    batch_policy: BatchPolicy = "current_run"


class SuitePolicy(BaseModel):
    """One suite's policy; unset fields fall back to ``defaults``."""

    model_config = ConfigDict(extra="forbid")

    severity: Severity | None = None
    freshness_days: int | None = Field(None, ge=0)
    max_rows: int | None = Field(None, gt=0)
    examples: int | None = Field(None, ge=0, le=100)
    batch_policy: BatchPolicy | None = None
    expectations: dict[str, Severity] = Field(default_factory=dict)


class ResolvedPolicy(BaseModel):
    """A suite's policy with the defaults applied."""

    model_config = ConfigDict(frozen=True)

    suite: str
    severity: Severity
    freshness_days: int
    max_rows: int
    examples: int
    batch_policy: BatchPolicy
    expectations: dict[str, Severity]

    def severity_for(self, key: str, expectation_type: str) -> Severity:
        """Severity of one expectation: ``type:columns`` override, then ``type``, then suite."""
        return (
            self.expectations.get(key) or self.expectations.get(expectation_type) or self.severity
        )


class QualityConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    defaults: Defaults = Field(default_factory=Defaults)
    suites: dict[str, SuitePolicy] = Field(default_factory=dict)

    def policy(self, suite: str) -> ResolvedPolicy:
        """The resolved policy of ``suite`` (a suite absent from the file gets the defaults)."""
        own = self.suites.get(suite, SuitePolicy())
        d = self.defaults
        return ResolvedPolicy(
            suite=suite,
            severity=own.severity or d.severity,
            freshness_days=d.freshness_days if own.freshness_days is None else own.freshness_days,
            max_rows=own.max_rows or d.max_rows,
            examples=d.examples if own.examples is None else own.examples,
            batch_policy=own.batch_policy or d.batch_policy,
            expectations=dict(own.expectations),
        )


def load_quality_config(path: Path | str | None = None) -> QualityConfig:
    """Read and validate the quality policy; raise ``QualityConfigError`` naming the bad key."""
    path = Path(path) if path is not None else QUALITY_CONFIG_PATH
    try:
        raw: Any = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise QualityConfigError(f"{path}: cannot read quality config: {exc}") from exc
    try:
        return QualityConfig.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or '<root>'}: {err['msg']}"
            for err in exc.errors()
        )
        raise QualityConfigError(f"{path}: invalid quality config: {problems}") from exc


def freshness_parameters(as_of: date, policy: ResolvedPolicy) -> dict[str, datetime]:
    """Suite parameters filled at validation time.

    ``freshness_floor``: the newest date of a batch must not be older than this.
    ``as_of``: midnight of the run's reference date (dates must not be after it).
    Datetimes, not dates or strings, because pandas compares datetime64 columns with them.
    """
    midnight = datetime.combine(as_of, time.min)
    return {
        "freshness_floor": midnight - timedelta(days=policy.freshness_days),
        "as_of": midnight,
    }
