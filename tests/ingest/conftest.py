"""Shared helpers for the ingestion tests: an in-memory warehouse and a temp landing dir."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import duckdb
import pytest

from pipelines.ingest.loader import LoadReport, load_entity
from pipelines.ingest.sources_config import SourceConfig

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "ingest"
# The moment the tests' files are loaded (Asia/Shanghai wall clock); with the default 24-hour
# tolerance, dates up to 2024-07-01 and timestamps up to 2024-07-01 18:00:00 are accepted.
LOAD_TIME = datetime(2024, 6, 30, 18, 0)


@pytest.fixture
def con() -> Iterator[duckdb.DuckDBPyConnection]:
    connection = duckdb.connect()
    yield connection
    connection.close()


@pytest.fixture
def landing(tmp_path: Path) -> Path:
    path = tmp_path / "landing"
    path.mkdir()
    return path


def drop(landing: Path, entity: str, fixture: str, as_name: str | None = None) -> Path:
    """Copy a fixture into ``landing/<entity>/`` (optionally renamed)."""
    target = landing / entity / (as_name or fixture)
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(FIXTURES / fixture, target)
    return target


def load(
    con: duckdb.DuckDBPyConnection,
    landing: Path,
    entity: str,
    run_id: str = "run-1",
    encoding: str = "auto",
    **source: object,
) -> LoadReport:
    config = SourceConfig(encoding=encoding, **source)
    return load_entity(con, entity, landing, run_id, LOAD_TIME, config)


def load_accounts(con: duckdb.DuckDBPyConnection, landing: Path) -> None:
    """Load the A1-A3 accounts the order fixtures reference."""
    drop(landing, "crm_accounts", "accounts_utf8_bom.csv")
    report = load(con, landing, "crm_accounts", run_id="accounts")
    assert report.rows_loaded == 3


def quarantined(con: duckdb.DuckDBPyConnection, entity: str) -> list[tuple[int, str]]:
    """(source_line, reason) of an entity's quarantined rows, in line order."""
    return con.execute(
        "SELECT source_line, reason FROM raw._quarantine WHERE entity = ? "
        "ORDER BY source_file, source_line",
        [entity],
    ).fetchall()


def assert_reconciles(con: duckdb.DuckDBPyConnection) -> None:
    """Every manifest row: read = loaded + quarantined, and both match the tables."""
    for entity, path, sha, read, loaded, quarantined_rows, run_id in con.execute(
        "SELECT entity, path, sha256, rows_read, rows_loaded, rows_quarantined, run_id "
        "FROM raw._file_manifest WHERE status = 'loaded'"
    ).fetchall():
        assert read == loaded + quarantined_rows, path
        in_raw = con.execute(
            f'SELECT count(*) FROM raw."{entity}" WHERE _sha256 = ?', [sha]
        ).fetchone()[0]
        in_q = con.execute(
            "SELECT count(*) FROM raw._quarantine WHERE entity = ? AND source_file = ? "
            "AND run_id = ?",
            [entity, path, run_id],
        ).fetchone()[0]
        assert (in_raw, in_q) == (loaded, quarantined_rows), path
