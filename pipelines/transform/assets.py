"""dbt models as Dagster assets: ``dbt build`` in two parts around the identity matching asset.

Asset keys are the dbt names (``["customer_360"]``, ``["group_360"]``, ``["orders"]``...);
sources map to the ingestion assets ``["raw", <entity>]`` through ``meta.dagster.asset_key`` in
``_raw__sources.yml``. Downstream assets depend on models with
``get_asset_key_for_model([dbt_models], "customer_360")``.

No ``from __future__ import annotations`` here: Dagster inspects the real ``context`` type.
"""

import json
import shutil
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from dagster import (
    AssetCheckSpec,
    AssetExecutionContext,
    AssetKey,
    AssetObservation,
    AssetSpec,
    MetadataValue,
    Output,
)
from dagster_dbt import DagsterDbtTranslator, DbtCliResource, DbtProject, dbt_assets

from pipelines.partitions import AS_OF_PARTITIONS
from pipelines.resources import Warehouse
from pipelines.run_context import RunContext, RunContextResource
from pipelines.settings import dbt_environment
from pipelines.transform.metadata import (
    count_relation_rows,
    customer_360_summary,
    relations_for,
    summary_markdown,
)
from pipelines.transform.project import stratum_dbt_project

GROUP_NAME = "transform"


class StratumDbtTranslator(DagsterDbtTranslator):
    """Keys = dbt node names (sources via meta), all dbt assets in the ``transform`` group."""

    def get_asset_spec(
        self, manifest: Mapping[str, Any], unique_id: str, project: DbtProject | None
    ) -> AssetSpec:
        spec = super().get_asset_spec(manifest, unique_id, project)
        if unique_id.startswith("source."):
            return spec
        # dagster-dbt prefixes the configured schema (["marts", "customer_360"]); the project
        # agreed on bare model names, which are unique across the dbt project anyway.
        name = self.get_resource_props(manifest, unique_id)["name"]
        return spec.replace_attributes(key=AssetKey(name), group_name=GROUP_NAME)

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


def _dbt_executable() -> str:
    # The dbt next to this interpreter (the project's virtualenv), even when it is not on PATH.
    local = Path(sys.executable).parent / "dbt"
    return str(local) if local.exists() else (shutil.which("dbt") or "dbt")


def dbt_resource() -> DbtCliResource:
    """The dbt CLI resource (resource key ``"dbt"``) for ``dbt_models``."""
    return DbtCliResource(
        project_dir=stratum_dbt_project,
        profiles_dir=str(stratum_dbt_project.profiles_dir),
        dbt_executable=_dbt_executable(),
    )


SNAPSHOT_NODE = "account_attributes_snapshot"
# The dbt project runs in two parts with the matching asset (pipelines/identity) between them:
# staging and the seeds it (and the matcher) reads first, then everything from the identity
# models on, which read the matcher's output as the dbt source ``identity.account_identity``.
# The tag_rules seed goes with the marts so its glossary test stays a check of customer_360.
STAGING_SELECT = "china_regions industry_map staging"


def dbt_build_args(ctx: RunContext, latest_snapshot_as_of: str | None) -> list[str]:
    """``dbt build`` arguments for the run: its context as ``--vars``; the SCD2 attribute
    snapshot left out when the run is for a date before the latest change it recorded (a
    backfill), because its versions only move forward in business time. "buildable" indirect
    selection: a test runs in the part that builds all of its parents (the tag glossary test,
    seed + customer_360, runs with the marts, not with the seeds)."""
    args = ["build", "--vars", json.dumps(ctx.dbt_vars(), sort_keys=True)]
    args += ["--indirect-selection", "buildable"]
    if latest_snapshot_as_of is not None and ctx.as_of.isoformat() < latest_snapshot_as_of:
        args += ["--exclude", SNAPSHOT_NODE]
    return args


def _latest_snapshot_as_of(warehouse: Warehouse) -> str | None:
    with warehouse.connect(read_only=True) as con:
        exists = con.execute(
            "select count(*) from information_schema.tables "
            "where table_schema = 'snapshots' and table_name = ?",
            [SNAPSHOT_NODE],
        ).fetchone()[0]
        if not exists:
            return None
        latest = con.execute(
            f"select max(dbt_valid_from) from snapshots.{SNAPSHOT_NODE}"
        ).fetchone()
    return latest[0].date().isoformat() if latest and latest[0] else None


def _dbt_build(
    context: AssetExecutionContext, dbt: DbtCliResource, warehouse: Warehouse, ctx: RunContext
) -> Iterator[Any]:
    """The one dbt invocation of both dbt asset definitions: ``dbt build`` of the selected
    part for the run's as-of date (``--vars``, never read from the environment), then row
    counts (and the profile summary when customer_360 was built)."""
    args = dbt_build_args(ctx, _latest_snapshot_as_of(warehouse))
    built: dict[str, AssetKey] = {}
    # dbt reads the warehouse path from the environment (profiles.yml), set for the
    # duration of the invocation only.
    with dbt_environment() as env:
        context.log.info(f"dbt {' '.join(args)} against {env['STRATUM_WAREHOUSE']}")
        invocation = dbt.cli(args, context=context)
        for event in invocation.stream():
            if isinstance(event, Output) and "unique_id" in event.metadata:
                built[event.metadata["unique_id"].value] = context.asset_key_for_output(
                    event.output_name
                )
            yield event

    # After dbt has exited (and released the DuckDB file): row counts and a profile summary.
    relations = relations_for(invocation.manifest, built)
    with warehouse.connect(read_only=True) as con:
        counts = count_relation_rows(con, relations)
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


@dbt_assets(
    manifest=stratum_dbt_project.manifest_path,
    project=stratum_dbt_project,
    dagster_dbt_translator=StratumDbtTranslator(),
    partitions_def=AS_OF_PARTITIONS,
    select=STAGING_SELECT,
    name="dbt_staging_models",
)
def dbt_staging_models(
    context: AssetExecutionContext,
    dbt: DbtCliResource,
    warehouse: Warehouse,
    run: RunContextResource,
) -> Iterator[Any]:
    """``dbt build`` of the seeds and staging views (cleaning) with their tests."""
    yield from _dbt_build(context, dbt, warehouse, run.ctx)


@dbt_assets(
    manifest=stratum_dbt_project.manifest_path,
    project=stratum_dbt_project,
    dagster_dbt_translator=StratumDbtTranslator(),
    partitions_def=AS_OF_PARTITIONS,
    exclude=STAGING_SELECT,
)
def dbt_models(
    context: AssetExecutionContext,
    dbt: DbtCliResource,
    warehouse: Warehouse,
    run: RunContextResource,
) -> Iterator[Any]:
    """``dbt build`` from identity on: golden accounts, tree, marts, the SCD2 snapshot and
    all tests, for the run's as-of date."""
    yield from _dbt_build(context, dbt, warehouse, run.ctx)
