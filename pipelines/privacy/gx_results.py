"""Great Expectations results without contact data: masked when written, scrubbed on erasure.

GX keeps every validation result as JSON in its file context (``<quality dir>/gx``) and
renders it into the Data Docs site (HTML), failure examples included: the bad emails and
phone numbers themselves. :func:`store_masked` re-stores each result of a checkpoint run with
the examples of contact columns masked (:mod:`pipelines.privacy.masking`) *before* Data Docs
are built from it, so the site never shows a contact value. :func:`scrub_stored_results`
removes given values (an erased person's) from results stored earlier, e.g. by a version that
did not mask yet, and re-renders the pages of the results it changed.
"""

from __future__ import annotations

import html
import json
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from pipelines.privacy.masking import mask_value, mask_values
from pipelines.quality.config import _columns_of

# Result keys that carry values of the validated rows (GX's SUMMARY / COMPLETE formats).
_VALUE_LISTS = ("partial_unexpected_list", "unexpected_list", "partial_unexpected_index_list")
_STORE_DIR = Path("gx") / "uncommitted" / "validations"
SCRUBBING_SUFFIX = ".scrubbing"


def mask_result(column: str | None, result: Mapping[str, Any] | None) -> dict[str, Any]:
    """One expectation's ``result`` dict with the values of contact columns masked."""
    out = dict(result or {})
    for key in _VALUE_LISTS:
        if isinstance(out.get(key), list):
            out[key] = mask_values(column, out[key])
    if isinstance(out.get("partial_unexpected_counts"), list):
        out["partial_unexpected_counts"] = [
            {**c, "value": mask_values(column, [c.get("value")])[0]} if isinstance(c, dict) else c
            for c in out["partial_unexpected_counts"]
        ]
    if "observed_value" in out:
        out["observed_value"] = mask_value(column, out["observed_value"])
    return out


def store_masked(context: Any, checkpoint_result: Any, site_name: str) -> None:
    """Mask the contact values of every result of a checkpoint run, overwrite the stored
    results with the masked ones and build their Data Docs pages (the checkpoint itself must
    not have an ``UpdateDataDocsAction``, or unmasked pages are written first)."""
    from great_expectations.data_context.types.resource_identifiers import (
        ExpectationSuiteIdentifier,
    )

    for key, suite_result in checkpoint_result.run_results.items():
        for r in suite_result.results:
            kwargs = dict(r.expectation_config.kwargs)
            r.result = mask_result(_columns_of(kwargs), r.result)
        context.validation_results_store.set(key, suite_result)
        suite = ExpectationSuiteIdentifier(name=suite_result.suite_name)
        context.build_data_docs(site_names=[site_name], resource_identifiers=[key, suite])


def _scrub(node: Any, values: Mapping[str, str], exact: Mapping[str, str], hits: list[int]) -> Any:
    """``node`` with every string equal to a key of ``exact``, and every occurrence of a key of
    ``values`` inside a string, replaced by its replacement; ``hits[0]`` counts replacements."""
    if isinstance(node, dict):
        return {k: _scrub(v, values, exact, hits) for k, v in node.items()}
    if isinstance(node, list):
        return [_scrub(v, values, exact, hits) for v in node]
    if isinstance(node, str):
        if node in exact:
            hits[0] += 1
            return exact[node]
        for value, replacement in values.items():
            if value in node:
                node = node.replace(value, replacement)
                hits[0] += 1
    return node


def scrub_stored_results(
    quality_dir: Path, values: Mapping[str, str], exact: Mapping[str, str], site_name: str
) -> dict[str, int]:
    """Replace ``values`` (original -> replacement, wherever they occur in a string) and
    ``exact`` (whole strings only, e.g. names) in every stored validation result under
    ``quality_dir``, and re-render the Data Docs pages of the results changed.

    Returns ``{result file (relative to quality_dir): replacements}`` for changed files.
    """
    store = quality_dir / _STORE_DIR
    if not (values or exact) or not store.is_dir():
        return {}
    changed: dict[str, int] = {}
    for path in sorted(store.rglob("*.json")):
        text = path.read_text(encoding="utf-8")
        # Cheap filter first: GX writes JSON with non-ASCII escaped or not, depending on version.
        if not any(_in_json_text(v, text) for v in (*values, *exact)):
            continue
        hits = [0]
        doc = _scrub(json.loads(text), values, exact, hits)
        if hits[0]:
            _replace_text(path, json.dumps(doc, indent=2, ensure_ascii=False))
            changed[path.relative_to(quality_dir).as_posix()] = hits[0]
    # Pages rendered from results scrubbed by a run killed before it rendered them again.
    stale = {quality_dir / p for p in changed} | _pages_showing(quality_dir, [*values, *exact])
    if stale:
        _rebuild_docs(quality_dir, sorted(stale), site_name)
    return changed


def _replace_text(path: Path, text: str) -> None:
    """Write ``path`` whole or not at all (a kill mid-write must not leave half a result);
    the temporary name is one ``pipelines.recovery`` sweeps."""
    tmp = path.with_name(f".{path.name}{SCRUBBING_SUFFIX}")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def _pages_showing(quality_dir: Path, values: list[str]) -> set[Path]:
    """The stored results whose Data Docs page still shows one of ``values``."""
    from pipelines.quality.gx_runner import data_docs_dir  # it imports this module

    pages = data_docs_dir(quality_dir) / "validations"
    if not values or not pages.is_dir():
        return set()
    forms = {f for v in values for f in (v, html.escape(v))}
    found = set()
    for page in pages.rglob("*.html"):
        text = page.read_text(encoding="utf-8", errors="replace")
        result = quality_dir / _STORE_DIR / page.relative_to(pages).with_suffix(".json")
        if result.is_file() and any(f in text for f in forms):
            found.add(result)
    return found


def _in_json_text(value: str, text: str) -> bool:
    return value in text or json.dumps(value)[1:-1] in text


def _rebuild_docs(quality_dir: Path, files: Iterable[Path], site_name: str) -> None:
    import great_expectations as gx
    from great_expectations.data_context.types.resource_identifiers import (
        ValidationResultIdentifier,
    )

    context = gx.get_context(mode="file", project_root_dir=str(quality_dir))
    store_dir = quality_dir / _STORE_DIR
    keys = []
    for path in files:
        # <suite>/<run name>/<run time>/<batch id>.json, as GX's tuple store lays them out.
        parts = path.relative_to(store_dir).with_suffix("").parts
        keys.append(ValidationResultIdentifier.from_tuple(parts))
    context.build_data_docs(site_names=[site_name], resource_identifiers=keys)
