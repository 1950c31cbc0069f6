"""CSV and TSV (optionally gzip) into a VARCHAR temp table, streamed by DuckDB.

The bytes are first proven to be text in a known encoding and complete (``encodings.py``);
a non-UTF-8 file is transcoded to a temp UTF-8 copy. DuckDB then parses it strictly
(``strict_mode``), every column as VARCHAR, and the rows are copied in file order with their
record number, leaving out rows whose every field is blank.
"""

from __future__ import annotations

import csv
import re
import shutil
import tempfile
from pathlib import Path

import duckdb

from pipelines.ingest.contracts import EntityContract
from pipelines.ingest.encodings import MAX_LINE_BYTES, prepare_text
from pipelines.ingest.errors import LandingFileError
from pipelines.ingest.files import FileFormat
from pipelines.ingest.headers import (
    ReadResult,
    blank_header_error,
    count_rows,
    map_header,
    select_list,
)
from pipelines.ingest.validation import trimmed

# DuckDB refuses CSV records longer than max_line_size; 64 MB leaves room for the contract's
# 4096-character limit to be enforced as a quarantine reason instead of a file failure.
CSV_MAX_LINE_SIZE = MAX_LINE_BYTES
_CSV_LINE = re.compile(r"CSV Error on Line: (\d+)")


def duckdb_csv_reason(exc: Exception) -> tuple[str, str | None]:
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


def _is_blank(column: str) -> str:
    return f"coalesce({trimmed(column)}, '') = ''"


def read_csv(
    con: duckdb.DuckDBPyConnection,
    path: Path,
    fmt: FileFormat,
    contract: EntityContract,
    table: str,
    encoding: str,
    name: str,
) -> ReadResult:
    """Read a CSV/TSV file into temp table ``table`` (see ``readers.py`` for the shape)."""
    tmp = Path(tempfile.mkdtemp(prefix="stratum_ingest_"))
    try:
        source = prepare_text(path, fmt.gzip, encoding, name, tmp)
        with source.open_text() as fh:
            try:
                header = next(csv.reader(fh, delimiter=fmt.delimiter), None)
            except csv.Error as exc:
                raise LandingFileError(name, f"malformed CSV header: {exc}", "line 1") from None
        if not header or all(not h.strip() for h in header):
            raise LandingFileError(name, "empty file (no header row)", "line 1")
        header_map = map_header(header, contract, name)
        staging = f"{table}__csv"
        _stage(con, source.path, source.gzip, fmt.delimiter, len(header), staging, name)
        for pos in header_map.blank:
            if con.execute(
                f'SELECT count(*) FROM "{staging}" WHERE NOT {_is_blank(f"c{pos}")}'
            ).fetchone()[0]:
                raise blank_header_error(name, pos, "line 1")
        blank_row = " AND ".join(_is_blank(f"c{i}") for i in range(len(header)))
        # rowid follows insertion order, which DuckDB keeps equal to file order. No ORDER BY:
        # raw.<entity> is written in file order once, after validation.
        con.execute(
            f'CREATE TEMP TABLE "{table}" AS SELECT rowid + 2 AS _source_line, '
            f"{select_list(contract, header_map.mapping, lambda pos: f'c{pos}')} "
            f'FROM "{staging}" WHERE NOT ({blank_row})'
        )
        total = count_rows(con, staging)
        con.execute(f'DROP TABLE "{staging}"')
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    rows = count_rows(con, table)
    return ReadResult(
        table,
        rows,
        header_map.present(contract),
        header_map.unknown,
        fmt.label,
        source.encoding,
        blank_rows=total - rows,
    )


def _stage(
    con: duckdb.DuckDBPyConnection,
    source: Path,
    gzip: bool,
    delimiter: str,
    width: int,
    staging: str,
    name: str,
) -> None:
    columns = {f"c{i}": "VARCHAR" for i in range(width)}
    try:
        con.execute(
            f'CREATE OR REPLACE TEMP TABLE "{staging}" AS SELECT * FROM read_csv(?, '
            "header = true, auto_detect = false, delim = ?, quote = '\"', escape = '\"', "
            f"strict_mode = true, max_line_size = {CSV_MAX_LINE_SIZE}, columns = ?, "
            "nullstr = ?, compression = ?)",
            # NUL never occurs in an accepted file, so no value is read as NULL: empty
            # fields stay "" and the quarantine keeps the original strings.
            [str(source), delimiter, columns, "\x00", "gzip" if gzip else "none"],
        )
    except duckdb.Error as exc:
        reason, location = duckdb_csv_reason(exc)
        raise LandingFileError(name, reason, location) from None
