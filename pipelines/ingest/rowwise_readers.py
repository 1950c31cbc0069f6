"""JSON Lines into a VARCHAR temp table, through bounded Arrow batches (XLSX shares them).

These formats hold Python values (JSON values, spreadsheet cells: ``xlsx_reader.py``); each is
turned into the string a CSV export would have held (:func:`cell_to_text`) and appended in
batches of 50,000 rows.
"""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import orjson
import pyarrow as pa

from pipelines.ingest.contracts import EntityContract
from pipelines.ingest.encodings import open_binary
from pipelines.ingest.errors import LandingFileError
from pipelines.ingest.files import FileFormat
from pipelines.ingest.headers import ReadResult

_BATCH_ROWS = 50_000


def cell_to_text(value: Any) -> str | None:
    """A Python value from XLSX / JSON as the string a CSV export would have held."""
    if type(value) is str:  # the common case first: str() of a str is itself
        return value
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


class BatchWriter:
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


def _loads(text: str) -> Any:
    """``json.loads(text)``, parsed by orjson (several times faster) where it gives the same:
    a JSON object of plain values (text, true/false/null, numbers). orjson turns an integer
    beyond 64 bits into a float (json.loads keeps it whole): a record holding a whole float of
    2**63 or more, or nested arrays or objects, is parsed again by ``json.loads``, as is what
    orjson refuses (NaN, Infinity, lone surrogates, bad JSON), which json.loads accepts as
    before or refuses with its own message (tests/ingest/test_ingest_json_lines.py)."""
    try:
        obj = orjson.loads(text)
    except orjson.JSONDecodeError:
        return json.loads(text)
    if type(obj) is dict and all(map(_plain, obj.values())):
        return obj
    return json.loads(text)


def _plain(value: Any) -> bool:
    """A value orjson and json.loads parse alike (see :func:`_loads`)."""
    kind = type(value)
    if kind is float:
        return not (abs(value) >= 2**63 and value.is_integer())
    return kind is str or value is None or kind is bool or kind is int


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
        obj = _loads(text)
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
    # a key's column (None: unknown), worked out once per distinct key, not once per row
    columns: dict[str, str | None] = {}
    seen: set[str] = set()
    unknown: list[str] = []
    writer = BatchWriter(con, table, contract.column_names)
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
                    if key not in columns:
                        columns[key] = wanted.get(str(key).strip().lower())
                    col = columns[key]
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
