"""The catalog around the assets: what the Dagster UI tells someone who asks about a table.

:func:`with_catalog` maps every asset spec once, when the definitions load:

* **owners and tags** of its group, from ``catalog.groups`` in ``config/pipeline.yaml``;
* **where it lives**: ``dagster/table_name`` (``stratum.<schema>.<table>`` as dbt names its
  models; the published snapshot is ``stratum_serving.main.customer_tier_current``) and, where
  a contract declares them, the columns (``dagster/column_schema``): the landing contract for
  ``raw/*``, the BI contract for the published snapshot. Score and tier tables report the
  columns they actually wrote with each materialization (:func:`table_metadata`);
* a **code version** per Python stage: a hash of the stage's code and the configuration that
  drives it, so the UI flags assets whose code or rules changed since they were built (dbt
  models keep the checksum dagster-dbt gives them);
* the **freshness policy** of the published snapshot (``freshness`` in the config);
* **links** to the dbt docs page of each dbt asset and to the Great Expectations Data Docs of
  each validated asset (``make docs`` serves both).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any

from dagster import (
    AssetKey,
    AssetsDefinition,
    AssetSpec,
    FreshnessPolicy,
    MetadataValue,
    TableColumn,
    TableSchema,
)

from pipelines import warehouse as wh
from pipelines.config.loader import load_model
from pipelines.config.pipeline import PipelineConfig
from pipelines.contracts import source_descriptions
from pipelines.ingest.contracts import CONTRACTS, META_COLUMNS
from pipelines.publish.contract import (
    CUSTOMER_TIER_COLUMNS,
    DOWNGRADE_NOTICES_COLUMNS,
    TIER_KPIS_COLUMNS,
    TIER_LEDGER_COLUMNS,
)
from pipelines.resources import Warehouse
from pipelines.settings import ENTITIES, REPO_ROOT, config_dir

PUBLISHED_KEY = AssetKey(["publish", "tier_snapshot"])
WAREHOUSE_CATALOG = "stratum"  # DuckDB names a database after its file (stratum.duckdb)
SERVING_TABLE = "stratum_serving.main.customer_tier_current"
GX_VALIDATED = {AssetKey(["raw", e]) for e in ENTITIES} | {AssetKey(["customer_360"])}

# Code and configuration behind each Python stage (paths relative to the repo / config dir).
STAGE_SOURCES: dict[str, tuple[Sequence[str], Sequence[str]]] = {
    "raw": (["pipelines/ingest/*.py"], ["sources.yaml"]),
    "privacy": (["pipelines/privacy/*.py"], ["privacy.yaml"]),
    "identity": (["pipelines/identity/*.py"], ["identity.yaml", "identity_decisions.yaml"]),
    "scoring": (["pipelines/scoring/*.py"], ["scoring/*.yaml"]),
    "tiering": (["pipelines/tiering/*.py", "pipelines/history.py"], ["tiers/default.yaml"]),
    "publish": (["pipelines/publish/*.py", "pipelines/history.py"], []),
}
# Kinds (icons in the UI) of the Python stages that do not declare their own.
STAGE_KINDS = {"scoring": ("python", "duckdb"), "publish": ("python", "parquet")}
_META_DESCRIPTIONS = {
    "_source_file": "Landing file the row came from (relative to the landing dir)",
    "_source_line": "Line (record) of the row in its file, 1-based, header included for CSV",
    "_sha256": "Content hash of the landing file",
    "_loaded_at": "When the file was loaded (UTC)",
    "_run_id": "Dagster run that loaded it",
}


def column_descriptions() -> dict[str, str]:
    """What each published or contracted column means, by column name."""
    described: dict[str, str] = dict(_META_DESCRIPTIONS)
    for columns in (
        TIER_LEDGER_COLUMNS,
        DOWNGRADE_NOTICES_COLUMNS,
        TIER_KPIS_COLUMNS,
        CUSTOMER_TIER_COLUMNS,
    ):
        described.update({name: meaning for name, _, meaning in columns})
    return described


def _declared(table: str) -> dict[str, str]:
    """Descriptions of ``schema.table``'s columns where the dbt project declares it as a
    source (scores.*, tiers.*, identity.*: written once, read through pipelines.contracts)."""
    schema, name = table.split(".")
    return {c: d for c, d in source_descriptions(schema, name).items() if d}


def raw_schema(entity: str) -> TableSchema:
    """The columns of ``raw.<entity>``: the landing contract's, typed, plus load metadata."""
    contract = CONTRACTS[entity]
    columns = [
        TableColumn(c.name, c.duckdb_type.lower(), description=_required(c.required))
        for c in contract.columns
    ]
    columns += [
        TableColumn(name, sql_type.lower(), description=_META_DESCRIPTIONS[name])
        for name, sql_type in META_COLUMNS
    ]
    return TableSchema(columns=columns)


def _required(required: bool) -> str:
    return "Required by the landing contract" if required else ""


def published_schema() -> TableSchema:
    """The columns of every published snapshot (docs/bi-contract.md)."""
    return TableSchema(
        columns=[TableColumn(n, t.lower(), description=d) for n, t, d in CUSTOMER_TIER_COLUMNS]
    )


def table_name(key: AssetKey) -> str | None:
    """Where a Python asset's data lives (dbt assets carry their own)."""
    path = key.path
    if key == PUBLISHED_KEY:
        return SERVING_TABLE
    if len(path) == 2 and path[0] in {"raw", "scores", "tiers", "privacy"}:
        return f"{WAREHOUSE_CATALOG}.{path[0]}.{path[1]}"
    return None


def table_metadata(warehouse: Warehouse, table: str) -> dict[str, Any]:
    """``dagster/table_name``, ``dagster/column_schema`` (as written, with the contracts'
    descriptions) and ``dagster/row_count`` of a warehouse table (``schema.table``), for the
    materialization of the asset that just wrote it."""
    described = {**column_descriptions(), **_declared(table)}
    with warehouse.connect() as con:
        rows = wh.column_types(con, table)
        count = wh.row_count(con, table)
    columns = [TableColumn(c, t.lower(), description=described.get(c, "")) for c, t in rows]
    return {
        "dagster/table_name": f"{WAREHOUSE_CATALOG}.{table}",
        "dagster/column_schema": TableSchema(columns=columns),
        "dagster/row_count": MetadataValue.int(int(count)),
    }


def _files(patterns: Iterable[str], root: Path) -> list[Path]:
    return sorted({p for pattern in patterns for p in root.glob(pattern) if p.is_file()})


def stage_code_versions(configs: Path | None = None) -> dict[str, str]:
    """``<group>: sha256(code + configuration)[:12]`` for each Python stage."""
    configs = configs or config_dir()
    versions = {}
    for group, (code, config) in STAGE_SOURCES.items():
        digest = hashlib.sha256()
        for path in [*_files(code, REPO_ROOT), *_files(config, configs)]:
            digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
        versions[group] = digest.hexdigest()[:12]
    return versions


def freshness_policy(cfg: PipelineConfig) -> FreshnessPolicy:
    """Fails when no snapshot was published for the configured lag; warns at 80 % of it."""
    fail = timedelta(hours=cfg.freshness.published_snapshot_max_lag_hours)
    return FreshnessPolicy.time_window(fail_window=fail, warn_window=fail * 0.8)


def _links(spec: AssetSpec, cfg: PipelineConfig) -> dict[str, Any]:
    links: dict[str, Any] = {}
    unique_id = spec.metadata.get("dagster_dbt/unique_id")
    if cfg.catalog.dbt_docs_url and isinstance(unique_id, str):
        base = str(cfg.catalog.dbt_docs_url).rstrip("/")
        links["dbt_docs"] = MetadataValue.url(f"{base}/#!/{unique_id.split('.')[0]}/{unique_id}")
    if cfg.catalog.data_docs_url and spec.key in GX_VALIDATED:
        base = str(cfg.catalog.data_docs_url).rstrip("/")
        links["data_docs"] = MetadataValue.url(f"{base}/index.html")
    return links


def _location(key: AssetKey) -> dict[str, Any]:
    name = table_name(key)
    if name is None:
        return {}
    metadata: dict[str, Any] = {"dagster/table_name": name}
    if key.path[0] == "raw" and key.path[-1] in CONTRACTS:
        metadata["dagster/column_schema"] = raw_schema(key.path[-1])
    elif key == PUBLISHED_KEY:
        metadata["dagster/column_schema"] = published_schema()
    return metadata


def _kinds(spec: AssetSpec) -> dict[str, str]:
    if any(t.startswith("dagster/kind/") for t in spec.tags):
        return {}
    return {f"dagster/kind/{k}": "" for k in STAGE_KINDS.get(spec.group_name or "", ())}


def catalog_spec(spec: AssetSpec, cfg: PipelineConfig, versions: Mapping[str, str]) -> AssetSpec:
    """``spec`` with its group's owners and tags, location, code version, links, freshness."""
    group = cfg.catalog.group(spec.group_name or "")
    return spec.replace_attributes(
        owners=sorted({*spec.owners, *group.owners}),
        tags={**group.tags, **_kinds(spec), **spec.tags},
        metadata={**_location(spec.key), **_links(spec, cfg), **spec.metadata},
        code_version=spec.code_version or versions.get(spec.group_name or ""),
        freshness_policy=freshness_policy(cfg) if spec.key == PUBLISHED_KEY else ...,
    )


def with_catalog(
    assets: Iterable[AssetsDefinition], cfg: PipelineConfig | None = None
) -> list[AssetsDefinition]:
    """Every asset definition with its catalog entry applied (see the module docstring)."""
    cfg = cfg or load_model(PipelineConfig, config_dir() / "pipeline.yaml").model
    versions = stage_code_versions()
    return [a.map_asset_specs(lambda s: catalog_spec(s, cfg, versions)) for a in assets]
