"""Validation results, flattened for Dagster metadata and ``quality.validation_results``."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pandas as pd

from pipelines.quality.config import Severity, expectation_key


@dataclass(frozen=True)
class ExpectationOutcome:
    """The result of one expectation, flattened for metadata and the results table."""

    expectation_type: str
    column: str | None
    kwargs: dict[str, Any]
    success: bool
    severity: Severity
    unexpected_count: int | None = None
    unexpected_percent: float | None = None
    examples: list[Any] = field(default_factory=list)
    observed_value: Any = None
    error: str | None = None
    source: str = "gx"  # "gx" or "sql" (computed in the warehouse over the whole table)

    @property
    def key(self) -> str:
        """``<type>:<column>``, the key used for severity overrides in config/quality.yaml."""
        return expectation_key(self.expectation_type, self.kwargs)


@dataclass
class ValidationOutcome:
    """All expectation results of one validation, with the verdict under the severity policy."""

    suite: str
    results: list[ExpectationOutcome]
    element_count: int
    validated_at: datetime
    run_name: str
    data_docs_index: Path | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def failures(self) -> list[ExpectationOutcome]:
        return [r for r in self.results if not r.success]

    @property
    def errors(self) -> list[ExpectationOutcome]:
        return [r for r in self.failures if r.severity == "ERROR"]

    @property
    def warnings(self) -> list[ExpectationOutcome]:
        return [r for r in self.failures if r.severity == "WARN"]

    @property
    def passed(self) -> bool:
        """True when no ERROR-severity expectation failed (WARN failures do not block)."""
        return not self.errors

    @property
    def severity(self) -> Severity:
        """ERROR if a blocking expectation failed, otherwise WARN (used for the check result)."""
        return "ERROR" if self.errors else "WARN"

    def result(self, expectation_type: str, column: str | None = None) -> ExpectationOutcome:
        """The first result of that expectation type (and column); KeyError when absent."""
        for r in self.results:
            if r.expectation_type == expectation_type and (column is None or r.column == column):
                return r
        raise KeyError(f"{self.suite}: no result for {expectation_type} on {column!r}")

    def replace_result(self, new: ExpectationOutcome) -> None:
        """Swap the result with the same key for ``new`` (e.g. a whole-table SQL computation)."""
        for i, r in enumerate(self.results):
            if r.key == new.key:
                self.results[i] = new
                return
        self.results.append(new)

    def to_frame(self) -> pd.DataFrame:
        """One row per expectation, failures first, JSON-ready kwargs/examples."""
        rows = [
            {
                "expectation_type": r.expectation_type,
                "column_name": r.column,
                "kwargs": json.dumps(jsonable(r.kwargs), ensure_ascii=False, sort_keys=True),
                "success": r.success,
                "severity": r.severity,
                "unexpected_count": r.unexpected_count,
                "unexpected_percent": r.unexpected_percent,
                "examples": json.dumps(jsonable(r.examples), ensure_ascii=False),
                "observed_value": None if r.observed_value is None else str(r.observed_value),
                "error": r.error,
                "source": r.source,
            }
            for r in sorted(self.results, key=lambda r: (r.success, r.severity != "ERROR"))
        ]
        return pd.DataFrame(rows)


def jsonable(value: Any) -> Any:
    """Make GX/pandas values JSON-safe (NaN -> None, timestamps -> ISO text)."""
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set):
        return [jsonable(v) for v in value]
    if value is None or isinstance(value, bool | str | int):
        return value
    if isinstance(value, float):
        return None if math.isnan(value) else value
    if isinstance(value, datetime | date | pd.Timestamp):
        return value.isoformat()
    if value is pd.NaT:
        return None
    if hasattr(value, "item"):  # numpy scalars
        return jsonable(value.item())
    return str(value)
