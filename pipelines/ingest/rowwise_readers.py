"""XLSX and JSON Lines into a VARCHAR temp table, through bounded Arrow batches.

These formats hold Python values (openpyxl cells, JSON values); each is turned into the string
a CSV export would have held (:func:`cell_to_text`) and appended in batches of 50,000 rows.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from pipelines.ingest.contracts import EntityContract
from pipelines.ingest.encodings import open_binary
from pipelines.ingest.errors import LandingFileError
from pipelines.ingest.files import FileFormat
from pipelines.ingest.headers import ReadResult, blank_header_error, map_header

_BATCH_ROWS = 50_000


def cell_to_text(value: Any) -> str | None:
    """A Python value from XLSX / JSON as the string a CSV export would have held."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        # Excel stores every number as a float; 120.0 is the integer 120.
        if value.is_integer() and abs(value) < 1e15:
            return str(int(value))
        return repr(value)
    if isinstance(value, int | Decimal):
        return str(value)
    if isinstance(value, dt.datetime):
        if value.time() == dt.time(0) and value.tzinfo is None:
            return value.date().isoformat()
        return value.isoformat(sep=" ")
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


class _BatchWriter:
    """Append rows to a temp table through Arrow batches, so memory stays bounded."""

    def __init__(self, con: duckdb.DuckDBPyConnection, table: str, columns: tuple[str, ...]):
        self.con, self.table, self.columns = con, table, columns
        self.rows = 0
        self.lines: list[int] = []
        self.values: dict[str, list[str | None]] = {c: [] for c in columns}
        cols = ", ".join(f'"{c}" VARCHAR' for c in columns)
        con.execute(f'CREATE TEMP TABLE "{table}" (_source_line BIGINT, {cols})')

    def add(self, line: int, row: dict[str, str | None]) -> None:
        self.rows += 1
        self.lines.append(line)
        for col in self.columns:
            self.values[col].append(row.get(col))
        if len(self.lines) >= _BATCH_ROWS:
            self.flush()

    def flush(self) -> None:
        if not self.lines:
            return
        batch = pa.table(
            {
                "_source_line": pa.array(self.lines, pa.int64()),
                **{c: pa.array(v, pa.string()) for c, v in self.values.items()},
            }
        )
        self.con.register("_ingest_batch", batch)
        try:
            self.con.execute(f'INSERT INTO "{self.table}" SELECT * FROM _ingest_batch')
        finally:
            self.con.unregister("_ingest_batch")
        self.lines = []
        self.values = {c: [] for c in self.columns}


def _xlsx_rows(path: Path, name: str) -> Iterator[tuple[Any, ...]]:
    from openpyxl import load_workbook

    try:
        # data_only=False: a formula in an export is kept as its text and then quarantined as
        # formula-like, instead of silently becoming NULL (openpyxl has no cached value).
        # read_only: rows stream from the sheet XML; a merged header cell then reads as blank
        # beyond its first column, which the blank-header rule catches.
        workbook = load_workbook(path, read_only=True, data_only=False)
    except Exception as exc:  # openpyxl raises zipfile/KeyError/InvalidFileException alike
        raise LandingFileError(name, f"unreadable XLSX: {type(exc).__name__}: {exc}") from None
    try:
        sheet = workbook.worksheets[0]
        yield from sheet.iter_rows(values_only=True)
    except LandingFileError:
        raise
    except Exception as exc:
        raise LandingFileError(name, f"unreadable XLSX: {type(exc).__name__}: {exc}") from None
    finally:
        workbook.close()


def _column_letter(position: int) -> str:
    from openpyxl.utils import get_column_letter

    return get_column_letter(position + 1)


def read_xlsx(
    con: duckdb.DuckDBPyConnection,
    path: Path,
    contract: EntityContract,
    table: str,
    name: str,
) -> ReadResult:
    """Read the first sheet of an XLSX file (header in row 1) into temp table ``table``."""
    rows = _xlsx_rows(path, name)
    header = next(rows, None)
    if header is None or all(_blank(h) for h in header):
        raise LandingFileError(name, "empty file (no header row)", "row 1")
    header_map = map_header(header, contract, name)
    writer = _BatchWriter(con, table, contract.column_names)
    blank_rows = 0
    for row_number, row in enumerate(rows, start=2):
        if all(_blank(v) for v in row):
            blank_rows += 1
            continue
        for pos in header_map.blank:
            if pos < len(row) and not _blank(row[pos]):
                location = f"row 1, column {_column_letter(pos)}"
                raise blank_header_error(name, pos, location)
        writer.add(
            row_number,
            {
                c: cell_to_text(row[p]) if p < len(row) else None
                for c, p in header_map.mapping.items()
            },
        )
    writer.flush()
    return ReadResult(
        table,
        writer.rows,
        header_map.present(contract),
        header_map.unknown,
        "xlsx",
        None,
        blank_rows=blank_rows,
    )


def _json_object(raw: bytes, line_number: int, name: str) -> dict | None:
    try:
        text = raw.decode("utf-8-sig" if line_number == 1 else "utf-8")
    except UnicodeDecodeError as exc:
        raise LandingFileError(
            name, f"bytes not valid utf-8 at column {exc.start + 1}", f"line {line_number}"
        ) from None
    if not text.strip():
        return None
    try:
        obj = json.loads(text)
    except json.JSONDecodeError as exc:
        raise LandingFileError(
            name, f"invalid JSON: {exc.msg} (column {exc.colno})", f"line {line_number}"
        ) from None
    if not isinstance(obj, dict):
        raise LandingFileError(
            name, "not a JSON object (one object per line)", f"line {line_number}"
        )
    return obj


def read_jsonl(
    con: duckdb.DuckDBPyConnection,
    path: Path,
    fmt: FileFormat,
    contract: EntityContract,
    table: str,
    name: str,
) -> ReadResult:
    """Read a JSON Lines file (optionally gzip) into temp table ``table``."""
    wanted = {c.lower(): c for c in contract.column_names}
    seen: set[str] = set()
    unknown: list[str] = []
    writer = _BatchWriter(con, table, contract.column_names)
    blank_rows = 0
    try:
        with open_binary(path, fmt.gzip) as fh:
            for line_number, raw in enumerate(fh, start=1):
                obj = _json_object(raw, line_number, name)
                if obj is None:
                    blank_rows += 1
                    continue
                row: dict[str, str | None] = {}
                for key, value in obj.items():
                    col = wanted.get(str(key).strip().lower())
                    if col is None:
                        if key not in unknown:
                            unknown.append(str(key))
                        continue
                    seen.add(col)
                    row[col] = cell_to_text(value)
                writer.add(line_number, row)
    except (OSError, EOFError) as exc:  # a cut or corrupt gzip stream
        raise LandingFileError(name, f"unreadable compressed file: {exc}") from None
    writer.flush()
    if writer.rows == 0:
        raise LandingFileError(name, "empty file (no JSON records)")
    missing = [c for c in contract.required_columns if c not in seen]
    if missing:
        raise LandingFileError(name, f"missing required column: {', '.join(missing)}")
    present = tuple(c for c in contract.column_names if c in seen)
    return ReadResult(
        table, writer.rows, present, tuple(unknown), fmt.label, None, blank_rows=blank_rows
    )
