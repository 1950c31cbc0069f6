"""Dagster wrappers of the ingestion: one ``raw/<entity>`` asset per source, plus checks.

The work is in ``loader.load_entity``; these functions only resolve paths and settings at
run time, open the warehouse, and turn the :class:`LoadReport` into metadata and checks.
"""

# No `from __future__ import annotations`: Dagster inspects the resource parameter's type.

from collections.abc import Sequence

import duckdb
from dagster import (
    AssetCheckExecutionContext,
    AssetCheckResult,
    AssetChecksDefinition,
    AssetCheckSeverity,
    AssetExecutionContext,
    AssetKey,
    AssetsDefinition,
    Failure,
    MaterializeResult,
    MetadataValue,
    asset,
    asset_check,
)

from pipelines.ingest.contracts import get_contract
from pipelines.ingest.loader import LoadReport, ensure_raw_schema, load_entity
from pipelines.partitions import AS_OF_PARTITIONS, business_today
from pipelines.resources import Warehouse
from pipelines.run_context import RunContextResource
from pipelines.settings import ENTITIES, get_paths

ACCOUNTS_KEY = AssetKey(["raw", "crm_accounts"])


def raw_asset_key(entity: str) -> AssetKey:
    """``AssetKey(["raw", entity])``: the key dbt sources map to."""
    return AssetKey(["raw", entity])


def _md_table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    def cell(v: object) -> str:
        return str(v).replace("|", "\\|").replace("\n", " ")

    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def report_metadata(report: LoadReport, table_rows: int | None = None) -> dict[str, object]:
    """Asset metadata for a :class:`LoadReport` (counts, reasons, files, unknown columns)."""
    reasons = report.reason_counts
    files = [
        (
            f.path,
            f.status,
            f.sha256,
            f.rows_read,
            f.rows_loaded,
            f.rows_quarantined,
            f.loaded_at.isoformat(sep=" ", timespec="seconds") if f.loaded_at else "",
            f.error or (f"already loaded as {f.loaded_as}" if f.loaded_as else ""),
        )
        for f in report.files
    ]
    meta: dict[str, object] = {
        "files_loaded": len(report.loaded),
        "files_skipped": len(report.skipped),
        "files_failed": len(report.failed),
        "rows_read": report.rows_read,
        "rows_loaded": report.rows_loaded,
        "rows_quarantined": report.rows_quarantined,
        "unknown_columns": MetadataValue.json(report.unknown_columns),
        "quarantine_reasons": MetadataValue.md(
            _md_table(["reason", "rows"], list(reasons.items()))
            if reasons
            else "No rows quarantined."
        ),
        "source_files": MetadataValue.md(
            _md_table(
                ["file", "status", "sha256", "read", "loaded", "quarantined", "loaded_at", "note"],
                files,
            )
            if files
            else "No files in the landing folder."
        ),
    }
    if table_rows is not None:
        meta["dagster/row_count"] = table_rows
    return meta


def _build_raw_asset(entity: str) -> AssetsDefinition:
    contract = get_contract(entity)
    deps = [ACCOUNTS_KEY] if contract.references_account else []

    @asset(
        key=raw_asset_key(entity),
        group_name="raw",
        deps=deps,
        kinds={"duckdb"},
        partitions_def=AS_OF_PARTITIONS,
        description=(
            f"Append-only history of every valid `{entity}` row from "
            f"`landing/{entity}/` (see docs/data-contract.md); bad rows go to raw._quarantine."
        ),
    )
    def _raw_asset(
        context: AssetExecutionContext, warehouse: Warehouse, run: RunContextResource
    ) -> MaterializeResult:
        source = run.ctx.config.source_settings[entity]
        landing_dir = get_paths().landing_dir
        # Dates are checked against the day of loading, not the run's as-of date: a backfill
        # for a past date loads today's files, and dbt picks what was true on the as-of date.
        with warehouse.connect() as con:
            report = load_entity(con, entity, landing_dir, context.run_id, business_today(), source)
            table_rows = con.execute(f'SELECT count(*) FROM raw."{entity}"').fetchone()[0]
        metadata = report_metadata(report, table_rows)
        for f in report.failed:
            context.log.error(f.error)
        if report.failed:
            # The readable files are committed; the broken ones stay unloaded until fixed.
            raise Failure(
                description=f"{len(report.failed)} unreadable file(s) in landing/{entity}: "
                + "; ".join(f.error or f.path for f in report.failed),
                metadata=metadata,
            )
        return MaterializeResult(metadata=metadata)

    return _raw_asset


def _evaluated_run(con: duckdb.DuckDBPyConnection, entity: str, run_id: str) -> str | None:
    """The run whose files a check judges: this run if it loaded files, else the latest."""
    row = con.execute(
        "SELECT run_id FROM raw._file_manifest WHERE entity = ? "
        "ORDER BY (run_id = ?) DESC, loaded_at DESC LIMIT 1",
        [entity, run_id],
    ).fetchone()
    return row[0] if row else None


def reconcile(con: duckdb.DuckDBPyConnection, entity: str, run_id: str) -> list[tuple]:
    """Per manifest file of ``run_id``: (path, read, loaded, quarantined, rows in raw table,
    rows in quarantine). A file reconciles when read = loaded + quarantined and both counts
    match the tables."""
    return con.execute(
        f"""
        WITH m AS (SELECT * FROM raw._file_manifest WHERE entity = $entity AND run_id = $run),
        r AS (SELECT _sha256, count(*) AS n FROM raw."{entity}" WHERE _run_id = $run GROUP BY 1),
        q AS (
            SELECT source_file, count(*) AS n FROM raw._quarantine
            WHERE entity = $entity AND run_id = $run GROUP BY 1
        )
        SELECT m.path, m.rows_read, m.rows_loaded, m.rows_quarantined,
               coalesce(r.n, 0), coalesce(q.n, 0)
        FROM m LEFT JOIN r ON r._sha256 = m.sha256 LEFT JOIN q ON q.source_file = m.path
        ORDER BY m.path
        """,
        {"entity": entity, "run": run_id},
    ).fetchall()


def _build_checks(entity: str) -> list[AssetChecksDefinition]:
    key = raw_asset_key(entity)

    @asset_check(
        asset=key,
        name="reconciliation",
        blocking=True,
        partitions_def=AS_OF_PARTITIONS,
        description="Every file of the run: rows read = loaded + quarantined, and both counts "
        "match raw and raw._quarantine.",
    )
    def _reconciliation(
        context: AssetCheckExecutionContext, warehouse: Warehouse
    ) -> AssetCheckResult:
        with warehouse.connect() as con:
            ensure_raw_schema(con)
            run = _evaluated_run(con, entity, context.run.run_id)
            rows = reconcile(con, entity, run) if run else []
            # The whole history must add up too (cheap: one row per file).
            broken_history = con.execute(
                "SELECT count(*) FROM raw._file_manifest WHERE entity = ? "
                "AND rows_read <> rows_loaded + rows_quarantined",
                [entity],
            ).fetchone()[0]
        bad = [r for r in rows if r[1] != r[2] + r[3] or r[2] != r[4] or r[3] != r[5]]
        return AssetCheckResult(
            passed=not bad and broken_history == 0,
            severity=AssetCheckSeverity.ERROR,
            metadata={
                "evaluated_run": run or "",
                "files_checked": len(rows),
                "files_not_reconciling": len(bad),
                "manifest_rows_not_adding_up": broken_history,
                "files": MetadataValue.md(
                    _md_table(
                        ["file", "read", "loaded", "quarantined", "in raw", "in quarantine"],
                        rows,
                    )
                    if rows
                    else "No files loaded."
                ),
            },
        )

    @asset_check(
        asset=key,
        name="quarantine_rate",
        blocking=True,
        partitions_def=AS_OF_PARTITIONS,
        description="Quarantined / read rows of the run's files stay under the threshold "
        "of config/sources.yaml (severity from there too).",
    )
    def _quarantine_rate(
        context: AssetCheckExecutionContext, warehouse: Warehouse, run: RunContextResource
    ) -> AssetCheckResult:
        source = run.ctx.config.source_settings[entity]
        with warehouse.connect() as con:
            ensure_raw_schema(con)
            run = _evaluated_run(con, entity, context.run.run_id)
            read, quarantined = con.execute(
                "SELECT coalesce(sum(rows_read), 0), coalesce(sum(rows_quarantined), 0) "
                "FROM raw._file_manifest WHERE entity = ? AND run_id = ?",
                [entity, run],
            ).fetchone()
        rate = quarantined / read if read else 0.0
        return AssetCheckResult(
            passed=rate <= source.quarantine_rate_threshold,
            severity=AssetCheckSeverity(source.severity),
            metadata={
                "evaluated_run": run or "",
                "rows_read": int(read),
                "rows_quarantined": int(quarantined),
                "quarantine_rate": float(rate),
                "threshold": source.quarantine_rate_threshold,
            },
        )

    return [_reconciliation, _quarantine_rate]


raw_assets: list[AssetsDefinition] = [_build_raw_asset(e) for e in ENTITIES]
raw_checks: list[AssetChecksDefinition] = [c for e in ENTITIES for c in _build_checks(e)]
