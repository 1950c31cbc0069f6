"""Read any accepted landing file into a DuckDB temp table of (mostly) VARCHAR columns.

Every reader produces the same shape: a temp table with ``_source_line`` (BIGINT) followed by
one column per contract column (named as in the contract; columns absent from the file are
NULL). Values are the file's strings, untrimmed; a typed Parquet column is turned into the
contract's text form, or kept in its type when that already is the contract's
(:attr:`ReadResult.native`, see ``parquet_reader.py``); typing and validation happen later, in
SQL (``validation.py``).

``_source_line`` is the CSV record number (header = 1, first data row = 2; a quoted value
spanning lines counts once), the XLSX sheet row (header = 1), the JSON Lines line number, or
the Parquet row index + 1. Rows whose every field is blank (Excel's trailing ``,,,,`` rows)
are skipped and counted in :attr:`ReadResult.blank_rows`; they are not part of the file's
rows read.

A file that cannot be read at all raises :class:`LandingFileError` naming the file, the
location (line / row where known) and the reason.
"""

from __future__ import annotations

from pathlib import Path

import duckdb

from pipelines.ingest.contracts import EntityContract
from pipelines.ingest.csv_reader import read_csv
from pipelines.ingest.encodings import ENCODINGS
from pipelines.ingest.errors import LandingFileError
from pipelines.ingest.files import FileFormat, file_format
from pipelines.ingest.headers import HeaderMap, ReadResult, map_header
from pipelines.ingest.parquet_reader import read_parquet
from pipelines.ingest.rowwise_readers import cell_to_text, read_jsonl
from pipelines.ingest.xlsx_reader import read_xlsx

__all__ = [
    "ENCODINGS",
    "HeaderMap",
    "LandingFileError",
    "ReadResult",
    "cell_to_text",
    "map_header",
    "read_landing_file",
]


def read_landing_file(
    con: duckdb.DuckDBPyConnection,
    path: Path,
    contract: EntityContract,
    table: str,
    encoding: str = "auto",
    display_name: str | None = None,
) -> ReadResult:
    """Read ``path`` into temp table ``table`` (replaced if present); see module docstring.

    ``encoding`` applies to CSV/TSV only (see ``encodings.py``). ``display_name`` is how
    errors name the file (default: the path).
    """
    name = display_name or str(path)
    fmt: FileFormat | None = file_format(path)
    if fmt is None:
        raise LandingFileError(name, f"unsupported file type {path.suffix!r}")
    if encoding not in ENCODINGS:
        raise ValueError(f"encoding must be one of {ENCODINGS}, got {encoding!r}")
    if path.stat().st_size == 0:
        raise LandingFileError(name, "empty file (no header row)")
    con.execute(f'DROP TABLE IF EXISTS "{table}"')
    if fmt.kind == "csv":
        return read_csv(con, path, fmt, contract, table, encoding, name)
    if fmt.kind == "parquet":
        return read_parquet(con, path, contract, table, name)
    if fmt.kind == "xlsx":
        return read_xlsx(con, path, contract, table, name)
    return read_jsonl(con, path, fmt, contract, table, name)
