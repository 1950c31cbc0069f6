"""XLSX into a VARCHAR temp table: the first sheet, header in row 1, rows = sheet rows.

Cells are read by calamine (``python-calamine``, Rust; about 20x openpyxl's row-by-row XML
parsing) and turned into the text a CSV export would have held (:func:`cell_to_text`). Two
kinds of cell calamine can only show as blank: a formula without a stored result (files
written by code rather than Excel) and an error value such as ``#N/A``. A sheet with either
is read by openpyxl instead, which keeps a formula as its text (then quarantined as
formula-like) and an error as its code, so no value is silently lost; the sheet's XML is
scanned for them first (a streamed byte search, a fraction of a parse).

calamine yields the sheet from its first row but from its first *used* column: the columns
before it are added back as blanks, so positions (and the column letters in errors) are the
sheet's own, exactly as openpyxl gives them.
"""

from __future__ import annotations

import re
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb

from pipelines.ingest.contracts import EntityContract
from pipelines.ingest.errors import LandingFileError
from pipelines.ingest.headers import ReadResult, blank_header_error, map_header
from pipelines.ingest.rowwise_readers import BatchWriter, cell_to_text

# <f>, <f t="shared" .../>, <x:f> (a namespace prefix), and cells typed t="e" (errors).
_FORMULA_OR_ERROR = re.compile(rb"<(?:\w+:)?f[\s>/]|\st=\"e\"")
_SCAN_CHUNK = 1 << 20


def _unreadable(name: str, exc: Exception) -> LandingFileError:
    return LandingFileError(name, f"unreadable XLSX: {type(exc).__name__}: {exc}")


def has_formulas_or_errors(path: Path, name: str) -> bool:
    """Whether any worksheet of the file holds a formula or an error cell."""
    try:
        with zipfile.ZipFile(path) as archive:
            sheets = [n for n in archive.namelist() if n.startswith("xl/worksheets/")]
            for sheet in sheets:
                with archive.open(sheet) as fh:
                    tail = b""
                    while block := fh.read(_SCAN_CHUNK):
                        if _FORMULA_OR_ERROR.search(tail + block):
                            return True
                        tail = block[-16:]  # a tag cut at the chunk boundary
    except (zipfile.BadZipFile, OSError, EOFError, RuntimeError) as exc:
        raise _unreadable(name, exc) from None
    return False


def _calamine_rows(path: Path, name: str) -> Iterator[list[Any]]:
    from python_calamine import CalamineWorkbook

    try:
        with CalamineWorkbook.from_path(str(path)) as workbook:
            sheet = workbook.get_sheet_by_index(0)
            start = sheet.start
            if start is None:  # no cell at all
                return
            if start[0] > 0:  # row 1 is blank: there is no header row
                yield []
                return
            before = [None] * start[1]
            for row in sheet.iter_rows():
                yield before + row if before else row
    except LandingFileError:
        raise
    except Exception as exc:  # calamine raises its own errors, zip and XML ones alike
        raise _unreadable(name, exc) from None


def _openpyxl_rows(path: Path, name: str) -> Iterator[tuple[Any, ...]]:
    from openpyxl import load_workbook

    try:
        # data_only=False: a formula is kept as its text and then quarantined as formula-like,
        # instead of silently becoming NULL (a file written by code has no stored result).
        # read_only: rows stream from the sheet XML; a merged header cell then reads as blank
        # beyond its first column, which the blank-header rule catches.
        workbook = load_workbook(path, read_only=True, data_only=False)
    except Exception as exc:  # openpyxl raises zipfile/KeyError/InvalidFileException alike
        raise _unreadable(name, exc) from None
    try:
        yield from workbook.worksheets[0].iter_rows(values_only=True)
    except LandingFileError:
        raise
    except Exception as exc:
        raise _unreadable(name, exc) from None
    finally:
        workbook.close()


def xlsx_rows(path: Path, name: str) -> Iterator[Any]:
    """The first sheet's rows from row 1, each a sequence of cell values from column A."""
    if has_formulas_or_errors(path, name):
        return _openpyxl_rows(path, name)
    return _calamine_rows(path, name)


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


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
    rows = xlsx_rows(path, name)
    header = next(rows, None)
    if not header or all(_blank(h) for h in header):
        raise LandingFileError(name, "empty file (no header row)", "row 1")
    header_map = map_header(header, contract, name)
    writer = BatchWriter(con, table, contract.column_names)
    blank_rows = 0
    for row_number, row in enumerate(rows, start=2):
        if all(_blank(v) for v in row):
            blank_rows += 1
            continue
        for pos in header_map.blank:
            if pos < len(row) and not _blank(row[pos]):
                location = f"row 1, column {_column_letter(pos)}"
                raise blank_header_error(name, pos, location)
        # An empty cell is None from openpyxl and "" from calamine: None either way.
        writer.add(
            row_number,
            {
                c: cell_to_text(row[p]) if p < len(row) and row[p] != "" else None
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
