"""What happened to each landing file: :class:`FileResult`, :class:`LoadReport` and the
``raw._file_manifest`` / ``raw._quarantine`` tables that keep it.

Manifest statuses (column ``status``, with ``note``):

- ``loaded``: read, every row loaded or quarantined (``note``: warnings, e.g. an empty column);
- ``skipped-duplicate``: the same bytes were already loaded under another name (``note`` says
  which); nothing is loaded twice;
- ``failed``: unreadable (``note``: file, line, reason); retried on every run until replaced;
- ``deferred``: readable, but rows reference accounts of a ``crm_accounts`` file that failed
  in the same run; retried on the next run instead of quarantining those rows;
- ``ignored``: not a file the pipeline reads (``note``: why, e.g. old ``.xls``).

Only ``loaded`` rows have ``loaded_at``; every row has ``seen_at``, the last run that saw the
file (and ``run_id`` of that run). A file still in place that was loaded before is not
recorded again (its ``loaded`` row stands); the run's metadata lists it as ``unchanged``.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

import duckdb

from pipelines import warehouse as wh
from pipelines.ingest.contracts import CONTRACTS, raw_table_ddl

FileStatus = Literal["loaded", "unchanged", "skipped-duplicate", "failed", "deferred", "ignored"]
MANIFEST_BASE_DDL = """
CREATE TABLE IF NOT EXISTS raw._file_manifest (
    entity VARCHAR, path VARCHAR, size_bytes BIGINT, sha256 VARCHAR, rows_read BIGINT,
    rows_loaded BIGINT, rows_quarantined BIGINT, loaded_at TIMESTAMP, run_id VARCHAR
)"""
# Columns added after the first release: added in place to existing warehouses.
MANIFEST_ADDED_COLUMNS: tuple[tuple[str, str], ...] = (
    ("status", "VARCHAR DEFAULT 'loaded'"),
    ("note", "VARCHAR"),
    ("seen_at", "TIMESTAMP"),
    ("rows_blank", "BIGINT"),
    ("file_format", "VARCHAR"),
    ("encoding", "VARCHAR"),
    # Privacy (docs/privacy.md): rows of erased persons loaded with personal fields blank, and
    # when and why a loaded file was removed from the landing folder.
    ("rows_erased", "BIGINT"),
    ("removed_at", "TIMESTAMP"),
    ("removed_by", "VARCHAR"),
)
QUARANTINE_DDL = """
CREATE TABLE IF NOT EXISTS raw._quarantine (
    entity VARCHAR, source_file VARCHAR, source_line BIGINT, raw_values VARCHAR,
    reason VARCHAR, loaded_at TIMESTAMP, run_id VARCHAR
)"""


@dataclass
class FileResult:
    """What happened to one landing file."""

    path: str  # relative to the landing dir
    sha256: str | None
    size_bytes: int | None
    status: FileStatus
    rows_read: int = 0
    rows_loaded: int = 0
    rows_quarantined: int = 0
    blank_rows: int = 0  # all-blank rows skipped (not read)
    loaded_at: datetime | None = None
    unknown_columns: tuple[str, ...] = ()
    reason_counts: dict[str, int] = field(default_factory=dict)  # rule -> rows
    note: str | None = None  # failed: the error; ignored/deferred/duplicate: why
    warnings: tuple[str, ...] = ()  # loaded: things to look at (empty columns, ...)
    loaded_as: str | None = None  # unchanged / skipped-duplicate: path it was loaded under
    file_format: str | None = None
    encoding: str | None = None
    rows_erased: int = 0  # loaded: rows of erased persons, personal fields blanked

    @property
    def error(self) -> str | None:
        """The unreadable file's error (``"<file>: <location>: <reason>"``)."""
        return self.note if self.status == "failed" else None


@dataclass
class LoadReport:
    """Summary of one ``load_entity`` call, suitable for asset metadata."""

    entity: str
    run_id: str
    files: list[FileResult] = field(default_factory=list)

    def with_status(self, *statuses: FileStatus) -> list[FileResult]:
        return [f for f in self.files if f.status in statuses]

    @property
    def loaded(self) -> list[FileResult]:
        return self.with_status("loaded")

    @property
    def failed(self) -> list[FileResult]:
        return self.with_status("failed")

    @property
    def rows_read(self) -> int:
        return sum(f.rows_read for f in self.loaded)

    @property
    def rows_loaded(self) -> int:
        return sum(f.rows_loaded for f in self.loaded)

    @property
    def rows_quarantined(self) -> int:
        return sum(f.rows_quarantined for f in self.loaded)

    @property
    def blank_rows(self) -> int:
        return sum(f.blank_rows for f in self.loaded)

    @property
    def rows_erased(self) -> int:
        return sum(f.rows_erased for f in self.loaded)

    @property
    def reason_counts(self) -> dict[str, int]:
        total: Counter[str] = Counter()
        for f in self.loaded:
            total.update(f.reason_counts)
        return dict(total.most_common())

    @property
    def unknown_columns(self) -> dict[str, list[str]]:
        return {f.path: list(f.unknown_columns) for f in self.files if f.unknown_columns}

    @property
    def warnings(self) -> list[str]:
        return [f"{f.path}: {w}" for f in self.loaded for w in f.warnings]


def ensure_raw_schema(con: duckdb.DuckDBPyConnection) -> None:
    """Create schema ``raw``, every entity table, the manifest and the quarantine (idempotent);
    add manifest columns that an older warehouse lacks."""
    con.execute("CREATE SCHEMA IF NOT EXISTS raw")
    for entity in CONTRACTS:
        con.execute(raw_table_ddl(entity))
    con.execute(MANIFEST_BASE_DDL)
    con.execute(QUARANTINE_DDL)
    existing = set(wh.table_columns(con, "raw._file_manifest"))
    for name, definition in MANIFEST_ADDED_COLUMNS:
        if name not in existing:
            con.execute(
                f"ALTER TABLE raw._file_manifest ADD COLUMN IF NOT EXISTS {name} {definition}"
            )
    if "seen_at" not in existing:
        # Rows of an older warehouse are loaded files, last seen when they were loaded.
        con.execute("UPDATE raw._file_manifest SET seen_at = loaded_at WHERE seen_at IS NULL")


def insert_loaded(
    con: duckdb.DuckDBPyConnection, entity: str, result: FileResult, run_id: str
) -> None:
    """The manifest row of a loaded file (inside the file's load transaction)."""
    con.execute(
        "INSERT INTO raw._file_manifest (entity, path, size_bytes, sha256, rows_read, "
        "rows_loaded, rows_quarantined, loaded_at, run_id, status, note, seen_at, rows_blank, "
        "file_format, encoding, rows_erased) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'loaded', ?, ?, ?, ?, ?, ?)",
        [
            entity,
            result.path,
            result.size_bytes,
            result.sha256,
            result.rows_read,
            result.rows_loaded,
            result.rows_quarantined,
            result.loaded_at,
            run_id,
            "; ".join(result.warnings) or None,
            result.loaded_at,
            result.blank_rows,
            result.file_format,
            result.encoding,
            result.rows_erased,
        ],
    )


def record_unloaded(
    con: duckdb.DuckDBPyConnection,
    entity: str,
    result: FileResult,
    run_id: str,
    seen_at: datetime,
) -> None:
    """Record a skipped, failed, deferred or ignored file: one row per (path, content,
    status), whose ``seen_at``, ``run_id`` and ``note`` follow the latest run that saw it."""
    key = [entity, result.path, result.status, result.sha256]
    match = "entity = ? AND path = ? AND status = ? AND sha256 IS NOT DISTINCT FROM ?"
    updated = con.execute(
        f"UPDATE raw._file_manifest SET seen_at = ?, run_id = ?, note = ?, size_bytes = ? "
        f"WHERE {match}",
        [seen_at, run_id, result.note, result.size_bytes, *key],
    ).fetchone()[0]
    if not updated:
        con.execute(
            "INSERT INTO raw._file_manifest (entity, path, size_bytes, sha256, run_id, status, "
            "note, seen_at, file_format) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                entity,
                result.path,
                result.size_bytes,
                result.sha256,
                run_id,
                result.status,
                result.note,
                seen_at,
                result.file_format,
            ],
        )


def loaded_path(con: duckdb.DuckDBPyConnection, entity: str, sha256: str) -> str | None:
    """The path under which content ``sha256`` of ``entity`` was loaded, if it was."""
    row = con.execute(
        "SELECT path FROM raw._file_manifest WHERE entity = ? AND sha256 = ? "
        "AND status = 'loaded' ORDER BY loaded_at LIMIT 1",
        [entity, sha256],
    ).fetchone()
    return row[0] if row else None
