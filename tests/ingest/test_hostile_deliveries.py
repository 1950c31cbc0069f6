"""The hostile-delivery suite: one realistic broken delivery per case, and its exact outcome.

Covers issue 9's ingestion cases (wrong or mixed encodings, truncated files, timestamps,
merged or blank headers, blank rows, typed Parquet, CSV injection, control characters) and
every case of issue 3 (empty, corrupt and truncated files, undeclared encoding, missing or
unknown columns, wrong types, duplicate keys, bad amounts, dates out of range, unknown
accounts, a 10 MB field, formula and SQL-looking names). Each case asserts either the exact
error of a file that is not loaded (and that nothing of it reached raw or the quarantine), or
the exact loaded values, the exact quarantine reasons, and read = loaded + quarantined.
Fixtures: ``tests/fixtures/ingest/hostile/make_hostile.py`` and ``../make_fixtures.py``.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.ingest.conftest import FIXTURES, assert_reconciles, drop, load, quarantined

HOSTILE = FIXTURES / "hostile"
ACCOUNT_COLUMNS = "account_id, account_name, industry, CAST(updated_at AS VARCHAR)"
ORDER_COLUMNS = (
    "order_id, CAST(order_date AS VARCHAR), CAST(amount_cny AS VARCHAR), "
    "CAST(refund_amount_cny AS VARCHAR), CAST(updated_at AS VARCHAR)"
)
DECLARE = (
    "declare the file's encoding for this source in config/sources.yaml "
    "(encoding: utf-8 | utf-16 | gbk | gb18030 | big5 | windows-1252)"
)
MIXED = "the file mixes encodings (a row saved in another encoding?); export the whole file again in one encoding"  # fmt: skip
CUT = "the last line has no line break: the file looks cut off during transfer; send it again (if it is complete, end it with a line break)"  # fmt: skip
NO_HEADER = "has values but no header (a blank or merged header cell): its data would be lost; give the column its contract name, or delete it"  # fmt: skip


def _huge_field(path: Path) -> None:
    big = "长" * (10 * 1024 * 1024 // 3)
    path.write_text(
        "account_id,account_name,created_at,updated_at\n"
        f"H1,{big},2023-01-01,2023-01-02\nH2,正常公司,2023-01-01,2023-01-02\n",
        encoding="utf-8",
    )


def _escape_in_a_number(path: Path) -> None:
    path.write_text(
        "account_id,account_name,employee_count,created_at,updated_at\n"
        "X1,转义公司,12\x1b[2J,2023-01-01,2024-01-01\nX2,正常公司,12,2023-01-01,2024-01-01\n",
        encoding="utf-8",
    )


@dataclass(frozen=True)
class Case:
    """One delivered file and what must come of it."""

    entity: str
    fixture: str
    error: str | None = None  # the file fails with exactly this error
    loaded: tuple[tuple, ...] = ()  # rows of `columns`, in line order
    quarantine: tuple[tuple[int, str], ...] = ()  # (line, reason)
    encoding: str = "auto"  # declared in sources.yaml
    detected: str | None = None  # the encoding the manifest reports
    blank_rows: int = 0
    unknown: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()  # shown at the end of the run (columns_populated check)
    build: Callable[[Path], None] | None = None  # writes the file instead of a fixture

    @property
    def columns(self) -> str:
        return ACCOUNT_COLUMNS if self.entity == "crm_accounts" else ORDER_COLUMNS


def _a(
    account_id: str,
    name: str,
    industry: str | None = "软件业",
    updated: str = "2024-03-01 10:00:00",
):
    return (account_id, name, industry, updated)


CASES: dict[str, Case] = {
    # ---- item 4: encodings
    "big5 export is detected": Case(
        "crm_accounts", "accounts_big5.csv", detected="big5",
        loaded=(_a("T1", "臺北市信義區科技股份有限公司", "軟體業"),
                _a("T2", "高雄港灣物流股份有限公司", "軟體業"),
                _a("T3", "新竹科學園區半導體有限公司", "軟體業")),
    ),
    "gbk with one utf-8 row that gb18030 would decode": Case(
        "crm_accounts", "accounts_gbk_one_utf8_row_decodable.csv",
        error=f"crm_accounts/accounts_gbk_one_utf8_row_decodable.csv: line 4: this line is utf-8 text inside a gb18030 file: {MIXED}",
    ),
    "gbk with one utf-8 row, declared gbk": Case(
        "crm_accounts", "accounts_gbk_one_utf8_row_decodable.csv", encoding="gbk",
        error=f"crm_accounts/accounts_gbk_one_utf8_row_decodable.csv: line 4: this line is utf-8 text inside a gbk file: {MIXED}",
    ),
    "gbk with one undecodable utf-8 row": Case(
        "crm_accounts", "accounts_gbk_one_utf8_row.csv",
        error=f"crm_accounts/accounts_gbk_one_utf8_row.csv: line 4: this line is utf-8 text inside a gb18030 file: {MIXED}",
    ),
    "utf-8 with one gbk row": Case(
        "crm_accounts", "accounts_utf8_one_gbk_row.csv",
        error="crm_accounts/accounts_utf8_one_gbk_row.csv: line 3: not valid utf-8 although line 2 is utf-8 text: " + MIXED,
    ),
    "utf-8 row first, then gbk rows": Case(
        "crm_accounts", "accounts_utf8_row_first_then_gbk.csv",
        error="crm_accounts/accounts_utf8_row_first_then_gbk.csv: line 3: not valid utf-8 although line 2 is utf-8 text: " + MIXED,
    ),
    "shift-jis is garbled in every chinese encoding": Case(
        "crm_accounts", "accounts_shift_jis.csv",
        error="crm_accounts/accounts_shift_jis.csv: line 2: cannot tell the file's encoding: "
        "not utf-8 (line 2: bytes not valid utf-8 at byte offset 58); "
        "not gb18030 (line 2: looks garbled: 13 of 13 non-ASCII characters are rare or not Chinese); "
        f"not big5 (line 2: bytes not valid big5 at byte offset 58); {DECLARE}",
    ),
    "latin-1 accents, undeclared": Case(
        "crm_accounts", "accounts_latin1.csv",
        error="crm_accounts/accounts_latin1.csv: line 2: cannot tell the file's encoding: "
        "not utf-8 (line 2: bytes not valid utf-8 at byte offset 62); "
        "not gb18030 (line 2: bytes not valid gb18030 at byte offset 64); "
        f"not big5 (line 2: bytes not valid big5 at byte offset 64); {DECLARE}",
    ),
    "latin-1 accents, declared windows-1252": Case(
        "crm_accounts", "accounts_latin1.csv", encoding="windows-1252", detected="windows-1252",
        loaded=(_a("L1", "Société Générale", "Software"), _a("L2", "Müller GmbH Zürich", "Software"),
                _a("L3", "Café São Paulo", "Software")),
    ),
    "genuine gbk with names outside gb2312": Case(
        "crm_accounts", "accounts_gbk_rare_names.csv", detected="gb18030",
        loaded=(_a("R1", "王喆堃科技有限公司"), _a("R2", "李玥文化传播有限公司"),
                _a("R3", "深圳市南山区星河电子有限公司")),
    ),
    "excel unicode text (utf-16 with bom, tabs)": Case(
        "crm_accounts", "accounts_excel_unicode.tsv", detected="utf-16",
        loaded=(_a("U1", "杭州云启科技有限公司"), _a("U2", "北京华信数据服务有限公司"),
                _a("U3", "上海浦东发展科技有限公司")),
    ),
    "utf-16 without bom": Case(
        "orders", "orders_utf16_no_bom.csv",
        error="orders/orders_utf16_no_bom.csv: line 1: NUL byte at byte offset 1: not a text file (UTF-16 without a byte-order mark, or binary?)",
    ),
    # ---- item 5: truncation
    "file cut inside its last value": Case(
        "orders", "orders_cut.csv", error=f"orders/orders_cut.csv: line 3: {CUT}"
    ),
    "gzip cut short": Case(
        "orders", "orders_cut.csv.gz",
        error="orders/orders_cut.csv.gz: unreadable compressed file: Compressed file ended before the end-of-stream marker was reached",
    ),
    "complete file with crlf line ends": Case(
        "orders", "orders_crlf_complete.csv", detected="utf-8",
        loaded=(("C1", "2024-03-01", "100.00", "0.00", "2024-03-01 10:00:00"),
                ("C2", "2024-03-02", "86420.50", "0.00", "2024-03-02 10:00:00")),
    ),
    "header only, no line break": Case("orders", "orders_header_only_no_newline.csv", detected="utf-8"),
    # ---- item 6: timestamps
    "timestamp forms, offsets, 12-hour clock, junk and the future": Case(
        "crm_accounts", "accounts_timestamps.csv", detected="utf-8",
        loaded=(_a("S1", "时间测试1公司", None, "2024-05-29 13:00:00"),
                _a("S2", "时间测试2公司", None, "2024-05-29 00:00:00"),
                _a("S3", "时间测试3公司", None, "2024-05-29 13:00:00"),
                _a("S4", "时间测试4公司", None, "2024-05-29 18:00:00"),
                _a("S5", "时间测试5公司", None, "2024-05-29 09:00:00"),
                _a("S6", "时间测试6公司", None, "2024-05-29 10:00:00.25"),
                _a("S7", "时间测试7公司", None, "2024-05-29 10:00:00"),
                _a("S12", "时间测试12公司", None, "2024-07-01 17:59:59")),
        quarantine=(
            (9, "invalid timestamp: updated_at='2024-05-29 10:00:00 xyz'"),
            (10, "invalid timestamp: updated_at='2024-05-29 13:00:00 PM'"),
            (11, "invalid timestamp: updated_at='2024-05-29 10:00:00.1234567'"),
            (12, "in the future (after 2024-07-01 18:00:00): updated_at='2099-12-31'"),
            (14, "in the future (after 2024-07-01 18:00:00): updated_at='2024-07-01 18:00:01'"),
            (15, "invalid timestamp: updated_at='2024/05/29 10:00:00'"),
        ),
    ),
    "dates at midnight, a time in a date column, the load-date bound": Case(
        "orders", "orders_date_forms.csv", detected="utf-8",
        loaded=(("Q1", "2024-01-15", "1.00", None, "2024-01-20 10:00:00"),
                ("Q2", "2024-01-15", "1.00", None, "2024-01-20 10:00:00"),
                ("Q4", "2024-07-01", "1.00", None, "2024-01-20 10:00:00")),
        quarantine=(
            (4, "invalid date: order_date='2024-01-15 10:30:00'"),
            (6, "date out of range (before 1990-01-01 or after 2024-07-01): order_date=2024-07-02"),
        ),
    ),
    # ---- item 7: headers
    "xlsx header merged over two columns": Case(
        "crm_accounts", "accounts_merged_header.xlsx",
        error=f"crm_accounts/accounts_merged_header.xlsx: row 1, column C: column 3 {NO_HEADER}",
    ),
    "csv blank header over data": Case(
        "crm_accounts", "accounts_blank_header_with_data.csv",
        error=f"crm_accounts/accounts_blank_header_with_data.csv: line 1: column 3 {NO_HEADER}",
    ),
    "xlsx title row above the header": Case(
        "crm_accounts", "accounts_title_row.xlsx",
        error="crm_accounts/accounts_title_row.xlsx: line 1: missing required column: account_id, "
        "account_name, created_at, updated_at (no column of the contract in the first row: is "
        "there a title row above the header, or is the file in the wrong folder?)",
    ),
    "documented column empty in every row": Case(
        "crm_accounts", "accounts_empty_industry.csv", detected="utf-8",
        loaded=tuple(_a(f"E{i:02d}", f"空列{i}公司", None, "2024-01-01 00:00:00") for i in range(1, 26)),
        warnings=(
            "column industry has no value in any of the 25 rows",
            "documented column(s) absent: uscc, employee_count, annual_revenue_cny, province, "
            "city, parent_account_id, owner_team, is_deleted",
        ),
    ),
    "trailing comma: blank header over nothing": Case(
        "crm_accounts", "accounts_trailing_blank_column.csv", detected="utf-8",
        loaded=(_a("B2", "尾逗号公司", None, "2024-01-01 00:00:00"),),
    ),
    # ---- item 9: injection and control characters
    "formula variants, full-width signs, control characters": Case(
        "crm_accounts", "accounts_injection_variants.csv", detected="utf-8",
        loaded=tuple(
            _a(f"F{i}", name, None, "2024-01-01 00:00:00")
            for i, name in ((10, "+86 138 0013 8000"), (11, "-5"), (12, "-"), (13, "--"),
                            (14, "- 无 -"), (15, "-5 is a number not a formula"), (16, "+86 公司"))
        ),
        quarantine=(
            (2, "formula-like value: account_name='+cmd|' /C calc'!A0'"),
            (3, "formula-like value: account_name='=1+1+cmd|' /C calc'!A0'"),
            (4, """formula-like value: account_name='=0+HYPERLINK("http://evil.example","x")'"""),
            (5, """formula-like value: account_name='＝HYPERLINK("http://evil.example","x")'"""),
            (6, "formula-like value: account_name='＋cmd|' /C calc'!A0'"),
            (7, "formula-like value: account_name='－2+3+cmd|' /C calc'!A0'"),
            (8, "formula-like value: account_name='-2+3+cmd|' /C calc'!A0'"),
            (9, "formula-like value: account_name='@SUM(1+1)'"),
            (10, "formula-like value: account_name='=cmd|' /C calc'!A0'"),  # leading tab trimmed
            (18, "control character: account_name contains U+001B"),
            (19, "control character: account_name contains U+0085"),
        ),
    ),
    "escape sequence in a typed column": Case(
        "crm_accounts", "escape.csv", detected="utf-8", build=_escape_in_a_number,
        loaded=(_a("X2", "正常公司", None, "2024-01-01 00:00:00"),),
        quarantine=((2, "invalid integer: employee_count='12\ufffd[2J'"),),
    ),
    "nul character in a json value": Case(
        "crm_accounts", "accounts_nul.jsonl",
        quarantine=((1, "control character: account_name contains U+0000"),),
    ),
    # ---- item 10 and item 8's accepted formats
    "excel trailing blank rows": Case(
        "orders", "orders_excel_blank_rows.csv", detected="utf-8", blank_rows=3,
        loaded=(("C1", "2024-03-01", "100.00", "0.00", "2024-03-01 10:00:00"),
                ("C2", "2024-03-02", "86420.50", "0.00", "2024-03-02 10:00:00")),
    ),
    "pandas parquet with typed columns": Case(
        "orders", "orders_pandas.parquet",
        loaded=(("P1", "2024-01-15", "100.10", None, "2024-01-15 10:00:00"),
                ("P2", "2024-02-01", "200.00", "200.00", "2024-01-15 10:00:00"),
                ("P3", "2024-02-02", "0.30", "0.00", "2024-01-15 10:00:00")),
        quarantine=((4, "invalid date: order_date='2024-02-03 10:30:00'"),
                    (5, "invalid decimal: amount_cny='12.345'")),
    ),
    "gzip csv": Case(
        "orders", "orders.csv.gz", detected="utf-8",
        loaded=(("C1", "2024-03-01", "100.00", "0.00", "2024-03-01 10:00:00"),
                ("C2", "2024-03-02", "86420.50", "0.00", "2024-03-02 10:00:00")),
    ),
    "tsv": Case(
        "orders", "orders.tsv", detected="utf-8",
        loaded=(("C1", "2024-03-01", "100.00", "0.00", "2024-03-01 10:00:00"),
                ("C2", "2024-03-02", "86420.50", "0.00", "2024-03-02 10:00:00")),
    ),
    "gzip tsv": Case(
        "orders", "orders.tsv.gz", detected="utf-8",
        loaded=(("C1", "2024-03-01", "100.00", "0.00", "2024-03-01 10:00:00"),
                ("C2", "2024-03-02", "86420.50", "0.00", "2024-03-02 10:00:00")),
    ),
    # ---- issue 3
    "empty file": Case("orders", "empty.csv", error="orders/empty.csv: empty file (no header row)"),
    "truncated parquet": Case(
        "orders", "orders_truncated.parquet",
        error="orders/orders_truncated.parquet: unreadable Parquet: Invalid Input Error: No magic "
        "bytes found at end of file 'orders/orders_truncated.parquet'",
    ),
    "corrupt xlsx": Case(
        "crm_accounts", "accounts_corrupt.xlsx",
        error="crm_accounts/accounts_corrupt.xlsx: unreadable XLSX: BadZipFile: File is not a zip file",
    ),
    "unterminated quote": Case(
        "orders", "orders_unterminated_quote.csv",
        error="orders/orders_unterminated_quote.csv: line 3: malformed CSV: Value with unterminated quote found.",
    ),
    "missing required column": Case(
        "orders", "orders_missing_column.csv",
        error="orders/orders_missing_column.csv: line 1: missing required column: amount_cny",
    ),
    "extra unknown column": Case(
        "crm_accounts", "accounts_extra_column.csv", detected="utf-8", unknown=("wechat_id",),
        loaded=(_a("E1", "成都天府软件园有限公司", None, "2023-01-02 00:00:00"),),
    ),
    "wrong types": Case(
        "crm_accounts", "accounts_wrong_types.csv", detected="utf-8",
        loaded=(_a("W6", "正常公司", None, "2023-01-02 00:00:00"),),
        quarantine=((2, "invalid integer: employee_count='abc'"),
                    (3, "invalid decimal: annual_revenue_cny='1.234'"),
                    (4, "invalid timestamp: created_at='not-a-date'"),
                    (5, "invalid boolean: is_deleted='maybe'"),
                    (6, "missing required value: account_name")),
    ),
    "duplicate keys in one file": Case(
        "orders", "orders_duplicate_keys.csv", detected="utf-8",
        loaded=(("O1", "2024-01-10", "10.00", None, "2024-01-10 00:00:00"),
                ("O2", "2024-01-10", "30.00", None, "2024-01-10 00:00:00")),
        quarantine=((3, "duplicate key in file: order_id='O1' (first at line 2)"),
                    (5, "duplicate key in file: order_id='O1' (first at line 2)")),
    ),
    "negative and non-numeric amounts": Case(
        "orders", "orders_amounts.csv", detected="utf-8",
        loaded=(("N7", "2024-01-10", "12.30", None, "2024-01-10 00:00:00"),),
        quarantine=((2, "negative amount: amount_cny=-5.00"),
                    (3, "invalid decimal: amount_cny='abc'"),
                    (4, "invalid decimal: amount_cny='1,000.00'"),
                    (5, "refund exceeds amount: refund_amount_cny=150.00 > amount_cny=100.00"),
                    (6, "missing required value: amount_cny"),
                    (7, "not an allowed value: status='shipped'")),
    ),
    "dates in the future and before 1990": Case(
        "orders", "orders_dates.csv", detected="utf-8",
        loaded=(("D4", "2024-06-30", "1.00", None, "2024-06-30 00:00:00"),
                ("D5", "1990-01-01", "1.00", None, "2024-01-10 00:00:00")),
        quarantine=((2, "date out of range (before 1990-01-01 or after 2024-07-01): order_date=2031-01-01"),
                    (3, "date out of range (before 1990-01-01 or after 2024-07-01): order_date=1989-12-31"),
                    (4, "invalid date: order_date='2024/01/10'")),
    ),
    "order for an unknown account": Case(
        "orders", "orders_unknown_account.csv", detected="utf-8",
        loaded=(("U2", "2024-01-10", "1.00", None, "2024-01-10 00:00:00"),),
        quarantine=((2, "unknown account: account_id='A999'"),),
    ),
    "ten megabyte field": Case(
        "crm_accounts", "huge.csv", detected="utf-8", build=_huge_field,
        loaded=(_a("H2", "正常公司", None, "2023-01-02 00:00:00"),),
        quarantine=((2, "field too long: account_name has 3495253 characters (limit 4096)"),),
    ),
    "formula and sql-looking names": Case(
        "crm_accounts", "accounts_injection.csv", detected="utf-8",
        loaded=(_a("F3", "'; DROP TABLE raw.orders; --", None, "2023-01-02 00:00:00"),
                _a("F4", "-5 is a number not a formula", None, "2023-01-02 00:00:00"),
                _a("F5", "+86 公司", None, "2023-01-02 00:00:00")),
        quarantine=((2, """formula-like value: account_name='=HYPERLINK("http://evil.example","点我")'"""),
                    (3, "formula-like value: account_name='@SUM(A1:A9)'")),
    ),
}  # fmt: skip


def _deliver(landing: Path, case: Case) -> Path:
    target = landing / case.entity / case.fixture
    target.parent.mkdir(parents=True, exist_ok=True)
    if case.build:
        case.build(target)
    else:
        source = HOSTILE / case.fixture
        shutil.copyfile(source if source.exists() else FIXTURES / case.fixture, target)
    return target


@pytest.mark.parametrize("case", list(CASES.values()), ids=list(CASES))
def test_hostile_delivery(con, landing, case: Case):
    drop(landing, "crm_accounts", "accounts_utf8_bom.csv")  # A1-A3, which orders reference
    load(con, landing, "crm_accounts", run_id="accounts")
    _deliver(landing, case)
    report = load(con, landing, case.entity, encoding=case.encoding)
    (result,) = [f for f in report.files if f.path == f"{case.entity}/{case.fixture}"]
    own = f"_source_file = '{case.entity}/{case.fixture}'"
    rows = con.execute(
        f'SELECT {case.columns} FROM raw."{case.entity}" WHERE {own} ORDER BY _source_line'
    ).fetchall()
    mine = [(line, reason) for line, reason in quarantined(con, case.entity)]
    if case.error is not None:
        assert (result.status, result.note) == ("failed", case.error)
        assert (rows, mine) == ([], [])
        return
    assert result.status == "loaded", result.note
    assert rows == list(case.loaded)
    assert mine == list(case.quarantine)
    assert (result.rows_read, result.rows_loaded, result.rows_quarantined) == (
        len(case.loaded) + len(case.quarantine),
        len(case.loaded),
        len(case.quarantine),
    )
    assert result.blank_rows == case.blank_rows
    assert result.encoding == case.detected
    assert result.unknown_columns == case.unknown
    assert result.warnings == case.warnings
    note = con.execute(
        "SELECT note FROM raw._file_manifest WHERE path = ? AND status = 'loaded'",
        [result.path],
    ).fetchone()[0]
    assert note == ("; ".join(case.warnings) or None)
    assert_reconciles(con)
