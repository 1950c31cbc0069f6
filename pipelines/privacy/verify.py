"""Search for values that must be gone: every text column of a DuckDB file, and file bytes.

Used after an erasure (the check ``erasure_verified`` of ``privacy/erasure_log``) with the
erased persons' emails and phone numbers, and by the tests with names too. A value is looked
for as written and in the forms files encode it: JSON with ``\\uXXXX`` escapes and HTML
entities.
"""

from __future__ import annotations

import html
import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import duckdb


@dataclass(frozen=True)
class Finding:
    """Where a searched value was found (never the value itself)."""

    location: str  # "schema.table.column" or a file path
    matches: int


def text_columns(con: duckdb.DuckDBPyConnection) -> dict[str, list[str]]:
    """``{"schema"."table": [columns]}`` of every base table's text columns (views read
    tables, so searching tables covers them)."""
    rows = con.execute(
        """
        select c.schema_name, c.table_name, c.column_name
        from duckdb_columns() as c
        join duckdb_tables() as t using (database_name, schema_name, table_name)
        where c.database_name = current_database() and not t.temporary
            and (c.data_type in ('VARCHAR', 'JSON') or c.data_type like '%VARCHAR%')
        order by 1, 2, c.column_index
        """
    ).fetchall()
    tables: dict[str, list[str]] = {}
    for schema, table, column in rows:
        tables.setdefault(f'"{schema}"."{table}"', []).append(column)
    return tables


def find_in_database(con: duckdb.DuckDBPyConnection, values: Iterable[str]) -> list[Finding]:
    """Cells of any text column (lists of text included) containing one of ``values``."""
    needles = sorted({v for v in values if v})
    if not needles:
        return []
    findings = []
    for table, columns in text_columns(con).items():
        exprs = [
            f"count(*) filter (where len(list_filter($needles, lambda n: "
            f'contains(cast("{c}" as varchar), n))) > 0)'
            for c in columns
        ]
        counts = con.execute(f"select {', '.join(exprs)} from {table}", {"needles": needles})
        for column, n in zip(columns, counts.fetchone(), strict=True):
            if n:
                findings.append(Finding(f"{table.replace(chr(34), '')}.{column}", int(n)))
    return findings


def encoded_forms(value: str) -> set[bytes]:
    """The byte strings ``value`` takes in UTF-8 text, JSON (ASCII-escaped) and HTML."""
    forms = {value, json.dumps(value)[1:-1], html.escape(value), html.escape(value, quote=False)}
    forms |= {json.dumps(html.escape(value))[1:-1]}
    return {f.encode("utf-8") for f in forms if f}


def find_in_files(roots: Iterable[Path], values: Iterable[str]) -> list[Finding]:
    """Files under ``roots`` whose bytes contain one of ``values`` in any encoded form."""
    needles = {form for v in values if v for form in encoded_forms(v)}
    findings = []
    for root in roots:
        if not root.exists():
            continue
        for path in sorted(p for p in root.rglob("*") if p.is_file()):
            hits = _count_in_file(path, needles)
            if hits:
                findings.append(Finding(str(path), hits))
    return findings


def _count_in_file(path: Path, needles: set[bytes], chunk: int = 1 << 24) -> int:
    """Occurrences of ``needles`` in the file, read in chunks that overlap by the longest
    needle (so a match across a chunk boundary is found once)."""
    if not needles:
        return 0
    overlap = max(len(n) for n in needles) - 1
    hits, tail = 0, b""
    with path.open("rb") as fh:
        while block := fh.read(chunk):
            data = tail + block
            # Count only matches that end in the new block: those in the tail were counted.
            hits += sum(data.count(n) - tail.count(n) for n in needles)
            tail = data[-overlap:] if overlap else b""
    return hits
