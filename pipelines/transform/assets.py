"""dbt models as Dagster assets: a few ``dbt build`` selections per run, one way to run them.

The project is built in steps around the Python stages that sit between its models:

- ``dbt_staging_models``: the seeds and staging models (cleaning) the identity matching asset
  (pipelines/identity) reads, with their tests;
- ``dbt_models``: from the identity models on (they read the matcher's output as the source
  ``identity.account_identity``): golden accounts, tree, marts, the SCD2 snapshot and their
  tests;
- ``dbt_feature_models`` (``models/features``): the point-in-time feature layer, a step of its
  own so that the profile's blocking volume check (on ``customer_360``) stands between the
  profile and everything scored from it: Dagster holds back only the direct dependents of a
  checked asset, and the score assets read the features, not the profile;
- ``dbt_score_models`` (tag ``after_scores``): ``scores.account_scores`` over the Python score
  tables (source ``scores``);
- ``dbt_publish_models`` (tag ``after_tiers``): ``tiers.published_customer_tier``, the rows a
  snapshot publishes, over the tier step's table (source ``tiers``).

Every selection runs through :func:`run_dbt_build` with the run's context as ``--vars``.
Asset keys are the dbt names (``["customer_360"]``, ``["account_features"]``...) unless a node
sets ``meta.dagster.asset_key`` (sources ``["raw", <entity>]``, ``["scores", <name>]``...,
models such as ``["scores", "account_scores"]``).

No ``from __future__ import annotations`` here: Dagster inspects the real ``context`` type.
"""

import json
import os
from collections.abc import Iterator, Mapping
from typing import Any

from dagster import (
    AssetCheckSpec,
    AssetExecutionContext,
    AssetKey,
    AssetObservation,
    AssetsDefinition,
    AssetSpec,
    MetadataValue,
    Output,
)
from dagster_dbt import DagsterDbtTranslator, DbtCliResource, DbtProject, dbt_assets
from dagster_dbt.asset_utils import get_manifest_and_translator_from_dbt_assets

from pipelines import warehouse as wh
from pipelines.partitions import AS_OF_PARTITIONS
from pipelines.resources import Warehouse
from pipelines.run_context import RunContext, RunContextResource
from pipelines.settings import dbt_environment, dbt_unit_tests_in_runs, engine
from pipelines.transform.engines import UNIQUE_ID_KEY, duckdb_copies, source_relations
from pipelines.transform.metadata import (
    count_relation_rows,
    customer_360_summary,
    relations_for,
    summary_markdown,
)
from pipelines.transform.project import stratum_dbt_project
from pipelines.transform.resource import StratumDbtCliResource, dbt_executable
from pipelines.transform.targets import prune_run_targets, run_target_path

GROUP_NAME = "transform"


class StratumDbtTranslator(DagsterDbtTranslator):
    """Keys = dbt node names (sources via meta), all dbt assets in the ``transform`` group."""

    def get_asset_spec(
        self, manifest: Mapping[str, Any], unique_id: str, project: DbtProject | None
    ) -> AssetSpec:
        spec = super().get_asset_spec(manifest, unique_id, project)
        if unique_id.startswith("source."):
            return spec
        props = self.get_resource_props(manifest, unique_id)
        dagster_meta = (props.get("config", {}).get("meta") or props.get("meta") or {}).get(
            "dagster", {}
        )
        group = dagster_meta.get("group", GROUP_NAME)
        if dagster_meta.get("asset_key"):
            return spec.replace_attributes(group_name=group)
        # dagster-dbt prefixes the configured schema (["marts", "customer_360"]); the project
        # agreed on bare model names, which are unique across the dbt project anyway.
        return spec.replace_attributes(key=AssetKey(props["name"]), group_name=group)

    def get_asset_check_spec(
        self,
        asset_spec: AssetSpec,
        manifest: Mapping[str, Any],
        unique_id: str,
        project: DbtProject | None,
    ) -> AssetCheckSpec | None:
        spec = super().get_asset_check_spec(asset_spec, manifest, unique_id, project)
        # dbt tests judge one as-of date's build: partitioned like the models they test, so
        # each result is recorded for the run's partition.
        return None if spec is None else spec._replace(partitions_def=AS_OF_PARTITIONS)


def dbt_resource() -> DbtCliResource:
    """The dbt CLI resource (resource key ``"dbt"``) for ``dbt_models``."""
    return StratumDbtCliResource(
        project_dir=stratum_dbt_project,
        profiles_dir=str(stratum_dbt_project.profiles_dir),
        dbt_executable=dbt_executable(),
    )


SNAPSHOT_NODE = "account_attributes_snapshot"
# The dbt project runs in two parts with the matching asset (pipelines/identity) between them:
# staging and the seeds it (and the matcher) reads first, then everything from the identity
# models on, which read the matcher's output as the dbt source ``identity.account_identity``.
# The tag_rules seed goes with the marts so its glossary test stays a check of customer_360.
STAGING_SELECT = "china_regions industry_map staging"
FEATURES_SELECT = "path:models/features"


def dbt_build_args(
    ctx: RunContext,
    latest_snapshot_as_of: str | None,
    spark_sources: Mapping[str, str] | None = None,
) -> list[str]:
    """``dbt build`` arguments for the run: its context as ``--vars``; the SCD2 attribute
    snapshot left out when the run is for a date before the latest change it recorded (a
    backfill), because its versions only move forward in business time. "buildable" indirect
    selection: a test runs in the part that builds all of its parents (the tag glossary test,
    seed + customer_360, runs with the marts, not with the seeds). The project's dbt unit tests
    are left out unless ``STRATUM_DBT_UNIT_TESTS=1`` (:func:`dbt_unit_tests_in_runs`).

    On the Spark engine (``spark_sources``: source relation -> its Parquet export) the target
    is ``spark`` and the exports are the ``external_sources`` var; the snapshot is built there
    too, by the project's own materialization (dbt_project/macros/snapshot_without_merge.sql)."""
    dbt_vars = ctx.dbt_vars()
    if spark_sources is not None:
        dbt_vars = {**dbt_vars, "external_sources": dict(sorted(spark_sources.items()))}
    args = ["build", "--vars", json.dumps(dbt_vars, sort_keys=True)]
    args += ["--indirect-selection", "buildable"]
    # dbt's own DBT_EXCLUDE_RESOURCE_TYPES, when set, decides instead (a flag would override it).
    if not dbt_unit_tests_in_runs() and "DBT_EXCLUDE_RESOURCE_TYPES" not in os.environ:
        args += ["--exclude-resource-type", "unit_test"]
    if spark_sources is not None:
        args += ["--target", "spark"]
    if latest_snapshot_as_of is not None and ctx.as_of.isoformat() < latest_snapshot_as_of:
        args += ["--exclude", SNAPSHOT_NODE]
    return args


def _latest_snapshot_as_of(warehouse: Warehouse) -> str | None:
    """The as-of date of the latest version the snapshot recorded, from the engine's table:
    on Spark its Parquet files (DuckDB may hold a table of an earlier DuckDB-engine run)."""
    relation = f"snapshots.{SNAPSHOT_NODE}"
    if engine() == "spark":
        from pipelines.spark.exchange import column_max

        latest = column_max(relation, "dbt_valid_from")
    else:
        with warehouse.connect(read_only=True) as con:
            if not wh.table_exists(con, relation):
                return None
            latest = con.execute(f"select max(dbt_valid_from) from {relation}").fetchone()[0]
    return latest.date().isoformat() if latest else None


def run_dbt_build(
    context: AssetExecutionContext, dbt: DbtCliResource, warehouse: Warehouse, ctx: RunContext
) -> Iterator[Any]:
    """``dbt build`` of the asset's selection for the run's as-of date (its context passed as
    ``--vars``, never read from the environment) on the configured engine; then row counts and,
    when customer_360 was built, a profile summary as observations."""
    on_spark = engine() == "spark"
    spark_sources = _export_sources(context, warehouse) if on_spark else None
    args = dbt_build_args(ctx, _latest_snapshot_as_of(warehouse), spark_sources)
    built: dict[str, AssetKey] = {}
    # dbt reads the warehouse path from the environment (profiles.yml), set for the
    # duration of the invocation only.
    with dbt_environment() as env:
        where = env.get("STRATUM_SPARK_DIR") if on_spark else env["STRATUM_WAREHOUSE"]
        context.log.info(f"dbt {' '.join(args)} against {where}")
        prune_run_targets(stratum_dbt_project.project_dir)
        invocation = dbt.cli(args, context=context, target_path=run_target_path(context.run_id))
        for event in invocation.stream():
            if isinstance(event, Output) and "unique_id" in event.metadata:
                built[event.metadata["unique_id"].value] = context.asset_key_for_output(
                    event.output_name
                )
            yield event
    # After dbt has exited (and released the DuckDB file or the Spark metastore).
    if on_spark:
        _copy_back(context, warehouse, invocation.manifest, built)
    yield from _observations(context, warehouse, relations_for(invocation.manifest, built), built)


def _export_sources(context: AssetExecutionContext, warehouse: Warehouse) -> dict[str, str]:
    """Spark engine: the DuckDB tables the selected models read as sources, as Parquet."""
    from pipelines.spark.exchange import export_tables

    manifest = get_manifest_and_translator_from_dbt_assets([context.assets_def])[0]
    unique_ids = [
        context.assets_def.get_asset_spec(key).metadata[UNIQUE_ID_KEY]
        for key in context.selected_asset_keys
    ]
    with warehouse.connect(read_only=True) as con:
        exported = export_tables(con, source_relations(manifest, unique_ids))
    context.log.info(f"exported for Spark: {', '.join(exported) or 'nothing'}")
    return exported


def _copy_back(
    context: AssetExecutionContext,
    warehouse: Warehouse,
    manifest: Mapping[str, Any],
    built: Mapping[str, AssetKey],
) -> None:
    """Spark engine: the built models the single-node stages read, into DuckDB (Arrow)."""
    from pipelines.spark.exchange import copy_to_duckdb

    relations = duckdb_copies(manifest, built)
    if relations:
        with warehouse.connect() as con:
            rows = copy_to_duckdb(con, relations)
        context.log.info(f"copied to DuckDB: {rows}")


def _observations(
    context: AssetExecutionContext,
    warehouse: Warehouse,
    relations: dict[str, str],
    built: dict[str, AssetKey],
) -> Iterator[AssetObservation]:
    with warehouse.connect(read_only=True) as con:
        counts = _row_counts(con, relations)
        summary = customer_360_summary(con) if AssetKey("customer_360") in built.values() else None
    for unique_id, rows in counts.items():
        metadata: dict[str, Any] = {"dagster/row_count": rows}
        if summary is not None and built[unique_id] == AssetKey("customer_360"):
            metadata["profile_summary"] = MetadataValue.md(summary_markdown(summary))
            metadata["golden_accounts"] = summary["golden_accounts"]
            metadata["source_records"] = summary["source_records"]
        yield AssetObservation(
            asset_key=built[unique_id], metadata=metadata, partition=context.partition_key
        )


def _row_counts(con: Any, relations: dict[str, str]) -> dict[str, int]:
    if engine() == "spark":  # the tables are Spark's; DuckDB may hold stale ones
        from pipelines.spark.exchange import count_rows

        return count_rows(relations)
    return count_relation_rows(con, relations)


def build_dbt_assets(name: str, select: str, exclude: str | None = None) -> AssetsDefinition:
    """One ``@dbt_assets`` selection of the project, built by :func:`run_dbt_build`."""

    @dbt_assets(
        manifest=stratum_dbt_project.manifest_path,
        project=stratum_dbt_project,
        dagster_dbt_translator=StratumDbtTranslator(),
        partitions_def=AS_OF_PARTITIONS,
        select=select,
        exclude=exclude,
        name=name,
    )
    def _dbt_assets(
        context: AssetExecutionContext,
        dbt: DbtCliResource,
        warehouse: Warehouse,
        run: RunContextResource,
    ) -> Iterator[Any]:
        yield from run_dbt_build(context, dbt, warehouse, run.ctx)

    return _dbt_assets


AFTER_SCORES = "tag:after_scores"
AFTER_TIERS = "tag:after_tiers"

# Seeds and staging, before the identity matching asset.
dbt_staging_models = build_dbt_assets("dbt_staging_models", STAGING_SELECT)
# From the identity models to the marts.
dbt_models = build_dbt_assets(
    "dbt_models",
    "fqn:*",
    exclude=f"{STAGING_SELECT} {FEATURES_SELECT} {AFTER_SCORES} {AFTER_TIERS}",
)
# The feature layer, after the profile's volume gate.
dbt_feature_models = build_dbt_assets("dbt_feature_models", FEATURES_SELECT)
# scores.account_scores, over the Python score tables.
dbt_score_models = build_dbt_assets("dbt_score_models", AFTER_SCORES)
# tiers.published_customer_tier, over the tier step's table.
dbt_publish_models = build_dbt_assets("dbt_publish_models", AFTER_TIERS)

transform_assets = [
    dbt_staging_models,
    dbt_models,
    dbt_feature_models,
    dbt_score_models,
    dbt_publish_models,
]
