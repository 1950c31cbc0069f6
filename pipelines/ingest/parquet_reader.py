"""Parquet into a VARCHAR temp table, typed columns turned into the contract's text form.

"Types are cast": a Parquet file written by pandas or Spark carries real types, and each is
converted to the text the contract's rules read, in SQL, without a lossy round trip:

- ``DATE`` -> ``YYYY-MM-DD``; a timestamp (``datetime64``) in a ``date`` column is a date when
  it is midnight, else kept whole (and quarantined as not a date: a time is never dropped);
- ``TIMESTAMP`` / ``TIMESTAMP_NS`` -> ``YYYY-MM-DD HH:MM:SS[.ffffff]`` (nanoseconds are cut to
  microseconds, the warehouse's precision); ``TIMESTAMP WITH TIME ZONE`` -> the Asia/Shanghai
  wall clock, the contract's zone;
- ``DOUBLE`` / ``FLOAT`` in a ``decimal`` or ``integer`` column -> exact 2-decimal text when the
  float is a whole number of cents (``100.1`` stored as ``100.09999999999999`` is 100.10), else
  its full value (quarantined: more than 2 decimals is not an amount);
- everything else (strings, integers, decimals, booleans) -> ``CAST(... AS VARCHAR)``.

A column whose Parquet type already *is* the contract's (a ``DATE`` date, a naive timestamp, an
integer or a decimal of at most two places for an amount, a boolean) is kept in that type
(:func:`native_column`): parsing its text back would give the same value at many times the
cost. Validation then checks it typed and renders the text above only where a person reads
it (a quarantined row's original values, a reason).
"""

from __future__ import annotations

import re
from pathlib import Path

import duckdb

from pipelines.ingest.contracts import CONTRACT_TIMEZONE, EntityContract
from pipelines.ingest.errors import LandingFileError
from pipelines.ingest.headers import ReadResult, count_rows, first_line, map_header

# A float within this many cents of a whole cent is that cent (binary floats cannot hold 0.1).
_CENT_TOLERANCE = 1e-6


def parquet_text(column: str, source_type: str, contract_type: str) -> str:
    """SQL turning Parquet column ``column`` of ``source_type`` into contract text."""
    kind = source_type.upper()
    if kind.startswith("TIMESTAMP"):
        wall = (
            f"timezone('{CONTRACT_TIMEZONE}', {column})"
            if "TIME ZONE" in kind
            else f"CAST({column} AS TIMESTAMP)"
        )
        if contract_type == "date":
            return (
                f"CASE WHEN CAST({wall} AS TIME) = TIME '00:00:00' "
                f"THEN strftime({wall}, '%Y-%m-%d') ELSE CAST({wall} AS VARCHAR) END"
            )
        return f"CAST({wall} AS VARCHAR)"
    if kind == "DATE":
        return f"strftime({column}, '%Y-%m-%d')"
    if kind in ("DOUBLE", "FLOAT") and contract_type in ("decimal", "integer"):
        cents = f"({column} * 100)"
        return (
            f"CASE WHEN isfinite({column}) AND abs({column}) < 1e15 "
            f"AND abs({cents} - round({cents})) < {_CENT_TOLERANCE} "
            f"THEN CAST(CAST(round({column}, 2) AS DECIMAL(18,2)) AS VARCHAR) "
            f"ELSE CAST({column} AS VARCHAR) END"
        )
    return f"CAST({column} AS VARCHAR)"


_INTEGERS = ("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT")
_INTEGERS += ("UINTEGER", "UBIGINT", "UHUGEINT")


def native_column(source_type: str, contract_type: str) -> bool:
    """Whether a Parquet column of ``source_type`` holds the contract type's values as they
    are, so that the typed value equals what parsing its text form would give."""
    kind = source_type.upper()
    if contract_type == "date":
        return kind == "DATE"
    if contract_type == "timestamp":
        return kind.startswith("TIMESTAMP") and "TIME ZONE" not in kind
    if contract_type == "integer":
        return kind in _INTEGERS
    if contract_type == "decimal":
        scale = re.fullmatch(r"DECIMAL\(\d+,\s*(\d+)\)", kind)
        return kind in _INTEGERS or (scale is not None and int(scale.group(1)) <= 2)
    return contract_type == "boolean" and kind == "BOOLEAN"


def _reason(exc: Exception, path: Path, name: str) -> str:
    # DuckDB names the file by its absolute path; the error names it as the manifest does.
    return f"unreadable Parquet: {first_line(exc).replace(str(path), name)}"


def read_parquet(
    con: duckdb.DuckDBPyConnection,
    path: Path,
    contract: EntityContract,
    table: str,
    name: str,
) -> ReadResult:
    """Read a Parquet file into temp table ``table`` (see ``readers.py`` for the shape)."""
    try:
        described = con.execute("DESCRIBE SELECT * FROM read_parquet(?)", [str(path)]).fetchall()
    except duckdb.Error as exc:
        raise LandingFileError(name, _reason(exc, path, name)) from None
    header = [row[0] for row in described]
    types = [row[1] for row in described]
    header_map = map_header(header, contract, name)
    parts, native = [], {}
    for col in contract.columns:
        pos = header_map.mapping.get(col.name)
        if pos is None:
            parts.append(f'CAST(NULL AS VARCHAR) AS "{col.name}"')
            continue
        # Quoted source names: Parquet names may differ from the contract in case and spaces.
        source = '"' + header[pos].replace('"', '""') + '"'
        if native_column(types[pos], col.type):
            native[col.name] = types[pos]
            parts.append(f'{source} AS "{col.name}"')
        else:
            parts.append(f'{parquet_text(source, types[pos], col.type)} AS "{col.name}"')
    try:
        # No ORDER BY: the scan keeps file order (insertion order is preserved) and rows carry
        # their number; raw.<entity> is written in file order once, after validation.
        con.execute(
            f'CREATE TEMP TABLE "{table}" AS SELECT file_row_number + 1 AS _source_line, '
            f"{', '.join(parts)} FROM read_parquet(?, file_row_number = true)",
            [str(path)],
        )
    except duckdb.Error as exc:
        raise LandingFileError(name, _reason(exc, path, name)) from None
    return ReadResult(
        table,
        count_rows(con, table),
        header_map.present(contract),
        header_map.unknown,
        "parquet",
        None,
        native=native,
    )
