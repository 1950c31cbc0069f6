"""Row-level rules: every bad row lands in raw._quarantine with its exact reason."""

from __future__ import annotations

import itertools
import json

import duckdb

from pipelines.ingest.validation import WHITESPACE_SQL, trimmed
from tests.ingest.conftest import assert_reconciles, drop, load, load_accounts, quarantined


def test_wrong_types_and_missing_required_values(con, landing):
    drop(landing, "crm_accounts", "accounts_wrong_types.csv")
    report = load(con, landing, "crm_accounts")
    assert quarantined(con, "crm_accounts") == [
        (2, "invalid integer: employee_count='abc'"),
        (3, "invalid decimal: annual_revenue_cny='1.234'"),
        (4, "invalid timestamp: created_at='not-a-date'"),
        (5, "invalid boolean: is_deleted='maybe'"),
        (6, "missing required value: account_name"),
    ]
    # Excel-style "12.0" is the integer 12 and "yes" is true.
    assert con.execute(
        "SELECT account_id, employee_count, is_deleted FROM raw.crm_accounts"
    ).fetchall() == [("W6", 12, True)]
    assert report.reason_counts["invalid integer: employee_count"] == 1
    assert_reconciles(con)


def test_quarantine_keeps_original_strings_as_json(con, landing):
    drop(landing, "crm_accounts", "accounts_wrong_types.csv")
    load(con, landing, "crm_accounts")
    raw = con.execute("SELECT raw_values FROM raw._quarantine WHERE source_line = 2").fetchone()[0]
    values = json.loads(raw)
    assert values["account_id"] == "W1"
    assert values["employee_count"] == "abc"
    assert values["uscc"] == ""  # empty in the file, kept as the original empty string


def test_negative_and_non_numeric_amounts(con, landing):
    load_accounts(con, landing)
    drop(landing, "orders", "orders_amounts.csv")
    load(con, landing, "orders")
    assert quarantined(con, "orders") == [
        (2, "negative amount: amount_cny=-5.00"),
        (3, "invalid decimal: amount_cny='abc'"),
        (4, "invalid decimal: amount_cny='1,000.00'"),
        (5, "refund exceeds amount: refund_amount_cny=150.00 > amount_cny=100.00"),
        (6, "missing required value: amount_cny"),
        (7, "not an allowed value: status='shipped'"),
    ]
    # Surrounding blanks are trimmed before typing.
    assert con.execute(
        "SELECT order_id, CAST(amount_cny AS VARCHAR) FROM raw.orders"
    ).fetchall() == [("N7", "12.30")]
    assert_reconciles(con)


def test_dates_in_future_and_before_1990(con, landing):
    load_accounts(con, landing)
    drop(landing, "orders", "orders_dates.csv")
    load(con, landing, "orders")
    # The latest date is the load date plus the 24-hour tolerance (conftest.LOAD_TIME).
    window = "date out of range (before 1990-01-01 or after 2024-07-01)"
    assert quarantined(con, "orders") == [
        (2, f"{window}: order_date=2031-01-01"),
        (3, f"{window}: order_date=1989-12-31"),
        (4, "invalid date: order_date='2024/01/10'"),
    ]
    # Both bounds are inclusive.
    assert sorted(r[0] for r in con.execute("SELECT order_id FROM raw.orders").fetchall()) == [
        "D4",
        "D5",
    ]
    assert_reconciles(con)


def test_duplicate_keys_in_one_file_keep_the_first(con, landing):
    load_accounts(con, landing)
    drop(landing, "orders", "orders_duplicate_keys.csv")
    load(con, landing, "orders")
    assert quarantined(con, "orders") == [
        (3, "duplicate key in file: order_id='O1' (first at line 2)"),
        (5, "duplicate key in file: order_id='O1' (first at line 2)"),
    ]
    assert con.execute(
        "SELECT order_id, _source_line FROM raw.orders ORDER BY _source_line"
    ).fetchall() == [("O1", 2), ("O2", 4)]
    assert_reconciles(con)


def test_composite_key_allowed_values_and_negatives_in_gbk_risk(con, landing):
    drop(landing, "risk", "risk_gbk.csv")
    load(con, landing, "risk")
    assert quarantined(con, "risk") == [
        (
            3,
            "duplicate key in file: uscc='91330100MA27XL0E2K', as_of_date='2024-05-01' (first at line 2)",
        ),
        (4, "not an allowed value: credit_rating='ZZ'"),
    ]
    assert con.execute("SELECT credit_rating, abnormal_operation FROM raw.risk").fetchall() == [
        ("AA", False)
    ]
    assert_reconciles(con)


def test_negative_values_in_integer_and_decimal_columns(con, landing):
    path = landing / "risk" / "neg.csv"
    path.parent.mkdir(parents=True)
    path.write_text(
        "uscc,as_of_date,overdue_amount_cny,lawsuit_count\nU1,2024-05-01,-1,0\nU2,2024-05-01,0,-2\n",
        encoding="utf-8",
    )
    load(con, landing, "risk")
    assert quarantined(con, "risk") == [
        (2, "negative amount: overdue_amount_cny=-1"),
        (3, "negative value: lawsuit_count=-2"),
    ]


def test_survey_score_ranges(con, landing):
    load_accounts(con, landing)
    path = landing / "surveys" / "s.csv"
    path.parent.mkdir(parents=True)
    path.write_text(
        "response_id,account_id,survey_date,nps_score,csat_score\n"
        "S1,A1,2024-05-01,11,\nS2,A1,2024-05-01,10,0\nS3,A1,2024-05-01,0,5\n",
        encoding="utf-8",
    )
    load(con, landing, "surveys")
    assert quarantined(con, "surveys") == [
        (2, "out of range (0 to 10): nps_score=11"),
        (3, "out of range (1 to 5): csat_score=0"),
    ]


def test_order_for_unknown_account(con, landing):
    load_accounts(con, landing)
    drop(landing, "orders", "orders_unknown_account.csv")
    load(con, landing, "orders")
    assert quarantined(con, "orders") == [(2, "unknown account: account_id='A999'")]
    assert con.execute("SELECT order_id FROM raw.orders").fetchall() == [("U2",)]
    assert_reconciles(con)


def test_without_accounts_every_order_is_unknown(con, landing):
    drop(landing, "orders", "orders_batch1.csv")
    report = load(con, landing, "orders")
    assert report.rows_loaded == 0
    assert report.reason_counts == {"unknown account": 2}


def test_formula_like_values_quarantined_sql_looking_text_loaded_verbatim(con, landing):
    load_accounts(con, landing)
    drop(landing, "orders", "orders_batch1.csv")
    load(con, landing, "orders")
    drop(landing, "crm_accounts", "accounts_injection.csv")
    load(con, landing, "crm_accounts", run_id="run-2")
    assert quarantined(con, "crm_accounts") == [
        (2, """formula-like value: account_name='=HYPERLINK("http://evil.example","点我")'"""),
        (3, "formula-like value: account_name='@SUM(A1:A9)'"),
    ]
    names = dict(
        con.execute(
            "SELECT account_id, account_name FROM raw.crm_accounts WHERE account_id LIKE 'F%'"
        ).fetchall()
    )
    assert names == {
        "F3": "'; DROP TABLE raw.orders; --",
        "F4": "-5 is a number not a formula",
        "F5": "+86 公司",
    }
    # The SQL-looking value was data, not code: raw.orders is intact.
    assert con.execute("SELECT count(*) FROM raw.orders").fetchone()[0] == 2
    assert_reconciles(con)


def test_the_guarded_trim_is_trim_with_the_whitespace_set_on_every_value():
    """The guard (first code point, last character) never skips a value trim would change."""
    blanks = [" ", "\t", "\n", "\r", "\r\n", "\u00a0", "\u3000"]
    cores = ["", "云启科技", "a b", "e\u0301", "👩\u200d💻", "\u3000x\u3000y", "x\u00a0", "-5"]
    values = [None] + [
        left + core + right
        for core in cores
        for left, right in itertools.product(["", *blanks], ["", *blanks, " \u3000"])
    ]
    con = duckdb.connect()
    con.execute("create table v (x varchar)")
    con.executemany("insert into v values (?)", [[x] for x in values])
    rows = con.execute(
        f"select x, {trimmed('x')} as fast, trim(x, {WHITESPACE_SQL}) as slow from v"
    ).fetchall()
    assert len(rows) == len(values) > 500
    assert [r for r in rows if r[1] is not r[2] and r[1] != r[2]] == []
    assert sum(r[0] != r[1] for r in rows if r[0] is not None) > 400  # most were trimmed
