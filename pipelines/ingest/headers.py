"""Shared pieces of the readers: the result shape and the header-to-contract mapping."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import duckdb

from pipelines.ingest.contracts import EntityContract
from pipelines.ingest.errors import LandingFileError


@dataclass(frozen=True)
class ReadResult:
    """What a reader produced: the temp table, row counts, and how the header mapped."""

    table: str
    rows: int
    columns: tuple[str, ...]  # contract columns present in the file, contract order
    unknown_columns: tuple[str, ...]  # header names not in the contract (ignored)
    file_format: str
    encoding: str | None  # CSV/TSV only: the encoding actually used
    blank_rows: int = 0  # rows with every field blank: skipped, not read
    # Columns the source table holds in their own type (Parquet), not as text: column ->
    # source type (``parquet_reader.native_column``). Validation reads them without a text
    # round trip and renders their text only for a quarantined row or a reason.
    native: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class HeaderMap:
    """A header row mapped onto the contract."""

    mapping: dict[str, int]  # contract column -> position in the file
    unknown: tuple[str, ...]  # header names not in the contract
    blank: tuple[int, ...]  # positions whose header cell is blank (or hidden by a merge)

    def present(self, contract: EntityContract) -> tuple[str, ...]:
        return tuple(c for c in contract.column_names if c in self.mapping)


def map_header(header: Iterable[Any], contract: EntityContract, name: str) -> HeaderMap:
    """Map header names (trimmed, case-insensitive) to contract columns.

    Raises :class:`LandingFileError` on a duplicate contract column or a missing required one.
    """
    wanted = {c.lower(): c for c in contract.column_names}
    mapping: dict[str, int] = {}
    unknown: list[str] = []
    blank: list[int] = []
    for pos, raw in enumerate(header):
        label = "" if raw is None else str(raw).replace("\ufeff", "").strip()
        col = wanted.get(label.lower())
        if not label:
            blank.append(pos)
        elif col is None:
            unknown.append(label)
        elif col in mapping:
            raise LandingFileError(name, f"duplicate column: {col}", "line 1")
        else:
            mapping[col] = pos
    missing = [c for c in contract.required_columns if c not in mapping]
    if missing:
        hint = (
            " (no column of the contract in the first row: is there a title row above the "
            "header, or is the file in the wrong folder?)"
            if not mapping
            else ""
        )
        raise LandingFileError(
            name, f"missing required column: {', '.join(missing)}{hint}", "line 1"
        )
    return HeaderMap(mapping, tuple(unknown), tuple(blank))


def blank_header_error(name: str, position: int, location: str) -> LandingFileError:
    """The error for data under a blank header cell: the column cannot be placed."""
    return LandingFileError(
        name,
        f"column {position + 1} has values but no header (a blank or merged header cell): "
        "its data would be lost; give the column its contract name, or delete it",
        location,
    )


def select_list(
    contract: EntityContract, mapping: dict[str, int], expr: Callable[[int], str]
) -> str:
    """``"<col>"`` VARCHAR expressions in contract order; absent columns become NULL."""
    parts = []
    for col in contract.column_names:
        source = expr(mapping[col]) if col in mapping else "NULL"
        parts.append(f'CAST({source} AS VARCHAR) AS "{col}"')
    return ", ".join(parts)


def count_rows(con: duckdb.DuckDBPyConnection, table: str) -> int:
    return con.execute(f'SELECT count(*) FROM "{table}"').fetchone()[0]


def first_line(exc: Exception) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
