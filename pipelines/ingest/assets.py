"""Dagster wrapper of the ingestion: one step that materializes every ``raw/<entity>`` asset.

The work is in ``loader.load_entities``: entities load in contract order (accounts first, so
orders can check their account), each file in its own transaction. One step for all entities
means an unreadable file of one entity never stops another's files from loading: it fails the
entity's blocking ``files_readable`` check (``checks.py``) instead, which keeps dbt and
everything downstream from running on a partial delivery. The asset is subsettable, so one
entity can still be materialized alone.

The same step carries out erasure requests and retention (``privacy/erasure_log``,
``privacy/retention_log``; :mod:`pipelines.privacy.lifecycle`) right after loading, so dbt and
the quality gates never read an erased person's data, whatever the gates decide.

A rerun of a date that loads no new file and changes nothing for privacy, when the snapshot in
force for that date was built from exactly the same inputs (:mod:`pipelines.run_inputs`),
materializes no raw asset: every step after it is skipped and nothing new is published. Run
config ``resources.run.config.rebuild: true`` (``make run REBUILD=1``) rebuilds anyway.
"""

# No `from __future__ import annotations`: Dagster inspects the resource parameter's type.

from collections.abc import Iterator
from datetime import datetime
from zoneinfo import ZoneInfo

from dagster import (
    AssetExecutionContext,
    AssetKey,
    AssetsDefinition,
    AssetSpec,
    MaterializeResult,
    multi_asset,
)
from duckdb import DuckDBPyConnection

from pipelines.ingest.checks import raw_checks
from pipelines.ingest.contracts import CONTRACT_TIMEZONE, get_contract
from pipelines.ingest.loader import load_entities
from pipelines.ingest.manifest import LoadReport
from pipelines.ingest.metadata import load_plot_metadata, raw_asset_key, report_metadata
from pipelines.partitions import AS_OF_PARTITIONS
from pipelines.privacy import lifecycle
from pipelines.privacy.assets import (
    PRIVACY_CHECK_SPECS,
    PRIVACY_KEYS,
    PRIVACY_SPECS,
    privacy_results,
)
from pipelines.resources import Warehouse
from pipelines.run_context import RunContextResource
from pipelines.run_inputs import QUIET_STATUSES, current_inputs, record_inputs, unchanged_snapshot
from pipelines.settings import LANDING_ENTITIES, Paths, get_paths

ACCOUNTS_KEY = AssetKey(["raw", "crm_accounts"])
# Set on a run that found nothing to rebuild: the snapshot in force that it left in place.
UNCHANGED_TAG = "stratum/unchanged_snapshot"
__all__ = ["ACCOUNTS_KEY", "raw_asset_key", "raw_assets", "raw_checks", "raw_ingest"]


def load_time_now() -> datetime:
    """The load time that bounds dates and timestamps: now, in the contract's zone."""
    return datetime.now(ZoneInfo(CONTRACT_TIMEZONE))


def _spec(entity: str) -> AssetSpec:
    return AssetSpec(
        raw_asset_key(entity),
        group_name="raw",
        deps=[ACCOUNTS_KEY] if get_contract(entity).references_account else [],
        kinds={"duckdb"},
        # Not materialized when nothing changed since the date's snapshot: the rest is skipped.
        skippable=True,
        description=(
            f"Append-only history of every valid `{entity}` row from `landing/{entity}/` "
            "(see docs/data-contract.md); bad rows go to raw._quarantine, every file of the "
            "folder to raw._file_manifest."
        ),
    )


def _log(context: AssetExecutionContext, report: LoadReport) -> None:
    for f in report.with_status("failed", "deferred"):
        context.log.error(f"{report.entity}: {f.note}" if f.status == "deferred" else f.note)
    for f in report.with_status("ignored"):
        context.log.warning(f"{f.path}: not read: {f.note}")
    for warning in report.warnings:
        context.log.warning(warning)


def _privacy_changed(report: lifecycle.PrivacyReport | None) -> bool:
    """Whether this run's privacy work changed data (a request, an erasure, a purge)."""
    if report is None:
        return False
    return bool(
        report.registration.registered
        or report.sweep.counts
        or report.landing_removed
        or any(r.rows_purged for r in report.retention)
    )


def _unchanged_snapshot(
    con: DuckDBPyConnection,
    run: RunContextResource,
    reports: list[LoadReport],
    privacy: lifecycle.PrivacyReport | None,
    paths: Paths,
) -> str | None:
    """The id of the date's in-force snapshot when this run would rebuild it unchanged
    (:mod:`pipelines.run_inputs`); else None, after recording what the run builds from."""
    inputs = current_inputs(con, run.ctx, paths.snapshots_dir)
    quiet = all(f.status in QUIET_STATUSES for r in reports for f in r.files)
    found = None
    if quiet and not _privacy_changed(privacy) and not run.rebuild:
        found = unchanged_snapshot(con, inputs, paths.snapshots_dir, paths.serving_db)
    if found is None:
        record_inputs(con, run.ctx, inputs)
    return found.snapshot_id if found else None


def _skip_unchanged(context: AssetExecutionContext, snapshot_id: str) -> None:
    context.log.info(
        f"No new landing file, and snapshot {snapshot_id} in force for this date was built "
        "from the same files, configuration, code and previous snapshot: nothing to rebuild, "
        "nothing published (run config resources.run.config.rebuild: true rebuilds anyway)."
    )
    context.instance.add_run_tags(context.run_id, {UNCHANGED_TAG: snapshot_id})


@multi_asset(
    name="raw_ingest",
    specs=[*(_spec(e) for e in LANDING_ENTITIES), *PRIVACY_SPECS],
    check_specs=PRIVACY_CHECK_SPECS,
    can_subset=True,
    partitions_def=AS_OF_PARTITIONS,
    description="Load new landing files of every selected source entity into raw.*",
)
def raw_ingest(
    context: AssetExecutionContext, warehouse: Warehouse, run: RunContextResource
) -> Iterator[MaterializeResult]:
    selected = context.selected_asset_keys
    entities = [e for e in LANDING_ENTITIES if raw_asset_key(e) in selected]
    sources = run.ctx.config.source_settings
    paths, privacy = get_paths(), None
    # Dates are checked against the moment of loading, not the run's as-of date: a backfill
    # for a past date loads today's files, and dbt picks what was true on the as-of date.
    with warehouse.connect() as con:
        reports = load_entities(
            con, entities, paths.landing_dir, context.run_id, load_time_now(), sources
        )
        counts = {
            r.entity: con.execute(f'SELECT count(*) FROM raw."{r.entity}"').fetchone()[0]
            for r in reports
        }
        if PRIVACY_KEYS & selected:
            privacy = lifecycle.enforce(con, run.ctx, paths)
        unchanged = _unchanged_snapshot(con, run, reports, privacy, paths)
    if privacy is not None:  # the file is rewritten with no connection open
        lifecycle.finish(privacy, paths, context.run_id)
    if unchanged is not None:
        _skip_unchanged(context, unchanged)
        if privacy is not None:
            yield from privacy_results(privacy, set(selected))
        return
    for report in reports:
        _log(context, report)
        yield MaterializeResult(
            asset_key=raw_asset_key(report.entity),
            metadata={
                **report_metadata(report, counts[report.entity]),
                **load_plot_metadata(report),
            },
        )
    if privacy is not None:
        yield from privacy_results(privacy, set(selected))


raw_assets: list[AssetsDefinition] = [raw_ingest]
