"""Validate a bounded pandas DataFrame against a Great Expectations suite. Knows nothing of Dagster.

GX 1.x is called directly (``dagster-ge`` only supports GX < 1.0) with a *file* data context
rooted at ``<quality_dir>/gx``: every validation result is stored there and rendered into the
Data Docs site at ``<quality_dir>/data_docs``, whose index lists the latest
:data:`DOCS_INDEX_RESULTS` (contact values masked first:
:func:`pipelines.privacy.gx_results.store_masked`). GX's SQL path
does not work on DuckDB, so callers hand over a DataFrame of bounded size (one load batch, a
deterministic sample or an aggregate).

One context per process and quality directory (cached); suites are read from
``expectations/<suite>.json`` and registered once.
"""

from __future__ import annotations

import os

# GX reads this at import time (pipelines/quality/__init__.py sets it too, for direct imports).
os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")

import json
import threading
from datetime import UTC, date, datetime
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from pipelines.privacy.gx_results import store_masked
from pipelines.quality.config import (
    QualityConfig,
    _columns_of,
    expectation_key,
)
from pipelines.quality.outcomes import ExpectationOutcome, ValidationOutcome, jsonable
from pipelines.settings import EXPECTATIONS_DIR, get_paths

# Importing GX takes seconds and half a GB: only the steps that validate pay for it, not every
# process that loads the code location (launcher, code server, UI, sensors).
if TYPE_CHECKING:
    import great_expectations as gx

__all__ = ["ExpectationOutcome", "ValidationOutcome", "jsonable", "validate_frame"]

DATASOURCE = "stratum_pandas"
BATCH_DEFINITION = "whole_frame"
DOCS_SITE = "stratum"
# The Data Docs index lists the latest this many validation results (about the last eleven
# daily runs, nine validations each). GX rebuilds the index after every validation by loading
# each result it lists, so without a limit a validation cost grew with every result ever
# stored: 0.43 s with none, 1.26 s after 400 (measured 2026-12-03), about 12 s a validation
# after a year of daily runs. Every result keeps its own page, and the whole history is the
# table quality.validation_results.
DOCS_INDEX_RESULTS = 100

_LOCK = threading.Lock()


# ---------------------------------------------------------------------------------------------
# Suites and the GX context
# ---------------------------------------------------------------------------------------------


def suite_path(suite_name: str) -> Path:
    return EXPECTATIONS_DIR / f"{suite_name}.json"


def suite_names() -> list[str]:
    """Every suite stored in ``expectations/``."""
    return sorted(p.stem for p in EXPECTATIONS_DIR.glob("*.json"))


def load_suite(suite_name: str) -> gx.ExpectationSuite:
    """Build the suite from its JSON file. GX drops invalid expectations silently, so a
    suite whose expectation count shrinks while loading is an error here."""
    import great_expectations as gx

    doc = json.loads(suite_path(suite_name).read_text(encoding="utf-8"))
    suite = gx.ExpectationSuite(**doc)
    if len(suite.expectations) != len(doc.get("expectations", [])):
        raise ValueError(
            f"{suite_path(suite_name)}: GX kept {len(suite.expectations)} of "
            f"{len(doc.get('expectations', []))} expectations (invalid ones are dropped)"
        )
    return suite


def suite_columns(suite_name: str) -> list[str]:
    """Every column a suite refers to (schema set included), in first-mention order."""
    seen: dict[str, None] = {}
    for exp in load_suite(suite_name).expectations:
        kwargs = dict(exp.configuration.kwargs)
        for name in ("column", "column_A", "column_B"):
            if kwargs.get(name):
                seen.setdefault(str(kwargs[name]))
        for name in ("column_list", "column_set"):
            for col in kwargs.get(name) or []:
                seen.setdefault(str(col))
    return list(seen)


def data_docs_dir(quality_dir: Path | None = None) -> Path:
    """Where the Data Docs site is written (``<quality_dir>/data_docs``)."""
    return (quality_dir or get_paths().quality_dir) / "data_docs"


class _Runner:
    """A GX file context rooted under the quality dir, with the suites registered lazily."""

    def __init__(self, quality_dir: Path) -> None:
        import great_expectations as gx
        from great_expectations.data_context.types.base import ProgressBarsConfig

        quality_dir.mkdir(parents=True, exist_ok=True)
        self.quality_dir = quality_dir
        self.context = gx.get_context(mode="file", project_root_dir=str(quality_dir))
        # Write great_expectations.yml only when something changed: with a multi-process
        # executor several checks may start at once, and rewriting it each time would race.
        quiet = ProgressBarsConfig(globally=False, metric_calculations=False)
        if self.context.variables.progress_bars != quiet:
            self.context.variables.progress_bars = quiet
            self.context.variables.save()
        site_config = {
            "class_name": "SiteBuilder",
            "show_how_to_buttons": False,
            "store_backend": {
                "class_name": "TupleFilesystemStoreBackend",
                "base_directory": str(data_docs_dir(quality_dir)),
            },
            "site_index_builder": {
                "class_name": "DefaultSiteIndexBuilder",
                "validation_results_limit": DOCS_INDEX_RESULTS,
            },
        }
        sites = self.context.get_config().data_docs_sites or {}
        # The site path is absolute, so refresh it in case the quality dir was moved.
        if DOCS_SITE in sites:
            if dict(sites[DOCS_SITE]) != site_config:
                self.context.update_data_docs_site(DOCS_SITE, site_config)
        else:
            self.context.add_data_docs_site(DOCS_SITE, site_config)
        if "local_site" in sites:
            self.context.delete_data_docs_site("local_site")
        try:
            self.datasource = self.context.data_sources.get(DATASOURCE)
        except (KeyError, ValueError, LookupError):
            self.datasource = self.context.data_sources.add_pandas(DATASOURCE)
        self.checkpoints: dict[str, gx.Checkpoint] = {}

    def checkpoint(self, suite_name: str, examples: int) -> gx.Checkpoint:
        import great_expectations as gx

        cache_key = f"{suite_name}/{examples}"
        if cache_key in self.checkpoints:
            return self.checkpoints[cache_key]
        suite = self.context.suites.add_or_update(load_suite(suite_name))
        try:
            asset = self.datasource.get_asset(suite_name)
        except LookupError:
            asset = self.datasource.add_dataframe_asset(suite_name)
        try:
            batch_definition = asset.get_batch_definition(BATCH_DEFINITION)
        except KeyError:
            batch_definition = asset.add_batch_definition_whole_dataframe(BATCH_DEFINITION)
        validation = self.context.validation_definitions.add_or_update(
            gx.ValidationDefinition(name=suite_name, data=batch_definition, suite=suite)
        )
        checkpoint = self.context.checkpoints.add_or_update(
            gx.Checkpoint(
                name=f"stratum_{suite_name}",
                validation_definitions=[validation],
                actions=[],  # Data Docs are built by store_masked, after masking
                result_format={"result_format": "SUMMARY", "partial_unexpected_count": examples},
            )
        )
        self.checkpoints[cache_key] = checkpoint
        return checkpoint


@lru_cache(maxsize=8)
def _runner(quality_dir: str) -> _Runner:
    return _Runner(Path(quality_dir))


def _prepare(df: pd.DataFrame) -> pd.DataFrame:
    """Python ``date`` objects (object dtype) become datetime64 so that GX can compare them
    with the datetime suite parameters; DuckDB already returns DATE as datetime64."""
    out = df
    for col in df.columns:
        if df[col].dtype == object:
            first = df[col].dropna().head(1)
            if (
                len(first)
                and isinstance(first.iloc[0], date)
                and not isinstance(first.iloc[0], datetime)
            ):
                if out is df:
                    out = df.copy()
                out[col] = pd.to_datetime(df[col])
    return out


def _error_message(exception_info: Any) -> str | None:
    if not exception_info:
        return None
    infos = [exception_info] if "raised_exception" in exception_info else exception_info.values()
    messages = [
        str(i.get("exception_message"))
        for i in infos
        if isinstance(i, dict) and i.get("raised_exception")
    ]
    return "; ".join(messages) or None


def _outcome(r: Any, policy: Any) -> ExpectationOutcome:
    """One GX expectation result, flattened (contact values already masked by store_masked)."""
    cfg = r.expectation_config
    kwargs = {k: v for k, v in dict(cfg.kwargs).items() if k != "batch_id"}
    res = r.result or {}
    return ExpectationOutcome(
        expectation_type=cfg.type,
        column=_columns_of(kwargs),
        kwargs=kwargs,
        success=bool(r.success),
        severity=policy.severity_for(expectation_key(cfg.type, kwargs), cfg.type),
        unexpected_count=res.get("unexpected_count"),
        unexpected_percent=res.get("unexpected_percent"),
        examples=jsonable(res.get("partial_unexpected_list") or [])[: policy.examples],
        observed_value=jsonable(res.get("observed_value")),
        error=_error_message(r.exception_info),
    )


def validate_frame(
    df: pd.DataFrame,
    suite_name: str,
    parameters: dict[str, Any] | None = None,
    *,
    run_name: str | None = None,
    config: QualityConfig,
    quality_dir: Path | None = None,
) -> ValidationOutcome:
    """Validate ``df`` against ``expectations/<suite_name>.json``.

    ``parameters`` fill the suite's ``{"$PARAMETER": ...}`` placeholders (see
    ``config.freshness_parameters``). Severity comes from ``config`` (the run's
    ``config/quality.yaml``, cross-checked against the suites when it was loaded). The GX
    result is stored in the file context and rendered into the Data Docs site, under
    ``run_name`` (e.g. the Dagster run id). Nothing is written to the warehouse here.
    """
    from great_expectations.core.run_identifier import RunIdentifier

    policy = config.policy(suite_name)
    quality_dir = (quality_dir or get_paths().quality_dir).resolve()
    run_name = run_name or "adhoc"
    validated_at = datetime.now(UTC)
    with _LOCK:  # one GX context, one writer to its stores
        runner = _runner(str(quality_dir))
        checkpoint = runner.checkpoint(suite_name, policy.examples)
        result = checkpoint.run(
            batch_parameters={"dataframe": _prepare(df)},
            expectation_parameters=parameters or {},
            run_id=RunIdentifier(run_name=run_name, run_time=validated_at),
        )
        store_masked(runner.context, result, DOCS_SITE)
    suite_result = next(iter(result.run_results.values()))
    outcomes = [_outcome(r, policy) for r in suite_result.results]
    # Keep the suite's own order: it is how the author grouped them (schema, keys, ranges...).
    suite = checkpoint.validation_definitions[0].suite
    order = {
        expectation_key(e.configuration.type, dict(e.configuration.kwargs)): i
        for i, e in enumerate(suite.expectations)
    }
    outcomes.sort(key=lambda o: order.get(o.key, len(order)))
    index = data_docs_dir(quality_dir) / "index.html"
    return ValidationOutcome(
        suite=suite_name,
        results=outcomes,
        element_count=len(df),
        validated_at=validated_at,
        run_name=run_name,
        data_docs_index=index if index.exists() else None,
    )
