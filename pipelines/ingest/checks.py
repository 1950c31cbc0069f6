"""Asset checks of every ``raw/<entity>``, read from the manifest the ingest step wrote.

- ``files_readable`` (blocking, ERROR): no file of the entity failed or was deferred in this
  run. A partial delivery never reaches dbt; the description names file, line and reason.
- ``reconciliation`` (blocking, ERROR): per loaded file, read = loaded + quarantined, and both
  counts match the rows in ``raw.<entity>`` and ``raw._quarantine``.
- ``quarantine_rate`` (blocking, severity from config/sources.yaml): quarantined / read rows of
  each load batch, remembered across runs (``pipelines/quality/file_gates.py``).
- ``columns_populated`` (WARN): no documented column arrived absent or empty in every row of
  a loaded file (a broken export or a moved header); recorded, never blocking.
"""

# No `from __future__ import annotations`: Dagster inspects the resource parameter's type.

import duckdb
from dagster import (
    AssetCheckExecutionContext,
    AssetCheckResult,
    AssetChecksDefinition,
    AssetCheckSeverity,
    MetadataValue,
    asset_check,
)

from pipelines.ingest.manifest import ensure_raw_schema
from pipelines.ingest.metadata import md_table, raw_asset_key
from pipelines.partitions import AS_OF_PARTITIONS
from pipelines.quality.checks import run_quarantine_gate, tag_blocked_run, with_blocked_reason
from pipelines.resources import Warehouse
from pipelines.run_context import RunContextResource
from pipelines.settings import LANDING_ENTITIES


def _evaluated_run(con: duckdb.DuckDBPyConnection, entity: str, run_id: str) -> str | None:
    """The run whose loaded files a check judges: this run if it loaded files, else the
    latest that did."""
    row = con.execute(
        "SELECT run_id FROM raw._file_manifest WHERE entity = ? AND status = 'loaded' "
        "ORDER BY (run_id = ?) DESC, loaded_at DESC LIMIT 1",
        [entity, run_id],
    ).fetchone()
    return row[0] if row else None


def reconcile(con: duckdb.DuckDBPyConnection, entity: str, run_id: str) -> list[tuple]:
    """Per loaded file of ``run_id``: (path, read, loaded, quarantined, rows in raw table,
    rows in quarantine). A file reconciles when read = loaded + quarantined and both counts
    match the tables."""
    return con.execute(
        f"""
        WITH m AS (
            SELECT * FROM raw._file_manifest
            WHERE entity = $entity AND run_id = $run AND status = 'loaded'
        ),
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


def _manifest_notes(
    con: duckdb.DuckDBPyConnection, entity: str, run_id: str, statuses: tuple[str, ...]
) -> list[tuple[str, str, str]]:
    """(path, status, note) of this run's manifest rows in ``statuses`` that carry a note."""
    marks = ", ".join("?" for _ in statuses)
    return con.execute(
        f"SELECT path, status, note FROM raw._file_manifest WHERE entity = ? AND run_id = ? "
        f"AND status IN ({marks}) AND note IS NOT NULL ORDER BY path",
        [entity, run_id, *statuses],
    ).fetchall()


def _reconciliation_result(con: duckdb.DuckDBPyConnection, entity: str, run_id: str):
    run = _evaluated_run(con, entity, run_id)
    rows = reconcile(con, entity, run) if run else []
    # The whole history must add up too (cheap: one row per file).
    broken_history = con.execute(
        "SELECT count(*) FROM raw._file_manifest WHERE entity = ? AND status = 'loaded' "
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
                md_table(["file", "read", "loaded", "quarantined", "in raw", "in quarantine"], rows)
                if rows
                else "No files loaded."
            ),
        },
    )


def _notes_result(rows: list[tuple[str, str, str]], severity: AssetCheckSeverity, none: str):
    return AssetCheckResult(
        passed=not rows,
        severity=severity,
        description="; ".join(note for _, _, note in rows) or None,
        metadata={
            "files": len(rows),
            "details": MetadataValue.md(
                md_table(["file", "status", "note"], rows) if rows else none
            ),
        },
    )


def _files_readable(entity: str) -> AssetChecksDefinition:
    @asset_check(
        asset=raw_asset_key(entity),
        partitions_def=AS_OF_PARTITIONS,
        name="files_readable",
        blocking=True,
        description="No landing file of this entity failed to read (or was deferred) in the "
        "run: a partial delivery does not reach dbt. Names file, line and reason.",
    )
    def _check(context: AssetCheckExecutionContext, warehouse: Warehouse):
        with warehouse.connect() as con:
            ensure_raw_schema(con)
            rows = _manifest_notes(con, entity, context.run.run_id, ("failed", "deferred"))
        result = _notes_result(rows, AssetCheckSeverity.ERROR, "Every file was readable.")
        result = with_blocked_reason(result, f"{entity}: {result.description}")
        tag_blocked_run(context, result)
        return result

    return _check


def _columns_populated(entity: str) -> AssetChecksDefinition:
    @asset_check(
        asset=raw_asset_key(entity),
        partitions_def=AS_OF_PARTITIONS,
        name="columns_populated",
        description="No documented column was absent or empty in every row of a loaded file "
        "(a broken export or a moved header). Recorded as a warning, never blocking.",
    )
    def _check(context: AssetCheckExecutionContext, warehouse: Warehouse):
        with warehouse.connect() as con:
            ensure_raw_schema(con)
            rows = _manifest_notes(con, entity, context.run.run_id, ("loaded",))
        return _notes_result(rows, AssetCheckSeverity.WARN, "No warnings.")

    return _check


def _reconciliation(entity: str) -> AssetChecksDefinition:
    @asset_check(
        asset=raw_asset_key(entity),
        partitions_def=AS_OF_PARTITIONS,
        name="reconciliation",
        blocking=True,
        description="Every file of the run: rows read = loaded + quarantined, and both counts "
        "match raw and raw._quarantine.",
    )
    def _check(context: AssetCheckExecutionContext, warehouse: Warehouse):
        with warehouse.connect() as con:
            ensure_raw_schema(con)
            result = _reconciliation_result(con, entity, context.run.run_id)
        result = with_blocked_reason(
            result, f"{entity} files do not reconcile (read <> loaded + quarantined)"
        )
        tag_blocked_run(context, result)
        return result

    return _check


def _quarantine_rate(entity: str) -> AssetChecksDefinition:
    @asset_check(
        asset=raw_asset_key(entity),
        partitions_def=AS_OF_PARTITIONS,
        name="quarantine_rate",
        blocking=True,
        description="Quarantined / read rows of each load batch (the files one run loaded) "
        "stay under the threshold of config/sources.yaml (severity from there too); a batch "
        "over it blocks every run until it is fixed, withdrawn or accepted "
        "(config/acceptances.yaml).",
    )
    def _check(context: AssetCheckExecutionContext, warehouse: Warehouse, run: RunContextResource):
        # Judged per load batch and remembered across runs: pipelines/quality/file_gates.py.
        result = run_quarantine_gate(entity, run.ctx, warehouse)
        tag_blocked_run(context, result)
        return result

    return _check


_FACTORIES = (_files_readable, _columns_populated, _reconciliation, _quarantine_rate)

raw_checks: list[AssetChecksDefinition] = [make(e) for e in LANDING_ENTITIES for make in _FACTORIES]
