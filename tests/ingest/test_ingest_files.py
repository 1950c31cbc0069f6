"""File-level behaviour: formats, encodings, and files that cannot be read at all."""

from __future__ import annotations

import pytest

from pipelines.ingest.contracts import get_contract
from pipelines.ingest.readers import LandingFileError, read_landing_file
from tests.ingest.conftest import (
    FIXTURES,
    assert_reconciles,
    drop,
    load,
    load_accounts,
    quarantined,
)


def _manifest_count(con) -> int:
    """Files recorded as loaded (failed files are recorded too, as status 'failed')."""
    return con.execute(
        "SELECT count(*) FROM raw._file_manifest WHERE status = 'loaded'"
    ).fetchone()[0]


def _failed_rows(con) -> list[tuple[str, str]]:
    return con.execute(
        "SELECT path, note FROM raw._file_manifest WHERE status = 'failed' ORDER BY path"
    ).fetchall()


def _single_failure(report) -> str:
    assert [f.status for f in report.files] == ["failed"]
    return report.failed[0].error


@pytest.mark.parametrize(
    ("entity", "fixture", "encoding", "expected"),
    [
        ("orders", "empty.csv", "auto", "orders/empty.csv: empty file (no header row)"),
        (
            "orders",
            "orders_unterminated_quote.csv",
            "auto",
            "orders/orders_unterminated_quote.csv: line 3: malformed CSV: "
            "Value with unterminated quote found.",
        ),
        (
            "orders",
            "orders_utf16_no_bom.csv",
            "auto",
            "orders/orders_utf16_no_bom.csv: line 1: NUL byte at byte offset 1: not a text file "
            "(UTF-16 without a byte-order mark, or binary?)",
        ),
        (
            "orders",
            "orders_latin1.csv",
            "utf-8",
            "orders/orders_latin1.csv: line 2: bytes not valid utf-8 at byte offset 131 "
            "(declared encoding: utf-8)",
        ),
        (
            "orders",
            "orders_missing_column.csv",
            "auto",
            "orders/orders_missing_column.csv: line 1: missing required column: amount_cny",
        ),
    ],
)
def test_unreadable_csv_fails_with_file_line_and_reason(
    con, landing, entity, fixture, encoding, expected
):
    drop(landing, entity, fixture)
    report = load(con, landing, entity, encoding=encoding)
    assert _single_failure(report) == expected
    # Nothing of a failed file is loaded: not in raw or quarantine; the manifest lists it as
    # failed with the error, so an operator sees it in the warehouse too.
    assert _manifest_count(con) == 0
    assert _failed_rows(con) == [(f"{entity}/{fixture}", expected)]
    assert con.execute("SELECT count(*) FROM raw.orders").fetchone()[0] == 0
    assert quarantined(con, entity) == []


def test_latin1_bytes_offset_points_at_the_bad_byte():
    data = (FIXTURES / "orders_latin1.csv").read_bytes()
    assert data[131] == 0xE9  # the é of "café": the offset in the message above is exact


def test_truncated_parquet_and_corrupt_xlsx_fail(con, landing):
    drop(landing, "orders", "orders_truncated.parquet")
    drop(landing, "crm_accounts", "accounts_corrupt.xlsx")
    orders_error = _single_failure(load(con, landing, "orders"))
    accounts_error = _single_failure(load(con, landing, "crm_accounts"))
    assert orders_error.startswith("orders/orders_truncated.parquet: unreadable Parquet: ")
    assert accounts_error.startswith("crm_accounts/accounts_corrupt.xlsx: unreadable XLSX: ")
    assert _manifest_count(con) == 0
    assert [path for path, _ in _failed_rows(con)] == [
        "crm_accounts/accounts_corrupt.xlsx",
        "orders/orders_truncated.parquet",
    ]


def test_random_binary_csv_is_rejected_when_auto_detecting(con, landing):
    path = landing / "orders" / "noise.csv"
    path.parent.mkdir(parents=True)
    # Valid in neither UTF-8 nor GB18030 (0xFF is never a GB18030 lead byte), no NUL bytes.
    path.write_bytes(b"order_id,account_id\n\xff\xfe\xfd\x80\x81")
    error = _single_failure(load(con, landing, "orders"))
    assert error == (
        "orders/noise.csv: line 2: cannot tell the file's encoding: "
        "not utf-8 (line 2: bytes not valid utf-8 at byte offset 20); "
        "not gb18030 (line 2: bytes not valid gb18030 at byte offset 20); "
        "not big5 (line 2: bytes not valid big5 at byte offset 20); "
        "declare the file's encoding for this source in config/sources.yaml "
        "(encoding: utf-8 | utf-16 | gbk | gb18030 | big5 | windows-1252)"
    )


def test_reader_raises_landing_file_error_with_attributes(con):
    with pytest.raises(LandingFileError) as info:
        read_landing_file(con, FIXTURES / "orders_missing_column.csv", get_contract("orders"), "_t")
    assert info.value.reason == "missing required column: amount_cny"
    assert info.value.location == "line 1"


@pytest.mark.parametrize(
    ("fixture", "expected_names"),
    [
        (
            "accounts_utf8_bom.csv",
            {
                "A1": "杭州云启科技有限公司",
                "A2": "北京华信数据服务有限公司",
                "A3": '深圳市南山区"星河"电子有限公司',
            },
        ),
        ("accounts_gbk.csv", {"G1": "上海浦东发展科技有限公司"}),
        ("accounts_gb18030.csv", {"G2": "𠮷野家餐饮管理（上海）有限公司"}),
        ("accounts.xlsx", {"X1": "广州白云国际物流有限公司", "X2": "武汉光谷生物医药有限公司"}),
    ],
)
def test_encodings_and_formats_keep_chinese_text(con, landing, fixture, expected_names):
    drop(landing, "crm_accounts", fixture)
    report = load(con, landing, "crm_accounts")
    assert report.rows_quarantined == 0, quarantined(con, "crm_accounts")
    names = dict(con.execute("SELECT account_id, account_name FROM raw.crm_accounts").fetchall())
    assert names == expected_names
    assert_reconciles(con)


def test_detected_encoding_is_reported(con, landing):
    drop(landing, "crm_accounts", "accounts_gbk.csv")
    drop(landing, "crm_accounts", "accounts_utf8_bom.csv")
    encodings = {f.path: f.encoding for f in load(con, landing, "crm_accounts").files}
    assert encodings == {
        "crm_accounts/accounts_gbk.csv": "gb18030",
        "crm_accounts/accounts_utf8_bom.csv": "utf-8",
    }


def test_declared_gbk_reads_gbk(con, landing):
    drop(landing, "crm_accounts", "accounts_gbk.csv")
    report = load(con, landing, "crm_accounts", encoding="gbk")
    assert report.files[0].encoding == "gbk"
    assert con.execute("SELECT account_name FROM raw.crm_accounts").fetchone()[0] == (
        "上海浦东发展科技有限公司"
    )


def test_csv_values_are_typed_and_lines_are_records(con, landing):
    drop(landing, "crm_accounts", "accounts_utf8_bom.csv")
    load(con, landing, "crm_accounts")
    rows = con.execute(
        "SELECT account_id, employee_count, annual_revenue_cny, created_at, updated_at, "
        "is_deleted, parent_account_id, _source_line, _source_file "
        "FROM raw.crm_accounts ORDER BY account_id"
    ).fetchall()
    a1, a2, a3 = rows
    assert a1[1] == 120 and str(a1[2]) == "35000000.00" and a1[5] is False
    assert str(a2[3]) == "2021-06-01 00:00:00" and str(a2[4]) == "2024-02-01 08:00:00"
    assert a2[5] is False and a2[6] == "A1"
    assert a3[1] is None and str(a3[2]) == "1200000.50" and a3[6] is None
    assert [r[7] for r in rows] == [2, 3, 4]  # header is line 1
    assert {r[8] for r in rows} == {"crm_accounts/accounts_utf8_bom.csv"}


def test_xlsx_rows_are_sheet_rows_and_cells_are_typed(con, landing):
    drop(landing, "crm_accounts", "accounts.xlsx")
    load(con, landing, "crm_accounts")
    rows = con.execute(
        "SELECT account_id, employee_count, created_at, is_deleted, _source_line "
        "FROM raw.crm_accounts ORDER BY account_id"
    ).fetchall()
    assert [(r[0], r[1], r[3], r[4]) for r in rows] == [
        ("X1", 88, False, 2),
        ("X2", 1500, True, 4),  # row 3 is blank and skipped, line numbers stay sheet rows
    ]
    assert str(rows[0][2]) == "2020-02-02 08:00:00"


def test_jsonl_loads_with_line_numbers_and_reports_unknown_keys(con, landing):
    load_accounts(con, landing)
    drop(landing, "crm_leads", "leads.jsonl")
    report = load(con, landing, "crm_leads")
    assert report.unknown_columns == {"crm_leads/leads.jsonl": ["备注"]}
    loaded = con.execute(
        "SELECT lead_id, status, is_deleted, _source_line FROM raw.crm_leads ORDER BY lead_id"
    ).fetchall()
    assert loaded == [("L1", "open", False, 1), ("L2", "converted", None, 3)]
    assert quarantined(con, "crm_leads") == [(4, "not an allowed value: status='won'")]
    assert_reconciles(con)


def test_parquet_loads_with_row_index_and_case_insensitive_columns(con, landing):
    load_accounts(con, landing)
    drop(landing, "orders", "orders.parquet")
    report = load(con, landing, "orders")
    assert report.rows_loaded == 3 and report.rows_quarantined == 0
    rows = con.execute(
        "SELECT order_id, account_id, CAST(order_date AS VARCHAR), CAST(amount_cny AS VARCHAR), "
        "refund_amount_cny IS NULL, product_line, _source_line FROM raw.orders ORDER BY order_id"
    ).fetchall()
    assert rows[0] == ("P1", "A1", "2024-01-15", "100.50", True, "云服务", 1)
    assert [r[6] for r in rows] == [1, 2, 3]
    assert_reconciles(con)


def test_extra_unknown_column_is_reported_and_ignored(con, landing):
    drop(landing, "crm_accounts", "accounts_extra_column.csv")
    report = load(con, landing, "crm_accounts")
    assert report.unknown_columns == {"crm_accounts/accounts_extra_column.csv": ["wechat_id"]}
    assert report.rows_loaded == 1
    # Padded/mixed-case headers still map to the contract names.
    assert con.execute("SELECT account_id, account_name FROM raw.crm_accounts").fetchall() == [
        ("E1", "成都天府软件园有限公司")
    ]
    raw_values = con.execute("SELECT count(*) FROM raw._quarantine").fetchone()[0]
    assert raw_values == 0


def test_ten_megabyte_field_is_read_and_quarantined(con, landing):
    big = "长" * (10 * 1024 * 1024 // 3) + "x" * 10  # ~10 MB of UTF-8 in one field
    path = landing / "crm_accounts" / "huge.csv"
    path.parent.mkdir(parents=True)
    path.write_text(
        "account_id,account_name,created_at,updated_at\n"
        f"H1,{big},2023-01-01,2023-01-02\n"
        "H2,正常公司,2023-01-01,2023-01-02\n",
        encoding="utf-8",
    )
    report = load(con, landing, "crm_accounts")
    assert (report.rows_read, report.rows_loaded, report.rows_quarantined) == (2, 1, 1)
    assert quarantined(con, "crm_accounts") == [
        (2, f"field too long: account_name has {len(big)} characters (limit 4096)")
    ]
    raw_values = con.execute("SELECT raw_values FROM raw._quarantine").fetchone()[0]
    assert len(raw_values) < 20_000  # the stored original is cut, not 10 MB
    assert f"[truncated: {len(big)} characters]" in raw_values
    assert_reconciles(con)
