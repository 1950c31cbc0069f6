"""XLSX read by calamine gives the table openpyxl gave; formulas and error cells stay openpyxl's.

calamine is the fast path; openpyxl (the reader before it) is the reference: every sheet
shape here is read both ways and the temp tables, row numbers, counts and errors compared.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from openpyxl import Workbook

from pipelines.ingest import xlsx_reader
from pipelines.ingest.contracts import get_contract
from pipelines.ingest.errors import LandingFileError
from tests.ingest.conftest import FIXTURES, drop, load, quarantined

ACCOUNTS = get_contract("crm_accounts")
HEADER = ["account_id", "account_name", "employee_count", "created_at", "updated_at"]


def _sheet(path: Path, cells: dict[str, object]) -> Path:
    wb = Workbook()
    ws = wb.active
    for ref, value in cells.items():
        ws[ref] = value
    wb.save(path)
    return path


def _rows_sheet(path: Path, rows: list[list[object]], at: str = "A1") -> Path:
    """``rows`` written from cell ``at`` (column letter + row number)."""
    col0, row0 = ord(at[0]) - ord("A"), int(at[1:])
    cells = {}
    for r, row in enumerate(rows):
        for c, value in enumerate(row):
            if value is not None:
                cells[f"{chr(ord('A') + col0 + c)}{row0 + r}"] = value
    return _sheet(path, cells)


def _read(con, path: Path, engine: str, monkeypatch) -> tuple:
    """(rows of the temp table, ReadResult fields) or the error text, read by ``engine``."""
    monkeypatch.setattr(xlsx_reader, "has_formulas_or_errors", lambda *_: engine == "openpyxl")
    con.execute('DROP TABLE IF EXISTS "t"')  # left by a read that failed half-way
    try:
        result = xlsx_reader.read_xlsx(con, path, ACCOUNTS, "t", path.name)
    except LandingFileError as exc:
        return ("error", str(exc))
    rows = con.execute('SELECT * FROM "t" ORDER BY _source_line').fetchall()
    con.execute('DROP TABLE "t"')
    return rows, result.rows, result.columns, result.unknown_columns, result.blank_rows


TYPED_ROWS = [
    HEADER + ["备注"],
    ["X1", "广州白云国际物流有限公司", 88, dt.datetime(2020, 2, 2, 8), "2024-01-01 00:00:00", "a"],
    [None] * 6,
    ["X2", "  武汉光谷  ", 1500.5, dt.date(2021, 3, 3), dt.datetime(2024, 1, 2), None],
    ["X3", "零点公司", -0.0, dt.datetime(2021, 3, 3), dt.time(10, 30), True],
    ["X4", 12345678901234567, 1e20, "2021-03-03", dt.timedelta(days=1, hours=2), False],
]


@pytest.mark.parametrize(
    "shape",
    [
        "typed values and a blank row",
        "data from column C",
        "blank first row",
        "header only",
        "empty sheet",
        "merged header fixture",
        "title row fixture",
        "typed fixture",
    ],
)
def test_calamine_reads_what_openpyxl_read(con, tmp_path, monkeypatch, shape):
    path = tmp_path / "accounts.xlsx"
    if shape == "typed values and a blank row":
        _rows_sheet(path, TYPED_ROWS)
    elif shape == "data from column C":
        _rows_sheet(path, TYPED_ROWS, at="C1")
    elif shape == "blank first row":
        _rows_sheet(path, TYPED_ROWS, at="A2")
    elif shape == "header only":
        _rows_sheet(path, [HEADER])
    elif shape == "empty sheet":
        _sheet(path, {})
    else:
        name = {
            "merged header fixture": "hostile/accounts_merged_header.xlsx",
            "title row fixture": "hostile/accounts_title_row.xlsx",
            "typed fixture": "accounts.xlsx",
        }[shape]
        path = FIXTURES / name
    fast = _read(con, path, "calamine", monkeypatch)
    reference = _read(con, path, "openpyxl", monkeypatch)
    assert fast == reference
    if shape == "typed values and a blank row":
        rows = fast[0]
        assert [r[0] for r in rows] == [2, 4, 5, 6]  # sheet rows; row 3 blank, skipped
        assert rows[0][1:6] == ("X1", "广州白云国际物流有限公司", None, None, "88")
        assert rows[1][4:6] == (None, "1500.5") and rows[2][5] == "0"
        assert fast[3] == ("备注",) and fast[4] == 1
    if shape == "data from column C":  # blank columns A-B (no data under them) are no error
        assert [(r[0], r[1]) for r in fast[0]] == [(2, "X1"), (4, "X2"), (5, "X3"), (6, "X4")]
    if shape in ("blank first row", "empty sheet"):
        assert fast == ("error", "accounts.xlsx: row 1: empty file (no header row)")


def test_the_generators_survey_export_reads_the_same(con, tmp_path, monkeypatch):
    from pipelines.generate.world import generate_world
    from pipelines.generate.writers import write_surveys

    world = generate_world(300, seed=11, as_of=dt.date(2025, 6, 30), years=1)
    (path,) = write_surveys(world.landing_frames()["surveys"], tmp_path, dt.date(2025, 6, 30))
    contract = get_contract("surveys")
    tables = []
    for engine in ("calamine", "openpyxl"):
        monkeypatch.setattr(
            xlsx_reader, "has_formulas_or_errors", lambda *_, e=engine: e != "calamine"
        )
        xlsx_reader.read_xlsx(con, path, contract, "t", path.name)
        tables.append(con.execute('SELECT * FROM "t" ORDER BY _source_line').fetchall())
        con.execute('DROP TABLE "t"')
    assert len(tables[0]) == len(world.landing_frames()["surveys"]) > 50
    assert tables[0] == tables[1]


def test_formula_and_error_cells_are_detected(tmp_path):
    plain = _rows_sheet(tmp_path / "plain.xlsx", TYPED_ROWS)
    formula = _sheet(tmp_path / "formula.xlsx", {"A1": "account_id", "B2": "=1+1"})
    error = _sheet(tmp_path / "error.xlsx", {"A1": "account_id"})
    from openpyxl import load_workbook

    wb = load_workbook(error)
    wb.active["B2"] = "#N/A"
    wb.active["B2"].data_type = "e"
    wb.save(error)
    assert not xlsx_reader.has_formulas_or_errors(plain, "plain.xlsx")
    assert xlsx_reader.has_formulas_or_errors(formula, "formula.xlsx")
    assert xlsx_reader.has_formulas_or_errors(error, "error.xlsx")


def test_a_formula_without_stored_result_is_quarantined_not_blanked(con, landing):
    """calamine would read the formula cell as blank: the file goes through openpyxl, which
    keeps the formula text, and the row is quarantined as formula-like."""
    rows = [
        HEADER,
        ["F1", '=HYPERLINK("http://evil.example","x")', 5, "2023-01-01", "2024-01-01"],
        ["F2", "正常公司", 6, "2023-01-01", "2024-01-01"],
    ]
    (landing / "crm_accounts").mkdir()
    _rows_sheet(landing / "crm_accounts" / "formula.xlsx", rows)
    report = load(con, landing, "crm_accounts")
    assert report.rows_loaded == 1
    assert quarantined(con, "crm_accounts") == [
        (2, """formula-like value: account_name='=HYPERLINK("http://evil.example","x")'""")
    ]


def test_a_corrupt_file_names_the_reason(con, landing):
    drop(landing, "crm_accounts", "accounts_corrupt.xlsx")
    report = load(con, landing, "crm_accounts")
    (failed,) = report.failed
    assert failed.note == (
        "crm_accounts/accounts_corrupt.xlsx: unreadable XLSX: BadZipFile: File is not a zip file"
    )
