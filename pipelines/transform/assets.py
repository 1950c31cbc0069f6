"""dbt models as Dagster assets: one ``dbt build`` (seeds, models, snapshot, tests) per run.

Asset keys are the dbt names (``["customer_360"]``, ``["group_360"]``, ``["orders"]``...);
sources map to the ingestion assets ``["raw", <entity>]`` through ``meta.dagster.asset_key`` in
``_raw__sources.yml``. Downstream assets depend on models with
``get_asset_key_for_model([dbt_models], "customer_360")``.

No ``from __future__ import annotations`` here: Dagster inspects the real ``context`` type.
"""

import shutil
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from dagster import (
    AssetExecutionContext,
    AssetKey,
    AssetObservation,
    AssetSpec,
    MetadataValue,
    Output,
)
from dagster_dbt import DagsterDbtTranslator, DbtCliResource, DbtProject, dbt_assets

from pipelines.resources import Warehouse
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


@dbt_assets(
    manifest=stratum_dbt_project.manifest_path,
    project=stratum_dbt_project,
    dagster_dbt_translator=StratumDbtTranslator(),
)
def dbt_models(
    context: AssetExecutionContext, dbt: DbtCliResource, warehouse: Warehouse
) -> Iterator[Any]:
    """``dbt build``: seeds, staging, identity, tree, marts, the SCD2 snapshot and all tests."""
    # dbt reads the warehouse path and as_of date from the environment (profiles.yml); the
    # variables are set for the duration of the invocation only.
    built: dict[str, AssetKey] = {}
    with dbt_environment() as env:
        context.log.info(
            f"dbt build against {env['STRATUM_WAREHOUSE']} as of {env['STRATUM_AS_OF']}"
        )
        invocation = dbt.cli(["build"], context=context)
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
        yield AssetObservation(asset_key=built[unique_id], metadata=metadata)
