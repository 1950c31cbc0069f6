"""What a dbt step needs on the Spark engine, around the one ``dbt build``: plain functions.

Before the build, the DuckDB tables its models read as sources are exported to Parquet for
Spark (:func:`pipelines.spark.exchange.export_tables`) and passed to dbt as the
``external_sources`` var. After it, the models the single-node stages read in DuckDB (dbt meta
``stratum.read_in_duckdb``: staging accounts and contacts for the identity matcher, the profile
for the quality suite and the run summary, the scores for the tier step, the published rows)
are copied back. On DuckDB neither happens.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

UNIQUE_ID_KEY = "dagster_dbt/unique_id"
# Tables Python writes that a macro looks up by name rather than as a source (it may not exist
# yet): the relation each such macro reads.
LOOKED_UP_BY_MACRO = {"macro.stratum.not_withdrawn": "quality.withdrawn_files"}


def source_relations(manifest: Mapping[str, Any], unique_ids: Iterable[str]) -> list[str]:
    """The tables written outside dbt (``schema.table``) that the given dbt nodes read directly:
    their sources and the tables their macros look up (``LOOKED_UP_BY_MACRO``), sorted."""
    relations: set[str] = set()
    for unique_id in unique_ids:
        macros = ((manifest.get("nodes", {}).get(unique_id) or {}).get("depends_on") or {}).get(
            "macros", []
        )
        relations.update(LOOKED_UP_BY_MACRO[m] for m in macros if m in LOOKED_UP_BY_MACRO)
        for parent in manifest.get("parent_map", {}).get(unique_id, []):
            if parent.startswith("source."):
                source = manifest["sources"][parent]
                relations.add(f"{source['schema']}.{source.get('identifier') or source['name']}")
    return sorted(relations)


def duckdb_copies(manifest: Mapping[str, Any], unique_ids: Iterable[str]) -> list[str]:
    """The built models and seeds (``schema.table``) marked ``meta.stratum.read_in_duckdb``."""
    relations: set[str] = set()
    for unique_id in unique_ids:
        node = manifest.get("nodes", {}).get(unique_id)
        if node is None or node.get("resource_type") not in {"model", "seed"}:
            continue
        meta = (node.get("config") or {}).get("meta") or node.get("meta") or {}
        if (meta.get("stratum") or {}).get("read_in_duckdb"):
            relations.add(f"{node['schema']}.{node.get('alias') or node['name']}")
    return sorted(relations)
