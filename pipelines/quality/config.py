"""Quality policy (``config/quality.yaml``) loaded into typed objects that fail loudly.

The policy says how hard each Great Expectations suite bites: the default severity of a
suite, per-expectation overrides, the freshness window and how big a batch may get before it
is validated on a sample. Suites themselves live in ``expectations/<suite>.json``. The
``volume`` section bounds how much the published book may change from one snapshot to the
next before a run is stopped (see :mod:`pipelines.quality.volume`).
"""

from __future__ import annotations

import json
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

Severity = Literal["ERROR", "WARN"]


class Defaults(BaseModel):
    model_config = ConfigDict(extra="forbid")

    severity: Severity = "ERROR"
    freshness_days: int = Field(30, ge=0)
    max_rows: int = Field(200_000, gt=0)
    examples: int = Field(5, ge=0, le=100)


class SuitePolicy(BaseModel):
    """One suite's policy; unset fields fall back to ``defaults``."""

    model_config = ConfigDict(extra="forbid")

    severity: Severity | None = None
    freshness_days: int | None = Field(None, ge=0)
    max_rows: int | None = Field(None, gt=0)
    examples: int | None = Field(None, ge=0, le=100)
    expectations: dict[str, Severity] = Field(default_factory=dict)


class ResolvedPolicy(BaseModel):
    """A suite's policy with the defaults applied."""

    model_config = ConfigDict(frozen=True)

    suite: str
    severity: Severity
    freshness_days: int
    max_rows: int
    examples: int
    expectations: dict[str, Severity]

    def severity_for(self, key: str, expectation_type: str) -> Severity:
        """Severity of one expectation: ``type:columns`` override, then ``type``, then suite."""
        return (
            self.expectations.get(key) or self.expectations.get(expectation_type) or self.severity
        )


class ChangeBound(BaseModel):
    """How far one metric may move from the previous snapshot: ``max_drop`` and ``max_rise``
    are fractions of the previous value (0.2 = 20%). Below ``min_base`` (previous and current
    value both) the metric is not judged: small numbers swing for no reason."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    max_drop: float = Field(ge=0, le=1)
    max_rise: float = Field(ge=0)
    min_base: float = Field(0, ge=0)


class VolumeBounds(BaseModel):
    """Bounds of the blocking volume checks against the previous in-force snapshot."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    accounts: ChangeBound = ChangeBound(max_drop=0.2, max_rise=1.0)
    orders_365d: ChangeBound = ChangeBound(max_drop=0.3, max_rise=1.0)
    net_revenue_365d: ChangeBound = ChangeBound(max_drop=0.3, max_rise=1.0)
    tier_size: ChangeBound = ChangeBound(max_drop=0.5, max_rise=1.0, min_base=30)


class QualityConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    version: str = "0"
    defaults: Defaults = Field(default_factory=Defaults)
    suites: dict[str, SuitePolicy] = Field(default_factory=dict)
    volume: VolumeBounds = Field(default_factory=VolumeBounds)

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
            expectations=dict(own.expectations),
        )


def expectation_key(expectation_type: str, kwargs: dict[str, Any]) -> str:
    """Stable human key of an expectation: ``type:column``, ``type:a+b`` or ``type``."""
    cols = _columns_of(kwargs)
    return f"{expectation_type}:{cols}" if cols else expectation_type


def _columns_of(kwargs: dict[str, Any]) -> str | None:
    if kwargs.get("column"):
        return str(kwargs["column"])
    if kwargs.get("column_A") and kwargs.get("column_B"):
        return f"{kwargs['column_A']}+{kwargs['column_B']}"
    if kwargs.get("column_list"):
        return "+".join(str(c) for c in kwargs["column_list"])
    return None


def suite_keys(suite_path: Path) -> set[str]:
    """Every key a severity override may use for the suite stored at ``suite_path``
    (``type`` and ``type:columns`` of each expectation), read from its JSON without GX."""
    doc = json.loads(suite_path.read_text(encoding="utf-8"))
    keys: set[str] = set()
    for exp in doc.get("expectations", []):
        keys.add(exp["type"])
        keys.add(expectation_key(exp["type"], dict(exp.get("kwargs") or {})))
    return keys


def cross_check(config: QualityConfig, expectations_dir: Path) -> list[tuple[str, str]]:
    """(key, reason) for every suite policy that names no stored suite, and every severity
    override that matches no expectation of its suite (typos must fail loudly)."""
    problems: list[tuple[str, str]] = []
    for suite, policy in config.suites.items():
        path = expectations_dir / f"{suite}.json"
        if not path.exists():
            problems.append((f"suites.{suite}", f"no suite {path.name} in {expectations_dir}"))
            continue
        known = suite_keys(path)
        for key in sorted(set(policy.expectations) - known):
            problems.append(
                (f"suites.{suite}.expectations.{key}", f"matches no expectation of {path.name}")
            )
    return problems


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
