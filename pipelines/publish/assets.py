"""Dagster wrapper of the publish step."""

from dagster import AssetExecutionContext, AssetKey, MaterializeResult, MetadataValue, asset

from pipelines.metadata import markdown_table
from pipelines.partitions import AS_OF_PARTITIONS
from pipelines.publish.snapshot import publish
from pipelines.publish.summary import tier_summary
from pipelines.resources import Warehouse
from pipelines.run_context import RunContextResource
from pipelines.settings import get_paths


@asset(
    key=AssetKey(["publish", "tier_snapshot"]),
    deps=[
        AssetKey(["tiers", "published_customer_tier"]),
        AssetKey(["tiers", "customer_tier"]),
        AssetKey(["tiers", "tier_kpis"]),
        AssetKey(["identity", "account_matches"]),
        AssetKey(["tiers", "tier_backtest"]),
    ],
    group_name="publish",
    partitions_def=AS_OF_PARTITIONS,
    description=(
        "Publishes the run's tiers as an immutable Parquet snapshot keyed by as-of date and run, "
        "and rebuilds the read-only serving DuckDB (customer_tier_current = the in-force "
        "snapshot of the latest as-of date; customer_tier_history and tier_snapshots in as-of "
        "order), swapped in atomically so BI readers never see a half-written state."
    ),
)
def tier_snapshot(
    context: AssetExecutionContext, warehouse: Warehouse, run: RunContextResource
) -> MaterializeResult:
    ctx = run.ctx
    paths = get_paths()
    with warehouse.connect() as con:
        info, counts, history = publish(con, paths.serving_dir, paths.serving_db, ctx)
        summary = tier_summary(
            con, f"read_parquet('{(paths.serving_dir / info.parquet_path).as_posix()}')"
        )
    context.log.info("Published snapshot %s (%s rows)", info.snapshot_id, info.row_count)
    return MaterializeResult(
        metadata={
            "snapshot_id": info.snapshot_id,
            "as_of_date": info.as_of_date,
            "row_count": MetadataValue.int(info.row_count),
            "policy_version": info.policy_version,
            "rules_version": info.rules_version,
            "code_version": info.code_version,
            "snapshot_path": MetadataValue.path(str(paths.serving_dir / info.parquet_path)),
            "parquet_sha256": info.parquet_sha256,
            "serving_db": MetadataValue.path(str(paths.serving_db)),
            "serving_tables": MetadataValue.json(counts),
            # extended: the tier history grew by this snapshot's day; rebuilt: from every snapshot
            "serving_history": history,
            "tier_summary": MetadataValue.md(markdown_table(summary)),
        }
    )


publish_assets = [tier_snapshot]
