"""Load landing files of one entity into ``raw.<entity>``: incremental, idempotent, lossless.

Per file, in one transaction: read it into a temp table of text (``readers.py``; typed Parquet
columns of the contract's type stay typed), validate
every row in SQL (``validation.py``), append good rows to ``raw.<entity>``, bad rows to
``raw._quarantine`` with an exact reason, and one row to ``raw._file_manifest``
(``manifest.py``). A file whose sha256 is already loaded for the entity is skipped (so the same
content under another name loads once); a file that fails leaves no loaded trace, so dropping
a fixed version later loads it. Every other entry of the folder is recorded with the reason it
is not read (``files.py``).

Dates and timestamps may not lie after the *load time* plus the source's tolerance: a backfill
for a past as-of date loads today's files, and point-in-time filtering by as-of happens later,
in dbt.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import duckdb

from pipelines.ingest.contracts import CONTRACT_TIMEZONE, CONTRACTS, EntityContract, get_contract
from pipelines.ingest.files import LandingEntry, file_format, scan_entity_folder
from pipelines.ingest.headers import ReadResult
from pipelines.ingest.manifest import (
    FileResult,
    LoadReport,
    ensure_raw_schema,
    insert_loaded,
    loaded_path,
    record_unloaded,
)
from pipelines.ingest.readers import LandingFileError, read_landing_file
from pipelines.ingest.sources_config import SourceConfig
from pipelines.ingest.validation import parameters, validation_sql
from pipelines.privacy.masking import scrub_text
from pipelines.privacy.redelivery import blank_erased_rows

__all__ = ["FileResult", "LoadReport", "ensure_raw_schema", "load_entities", "load_entity"]

# Below this many rows a column that is empty in every row is not worth a warning.
EMPTY_COLUMN_MIN_ROWS = 20
_SOURCE, _VALIDATED = "_ingest_source", "_ingest_validated"


def sha256_file(path: Path, chunk: int = 1024 * 1024) -> str:
    """Hex sha256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while block := fh.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def load_limits(load_time: datetime, tolerance_hours: float) -> tuple[date, datetime]:
    """(latest date, latest timestamp) accepted: the load time as an Asia/Shanghai wall clock
    (a naive ``load_time`` already is one) plus the tolerance."""
    if load_time.tzinfo is not None:
        load_time = load_time.astimezone(ZoneInfo(CONTRACT_TIMEZONE)).replace(tzinfo=None)
    latest = load_time + timedelta(hours=tolerance_hours)
    return latest.date(), latest.replace(microsecond=0)


def utc_now() -> datetime:
    """Wall-clock time in UTC without a zone, as the warehouse stores audit timestamps (when a
    file was loaded or purged, never a business date)."""
    return datetime.now(UTC).replace(tzinfo=None)


def column_warnings(
    con: duckdb.DuckDBPyConnection, table: str, read: ReadResult, contract: EntityContract
) -> tuple[str, ...]:
    """Documented columns absent from the file, or without a single value in it (a broken
    export or a header that moved), for files of at least EMPTY_COLUMN_MIN_ROWS rows.

    Counted on the validated ``table`` (trimmed, typed values: non-NULL counts come from the
    column's validity mask, no second pass over the strings).
    """
    if read.rows < EMPTY_COLUMN_MIN_ROWS or not read.columns:
        return ()
    counts = con.execute(
        "SELECT " + ", ".join(f'count("{c}")' for c in read.columns) + f' FROM "{table}"'
    ).fetchone()
    empty = [c for c, n in zip(read.columns, counts, strict=True) if n == 0]
    absent = [c for c in contract.column_names if c not in read.columns]
    warnings = [f"column {c} has no value in any of the {read.rows} rows" for c in empty]
    if absent:
        warnings.append(f"documented column(s) absent: {', '.join(absent)}")
    return tuple(warnings)


def load_file(
    con: duckdb.DuckDBPyConnection,
    entity: str,
    path: Path,
    landing_dir: Path,
    run_id: str,
    load_time: datetime,
    source: SourceConfig | None = None,
    defer_unknown_accounts: bool = False,
) -> FileResult:
    """Load one file (see module docstring). Returns its :class:`FileResult`.

    A :class:`LandingFileError` is caught and reported as ``status="failed"`` (nothing is
    written for that file); any other error rolls back and propagates. With
    ``defer_unknown_accounts``, a file with rows for unknown accounts is not loaded but
    ``deferred`` (its accounts may be in a ``crm_accounts`` file that failed this run).
    """
    source = source or SourceConfig()
    contract = get_contract(entity)
    rel = (
        path.relative_to(landing_dir).as_posix() if path.is_relative_to(landing_dir) else str(path)
    )
    fmt = file_format(path)
    base = FileResult(
        rel, sha256_file(path), path.stat().st_size, "loaded", file_format=fmt and fmt.label
    )
    previous = loaded_path(con, entity, base.sha256)
    if previous:
        base.loaded_as = previous
        if previous == rel:
            base.status = "unchanged"
        else:
            base.status = "skipped-duplicate"
            base.note = f"same content as {previous}, already loaded"
        return base
    try:
        read = read_landing_file(con, path, contract, _SOURCE, source.encoding, display_name=rel)
        max_date, max_ts = load_limits(load_time, source.future_tolerance_hours)
        sql = validation_sql(contract, read.columns, _SOURCE, read.native)
        con.execute(
            f'CREATE OR REPLACE TEMP TABLE "{_VALIDATED}" AS {sql}',
            parameters(sql, max_date, max_ts),
        )
        base.warnings = column_warnings(con, _VALIDATED, read, contract)
        # An erased person stays erased when a file carries them again (docs/privacy.md).
        base.rows_erased = blank_erased_rows(con, entity, _VALIDATED, run_id)
        return _commit(con, entity, base, read, run_id, defer_unknown_accounts)
    except LandingFileError as exc:
        # The error is shown in the UI and checks: never a contact value in it.
        base.status, base.note = "failed", scrub_text(str(exc))
        return base
    finally:
        con.execute(f'DROP TABLE IF EXISTS "{_VALIDATED}"')
        con.execute(f'DROP TABLE IF EXISTS "{_SOURCE}"')


def _commit(
    con: duckdb.DuckDBPyConnection,
    entity: str,
    result: FileResult,
    read: ReadResult,
    run_id: str,
    defer_unknown_accounts: bool,
) -> FileResult:
    # One scan for every count: rows per rule, the loaded ones under NULL.
    per_rule = con.execute(
        f'SELECT _rule, count(*) FROM "{_VALIDATED}" GROUP BY _rule ORDER BY count(*) DESC, _rule'
    ).fetchall()
    reasons = {rule: n for rule, n in per_rule if rule is not None}
    if defer_unknown_accounts and reasons.get("unknown account"):
        result.status = "deferred"
        result.note = (
            f"{reasons['unknown account']} row(s) reference accounts not loaded yet while a "
            "crm_accounts file failed in this run: retried on the next run"
        )
        return result
    result.rows_read = sum(n for _, n in per_rule)
    result.rows_quarantined = sum(reasons.values())
    result.rows_loaded = result.rows_read - result.rows_quarantined
    result.reason_counts, result.loaded_at = reasons, utc_now()
    result.blank_rows, result.unknown_columns = read.blank_rows, read.unknown_columns
    result.encoding = read.encoding
    meta = {"file": result.path, "sha": result.sha256, "at": result.loaded_at, "run": run_id}
    names = ", ".join(f'"{c}"' for c in get_contract(entity).column_names)
    con.execute("BEGIN TRANSACTION")
    try:
        con.execute(
            f'INSERT INTO raw."{entity}" ({names}, _source_file, _source_line, _sha256, '
            f"_loaded_at, _run_id) SELECT {names}, $file, _source_line, $sha, $at, $run "
            f'FROM "{_VALIDATED}" WHERE _reason IS NULL ORDER BY _source_line',
            meta,
        )
        con.execute(
            "INSERT INTO raw._quarantine SELECT $entity, $file, _source_line, _raw_values, "
            f'_reason, $at, $run FROM "{_VALIDATED}" WHERE _reason IS NOT NULL '
            "ORDER BY _source_line",
            {"entity": entity, "file": result.path, "at": result.loaded_at, "run": run_id},
        )
        insert_loaded(con, entity, result, run_id)
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    return result


def _ignored(entry: LandingEntry) -> FileResult:
    size = entry.path.stat().st_size if entry.path.is_file() else None
    return FileResult(entry.rel, None, size, "ignored", note=entry.ignored)


def load_entity(
    con: duckdb.DuckDBPyConnection,
    entity: str,
    landing_dir: Path,
    run_id: str,
    load_time: datetime,
    source: SourceConfig | None = None,
    defer_unknown_accounts: bool = False,
) -> LoadReport:
    """Load every not-yet-loaded file of ``entity`` from ``landing_dir/<entity>/``.

    Files are processed in name order, each in its own transaction; every other entry of the
    folder is reported as ignored with its reason. Unreadable files are reported as failed and
    the others still load; the caller decides whether that fails the run. ``load_time`` (the
    moment of loading; naive = Asia/Shanghai wall clock) bounds dates and timestamps.
    Account-referencing entities check ``account_id`` against every account ever loaded into
    ``raw.crm_accounts``, so load ``crm_accounts`` first (:func:`load_entities` does).
    """
    source = source or SourceConfig()
    landing_dir = Path(landing_dir)
    ensure_raw_schema(con)
    report = LoadReport(entity, run_id)
    for entry in scan_entity_folder(landing_dir, entity, source.glob):
        if entry.format is None:
            result = _ignored(entry)
        else:
            result = load_file(
                con, entity, entry.path, landing_dir, run_id, load_time, source,
                defer_unknown_accounts,
            )  # fmt: skip
        if result.status not in ("loaded", "unchanged"):
            record_unloaded(con, entity, result, run_id, utc_now())
        report.files.append(result)
    return report


def load_entities(
    con: duckdb.DuckDBPyConnection,
    entities: Iterable[str],
    landing_dir: Path,
    run_id: str,
    load_time: datetime,
    sources: dict[str, SourceConfig],
) -> list[LoadReport]:
    """Load ``entities`` in contract order (accounts before the entities that reference them).

    An unreadable ``crm_accounts`` file does not stop the other entities; their files whose
    rows reference unknown accounts are deferred to the next run instead of quarantined.
    """
    wanted = set(entities)
    ordered = [e for e in CONTRACTS if e in wanted]
    reports: list[LoadReport] = []
    accounts_failed = False
    for entity in ordered:
        defer = accounts_failed and get_contract(entity).references_account
        report = load_entity(con, entity, landing_dir, run_id, load_time, sources[entity], defer)
        accounts_failed = accounts_failed or (entity == "crm_accounts" and bool(report.failed))
        reports.append(report)
    return reports
