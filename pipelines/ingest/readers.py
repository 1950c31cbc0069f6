"""Read any accepted landing file into a DuckDB temp table of VARCHAR columns.

Every reader produces the same shape: a temp table with ``_source_line`` (BIGINT) followed by
one VARCHAR column per contract column (named as in the contract; columns absent from an
optional position are NULL). Values are the file's original strings, untrimmed; typing and
validation happen later, in SQL (``loader.py``).

``_source_line`` is the CSV record number (header = 1, first data row = 2; a quoted value
spanning lines counts once and blank lines are skipped by the CSV parser), the XLSX sheet row
(header = 1), the JSON Lines line number, or the Parquet row index + 1.

A file that cannot be read at all raises :class:`LandingFileError` naming the file, the
location (line / row / byte offset where known) and the reason.
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import json
import re
import shutil
import tempfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from pipelines.ingest.contracts import EntityContract

ACCEPTED_SUFFIXES: dict[str, str] = {
    ".csv": "csv",
    ".parquet": "parquet",
    ".xlsx": "xlsx",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
}
ENCODINGS = ("auto", "utf-8", "gbk", "gb18030")

# DuckDB refuses CSV records longer than max_line_size; 64 MB leaves room for the contract's
# 4096-character limit to be enforced as a quarantine reason instead of a file failure.
CSV_MAX_LINE_SIZE = 64 * 1024 * 1024
_CHUNK = 1024 * 1024
_BATCH_ROWS = 50_000


class LandingFileError(Exception):
    """A landing file that cannot be read at all. ``str()`` is ``"<file>: <location>: <reason>"``."""

    def __init__(self, path: str | Path, reason: str, location: str | None = None) -> None:
        self.path = str(path)
        self.reason = reason
        self.location = location
        where = f"{self.path}: {location}: " if location else f"{self.path}: "
        super().__init__(where + reason)


@dataclass(frozen=True)
class ReadResult:
    """What a reader produced: the temp table, row count, and how the header mapped."""

    table: str
    rows: int
    columns: tuple[str, ...]  # contract columns present in the file, contract order
    unknown_columns: tuple[str, ...]  # header names not in the contract (ignored)
    file_format: str
    encoding: str | None  # CSV only: the encoding actually used


def file_format(path: Path) -> str | None:
    """The reader for ``path`` by extension (``csv``/``parquet``/``xlsx``/``jsonl``), or None."""
    return ACCEPTED_SUFFIXES.get(path.suffix.lower())


def read_landing_file(
    con: duckdb.DuckDBPyConnection,
    path: Path,
    contract: EntityContract,
    table: str,
    encoding: str = "auto",
    display_name: str | None = None,
) -> ReadResult:
    """Read ``path`` into temp table ``table`` (replaced if present); see module docstring.

    ``encoding`` applies to CSV only: ``auto`` tries strict UTF-8, then GB18030.
    ``display_name`` is how errors name the file (default: the path).
    """
    name = display_name or str(path)
    fmt = file_format(path)
    if fmt is None:
        raise LandingFileError(name, f"unsupported file extension {path.suffix!r}")
    if encoding not in ENCODINGS:
        raise ValueError(f"encoding must be one of {ENCODINGS}, got {encoding!r}")
    if path.stat().st_size == 0:
        raise LandingFileError(name, "empty file (no header row)")
    con.execute(f'DROP TABLE IF EXISTS "{table}"')
    if fmt == "csv":
        return _read_csv(con, path, contract, table, encoding, name)
    if fmt == "parquet":
        return _read_parquet(con, path, contract, table, name)
    if fmt == "xlsx":
        return _read_xlsx(con, path, contract, table, name)
    return _read_jsonl(con, path, contract, table, name)


# --------------------------------------------------------------------------- header mapping


def map_header(
    header: Iterable[Any], contract: EntityContract, name: str
) -> tuple[dict[str, int], tuple[str, ...]]:
    """Map header names (trimmed, case-insensitive) to contract columns.

    Returns ``({contract column: position}, unknown header names)``. Raises
    :class:`LandingFileError` on a duplicate contract column or a missing required one.
    """
    wanted = {c.lower(): c for c in contract.column_names}
    mapping: dict[str, int] = {}
    unknown: list[str] = []
    for pos, raw in enumerate(header):
        label = "" if raw is None else str(raw).replace("\ufeff", "").strip()
        col = wanted.get(label.lower())
        if col is None:
            unknown.append(label or f"(blank header, column {pos + 1})")
        elif col in mapping:
            raise LandingFileError(name, f"duplicate column: {col}", "line 1")
        else:
            mapping[col] = pos
    missing = [c for c in contract.required_columns if c not in mapping]
    if missing:
        raise LandingFileError(name, f"missing required column: {', '.join(missing)}", "line 1")
    return mapping, tuple(unknown)


def _present(contract: EntityContract, mapping: dict[str, int]) -> tuple[str, ...]:
    return tuple(c for c in contract.column_names if c in mapping)


def _select_list(
    contract: EntityContract, mapping: dict[str, int], expr: Callable[[int], str]
) -> str:
    """``"<col>"`` VARCHAR expressions in contract order; absent columns become NULL."""
    parts = []
    for col in contract.column_names:
        source = expr(mapping[col]) if col in mapping else "NULL"
        parts.append(f'CAST({source} AS VARCHAR) AS "{col}"')
    return ", ".join(parts)


def _count(con: duckdb.DuckDBPyConnection, table: str) -> int:
    return con.execute(f'SELECT count(*) FROM "{table}"').fetchone()[0]


# --------------------------------------------------------------------------- CSV


def _check_nul(chunk: bytes, offset: int, name: str) -> None:
    pos = chunk.find(b"\x00")
    if pos >= 0:
        # Text exports never contain NUL; UTF-16 and binary files are full of them.
        raise LandingFileError(
            name, "NUL byte: not a text file (UTF-16 or binary?)", f"byte offset {offset + pos}"
        )


def _stream_decode(path: Path, codec: str, name: str, sink: Any | None) -> None:
    """Strictly decode ``path`` with ``codec`` chunk by chunk, writing UTF-8 to ``sink``.

    Raises ``LandingFileError`` with the byte offset of the first invalid byte.
    """
    decoder = codecs.getincrementaldecoder(codec)(errors="strict")
    fed = 0
    first = True
    with path.open("rb") as fh:
        while True:
            chunk = fh.read(_CHUNK)
            final = not chunk
            if chunk:
                _check_nul(chunk, fed, name)
            pending = len(decoder.getstate()[0])
            try:
                text = decoder.decode(chunk, final=final)
            except UnicodeDecodeError as exc:
                offset = fed - pending + exc.start
                raise LandingFileError(
                    name, f"bytes not valid {codec}", f"byte offset {offset}"
                ) from None
            if sink is not None and text:
                if first and text.startswith("\ufeff"):
                    text = text[1:]
                sink.write(text)
            first = first and not text
            fed += len(chunk)
            if final:
                return


def _utf8_source(path: Path, encoding: str, name: str, tmp: Path) -> tuple[Path, str]:
    """A UTF-8 version of ``path`` (the file itself, or a streamed transcoded temp copy)."""
    if encoding in ("auto", "utf-8"):
        try:
            _stream_decode(path, "utf-8", name, None)
            return path, "utf-8"
        except LandingFileError as exc:
            if encoding == "utf-8" or exc.reason.startswith("NUL byte"):
                raise LandingFileError(
                    name, f"{exc.reason} (declared encoding: {encoding})", exc.location
                ) from None
            utf8_error = exc
    codec = "gb18030" if encoding == "auto" else encoding
    target = tmp / "transcoded.csv"
    try:
        with target.open("w", encoding="utf-8", newline="") as sink:
            _stream_decode(path, codec, name, sink)
    except LandingFileError as exc:
        if encoding == "auto":
            raise LandingFileError(
                name,
                f"bytes not valid utf-8 ({utf8_error.location}) nor gb18030 ({exc.location})",
            ) from None
        raise LandingFileError(
            name, f"{exc.reason} (declared encoding: {encoding})", exc.location
        ) from None
    return target, codec


_CSV_LINE = re.compile(r"CSV Error on Line: (\d+)")


def _duckdb_csv_reason(exc: Exception) -> tuple[str, str | None]:
    """(reason, location) from a DuckDB CSV error: its explanation and its line number.

    DuckDB's message is "CSV Error on Line: N / Original Line: ... / <explanation> /
    Possible fixes: ..."; the explanation is the last paragraph before "Possible fixes".
    """
    text = str(exc)
    match = _CSV_LINE.search(text)
    location = f"line {match.group(1)}" if match else None
    head = text.split("Possible fixes:")[0]
    paragraphs = [p.strip() for p in head.split("\n\n") if p.strip()]
    reason = paragraphs[-1].splitlines()[-1] if paragraphs else "unreadable CSV"
    return f"malformed CSV: {reason}", location


def _read_csv(
    con: duckdb.DuckDBPyConnection,
    path: Path,
    contract: EntityContract,
    table: str,
    encoding: str,
    name: str,
) -> ReadResult:
    tmp = Path(tempfile.mkdtemp(prefix="stratum_ingest_"))
    try:
        source, used = _utf8_source(path, encoding, name, tmp)
        with source.open("r", encoding="utf-8-sig", newline="") as fh:
            try:
                header = next(csv.reader(fh), None)
            except csv.Error as exc:
                raise LandingFileError(name, f"malformed CSV header: {exc}", "line 1") from None
        if not header or all(not h.strip() for h in header):
            raise LandingFileError(name, "empty file (no header row)", "line 1")
        mapping, unknown = map_header(header, contract, name)
        columns = {f"c{i}": "VARCHAR" for i in range(len(header))}
        staging = f"{table}__csv"
        try:
            con.execute(
                f'CREATE OR REPLACE TEMP TABLE "{staging}" AS SELECT * FROM read_csv(?, '
                "header = true, auto_detect = false, delim = ',', quote = '\"', escape = '\"', "
                f"strict_mode = true, max_line_size = {CSV_MAX_LINE_SIZE}, columns = ?, "
                "nullstr = ?)",
                # NUL never occurs in an accepted file, so no value is read as NULL: empty
                # fields stay "" and the quarantine keeps the original strings.
                [str(source), columns, "\x00"],
            )
        except duckdb.Error as exc:
            reason, location = _duckdb_csv_reason(exc)
            raise LandingFileError(name, reason, location) from None
        # rowid follows insertion order, which DuckDB keeps equal to file order.
        con.execute(
            f'CREATE TEMP TABLE "{table}" AS SELECT rowid + 2 AS _source_line, '
            f"{_select_list(contract, mapping, lambda pos: f'c{pos}')} "
            f'FROM "{staging}" ORDER BY rowid'
        )
        con.execute(f'DROP TABLE "{staging}"')
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return ReadResult(table, _count(con, table), _present(contract, mapping), unknown, "csv", used)


# --------------------------------------------------------------------------- Parquet


def _read_parquet(
    con: duckdb.DuckDBPyConnection,
    path: Path,
    contract: EntityContract,
    table: str,
    name: str,
) -> ReadResult:
    try:
        described = con.execute("DESCRIBE SELECT * FROM read_parquet(?)", [str(path)]).fetchall()
    except duckdb.Error as exc:
        raise LandingFileError(name, f"unreadable Parquet: {_first_line(exc)}") from None
    header = [row[0] for row in described]
    mapping, unknown = map_header(header, contract, name)
    # Quoted source names: Parquet names may differ from the contract in case and spaces.
    select = _select_list(contract, mapping, lambda pos: '"' + header[pos].replace('"', '""') + '"')
    try:
        con.execute(
            f'CREATE TEMP TABLE "{table}" AS SELECT file_row_number + 1 AS _source_line, '
            f"{select} FROM read_parquet(?, file_row_number = true) ORDER BY file_row_number",
            [str(path)],
        )
    except duckdb.Error as exc:
        raise LandingFileError(name, f"unreadable Parquet: {_first_line(exc)}") from None
    return ReadResult(
        table, _count(con, table), _present(contract, mapping), unknown, "parquet", None
    )


def _first_line(exc: Exception) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


# --------------------------------------------------------------------------- row-wise formats


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


class _BatchWriter:
    """Append rows to a temp table through Arrow batches, so memory stays bounded."""

    def __init__(self, con: duckdb.DuckDBPyConnection, table: str, columns: tuple[str, ...]):
        self.con, self.table, self.columns = con, table, columns
        self.lines: list[int] = []
        self.values: dict[str, list[str | None]] = {c: [] for c in columns}
        cols = ", ".join(f'"{c}" VARCHAR' for c in columns)
        con.execute(f'CREATE TEMP TABLE "{table}" (_source_line BIGINT, {cols})')

    def add(self, line: int, row: dict[str, str | None]) -> None:
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


def _read_xlsx(
    con: duckdb.DuckDBPyConnection,
    path: Path,
    contract: EntityContract,
    table: str,
    name: str,
) -> ReadResult:
    rows = _xlsx_rows(path, name)
    header = next(rows, None)
    if header is None or all(h is None or not str(h).strip() for h in header):
        raise LandingFileError(name, "empty file (no header row)", "row 1")
    mapping, unknown = map_header(header, contract, name)
    present = _present(contract, mapping)
    writer = _BatchWriter(con, table, contract.column_names)
    for row_number, row in enumerate(rows, start=2):
        if all(v is None or (isinstance(v, str) and not v.strip()) for v in row):
            continue
        writer.add(
            row_number,
            {c: cell_to_text(row[p]) if p < len(row) else None for c, p in mapping.items()},
        )
    writer.flush()
    return ReadResult(table, _count(con, table), present, unknown, "xlsx", None)


def _read_jsonl(
    con: duckdb.DuckDBPyConnection,
    path: Path,
    contract: EntityContract,
    table: str,
    name: str,
) -> ReadResult:
    wanted = {c.lower(): c for c in contract.column_names}
    seen: set[str] = set()
    unknown: list[str] = []
    writer = _BatchWriter(con, table, contract.column_names)
    records = 0
    with path.open("rb") as fh:
        for line_number, raw in enumerate(fh, start=1):
            try:
                text = raw.decode("utf-8-sig" if line_number == 1 else "utf-8")
            except UnicodeDecodeError as exc:
                raise LandingFileError(
                    name, f"bytes not valid utf-8 at column {exc.start + 1}", f"line {line_number}"
                ) from None
            if not text.strip():
                continue
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
            row: dict[str, str | None] = {}
            for key, value in obj.items():
                col = wanted.get(str(key).strip().lower())
                if col is None:
                    if key not in unknown:
                        unknown.append(str(key))
                    continue
                seen.add(col)
                row[col] = cell_to_text(value)
            records += 1
            writer.add(line_number, row)
    writer.flush()
    if records == 0:
        raise LandingFileError(name, "empty file (no JSON records)")
    missing = [c for c in contract.required_columns if c not in seen]
    if missing:
        raise LandingFileError(name, f"missing required column: {', '.join(missing)}")
    present = tuple(c for c in contract.column_names if c in seen)
    return ReadResult(table, records, present, tuple(unknown), "jsonl", None)
