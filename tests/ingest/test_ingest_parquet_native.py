"""Typed Parquet columns validated in their own type give exactly what their text gave.

The Parquet reader keeps a column whose type is already the contract's (DATE, naive
timestamps, integers, decimals of <= 2 places, booleans) typed instead of turning it into
text that validation parses back. These files hold good and bad values of every such type;
(Parquet rows are numbered from 1, no header.) Each is validated both ways (the text path forced by declaring no column native) and every
typed value, rule, reason and original value must match.
"""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

import duckdb
import pytest

from pipelines.ingest import parquet_reader
from pipelines.ingest.contracts import get_contract
from pipelines.ingest.manifest import ensure_raw_schema
from pipelines.ingest.readers import read_landing_file
from pipelines.ingest.validation import parameters, validation_sql

MAX_DATE, MAX_TS = date(2024, 7, 1), datetime(2024, 7, 1, 18, 0)

ORDERS = """
select * from (values
    ('N1', 'A1', date '2024-01-15', 'completed', 100.10::decimal(10,2), null::decimal(10,2),
     'x', timestamp_ns '2024-01-15 10:00:00.123456789'),
    ('N2', 'A1', date '1989-12-31', 'completed', 5.00, 0.00, 'x', timestamp_ns '2024-01-15 10:00:00'),
    ('N3', 'A1', date '2031-01-01', 'completed', 5.00, 0.00, 'x', timestamp_ns '2024-01-15 10:00:00'),
    ('N4', 'A1', null, 'completed', 5.00, 0.00, 'x', timestamp_ns '2024-01-15 10:00:00'),
    ('N5', 'A1', date '2024-01-15', 'completed', -5.00, 0.00, 'x', timestamp_ns '2024-01-15 10:00:00'),
    ('N6', 'A1', date '2024-01-15', 'completed', 5.00, 7.50, 'x', timestamp_ns '2024-01-15 10:00:00'),
    ('N7', 'A1', date '2024-01-15', 'completed', 5.00, 0.00, 'x', timestamp_ns '2031-05-05 00:00:01'),
    ('N7', 'A1', date '2024-01-16', 'completed', 6.00, 0.00, 'x', timestamp_ns '2024-01-16 10:00:00'),
    ('N8', 'ZZ', date '2024-01-15', 'completed', 5.00, 0.00, 'x', timestamp_ns '2024-01-15 10:00:00'),
    ('N9', 'A1', date '2024-01-15', 'completed', 5.00, 0.00, 'x', null)
) as t(order_id, account_id, order_date, status, amount_cny, refund_amount_cny, product_line,
       updated_at)
"""
ACCOUNTS = """
select * from (values
    ('K1', '一公司', 120::ubigint, 3500000.50::decimal(38,2), date '2020-01-05',
     timestamp '2024-03-01 10:00:00', false),
    ('K2', '二公司', 18446744073709551615::ubigint, 1e20::decimal(38,2), date '2020-01-05',
     timestamp '2024-03-01 10:00:00', null),
    ('K3', '三公司', null, -1.00::decimal(38,2), date '1980-01-01',
     timestamp '2024-03-01 10:00:00.5', true),
    ('K4', '四公司', 7::ubigint, 1.00::decimal(38,2), date '2020-01-05', null, true),
    ('K5', '五公司', 7::ubigint, 1e20::decimal(38,2), date '2020-01-05',
     timestamp '2024-03-01 10:00:00', true)
) as t(account_id, account_name, employee_count, annual_revenue_cny, created_at, updated_at,
       is_deleted)
"""
RISK = """
select * from (values
    ('91330100MA27XL0X1A', date '2024-03-01', 'AA', 0.00::decimal(12,2), 3::integer, false),
    ('91330100MA27XL0X1A', date '2024-03-01', 'A', 1.00::decimal(12,2), 4::integer, true),
    ('91330100MA27XL0X1A', date '2024-03-02', 'A', 1.00::decimal(12,2), -4::integer, true),
    ('91330100MA27XL0X1A', date '2024-03-03', 'A', 1.005::decimal(12,3), 100000::integer, true)
) as t(uscc, as_of_date, credit_rating, overdue_amount_cny, lawsuit_count, abnormal_operation)
"""


def _validated(con: duckdb.DuckDBPyConnection, path: Path, entity: str) -> list[tuple]:
    contract = get_contract(entity)
    con.execute('DROP TABLE IF EXISTS "src"')
    read = read_landing_file(con, path, contract, "src")
    sql = validation_sql(contract, read.columns, "src", read.native)
    return con.execute(
        f"SELECT * FROM ({sql}) ORDER BY _source_line", parameters(sql, MAX_DATE, MAX_TS)
    ).fetchall()


@pytest.mark.parametrize(
    ("entity", "query"), [("orders", ORDERS), ("crm_accounts", ACCOUNTS), ("risk", RISK)]
)
def test_native_and_text_paths_agree(tmp_path, monkeypatch, entity, query):
    path = tmp_path / f"{entity}.parquet"
    duckdb.execute(f"COPY ({query}) TO '{path}' (FORMAT parquet)")
    con = duckdb.connect()
    ensure_raw_schema(con)
    con.execute("INSERT INTO raw.crm_accounts (account_id) VALUES ('A1')")
    native = _validated(con, path, entity)
    con.execute('DROP TABLE IF EXISTS "src"')
    kept = read_landing_file(con, path, get_contract(entity), "src").native
    assert kept  # the typed path was taken
    monkeypatch.setattr(parquet_reader, "native_column", lambda *_: False)
    assert native == _validated(con, path, entity)
    reasons = {row[0]: row[-1] for row in native}
    if entity == "orders":
        assert set(kept) == {"order_date", "amount_cny", "refund_amount_cny", "updated_at"}
        assert reasons == {
            1: None,
            2: "date out of range (before 1990-01-01 or after 2024-07-01): order_date=1989-12-31",
            3: "date out of range (before 1990-01-01 or after 2024-07-01): order_date=2031-01-01",
            4: "missing required value: order_date",
            5: "negative amount: amount_cny=-5.00",
            6: "refund exceeds amount: refund_amount_cny=7.50 > amount_cny=5.00",
            7: "in the future (after 2024-07-01 18:00:00): updated_at='2031-05-05 00:00:01'",
            8: None,
            9: "unknown account: account_id='ZZ'",
            10: "missing required value: updated_at",
        }
        # Nanoseconds to the warehouse's microseconds (DuckDB rounds), as the text path did.
        assert str(native[0][9]) == "2024-01-15 10:00:00.123457"
    if entity == "crm_accounts":
        assert reasons[2] == "invalid integer: employee_count='18446744073709551615'"
        assert reasons[4] == "missing required value: updated_at"
        assert reasons[5] == ("invalid decimal: annual_revenue_cny='100000000000000000000.00'")
    if entity == "risk":
        assert "overdue_amount_cny" not in kept  # three decimal places: read as text
        assert reasons[2].startswith("duplicate key in file: uscc='91330100MA27XL0X1A', ")
