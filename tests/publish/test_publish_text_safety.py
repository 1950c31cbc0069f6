"""Published text is safe for a spreadsheet export: no formula start, no control characters."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import duckdb
import pytest

from pipelines.publish.contract import PUBLISHED_MODEL
from pipelines.publish.snapshot import publish
from pipelines.publish.text_safety import safe_text, safe_text_sql
from tests.config_files import run_context
from tests.publish.test_publish_snapshot import stage_upstream

CASES = [
    ('=HYPERLINK("http://evil.example","x")', '\'=HYPERLINK("http://evil.example","x")'),
    ("+cmd|' /C calc'!A0", "'+cmd|' /C calc'!A0"),
    ("-2+3+cmd|' /C calc'!A0", "'-2+3+cmd|' /C calc'!A0"),
    ("@SUM(1+1)", "'@SUM(1+1)"),
    ("＝1+1", "'＝1+1"),  # full-width equals: a spreadsheet in a Chinese locale takes it too
    ("＋cmd|x", "'＋cmd|x"),
    ("\t=1+1", "'\t=1+1"),
    ("\r=1+1", "'\r=1+1"),
    ("\x1b[31m红色\x1b[0m公司", "红色公司"),  # ANSI colour codes removed whole
    ("空\x00字节", "空字节"),
    ("正常\x85公司", "正常公司"),
    ("\x1b=1", "'=1"),  # the escape hid a formula: removed first, then neutralised
    ("杭州云启科技有限公司", "杭州云启科技有限公司"),
    ("A-1 = B", "A-1 = B"),  # only the first character matters
    ("第一行\n第二行", "第一行\n第二行"),
    ("", ""),
    (None, None),
]


@pytest.mark.parametrize(("value", "expected"), CASES)
def test_safe_text_and_its_sql_twin_agree(value, expected):
    assert safe_text(value) == expected
    con = duckdb.connect()
    sql = con.execute(f"select {safe_text_sql('$v')}", {"v": value}).fetchone()[0]
    assert sql == expected


def test_snapshot_publishes_only_safe_text(tmp_path: Path):
    con = duckdb.connect(str(tmp_path / "warehouse.duckdb"))
    ctx = run_context(date(2024, 6, 28), run_id="safe")
    stage_upstream(con, {"G-1": "A", "G-2": "B", "G-3": "C"}, ctx.snapshot_id, ctx.as_of)
    con.execute(
        f"update {PUBLISHED_MODEL} set account_name = case golden_account_id "
        "when 'G-1' then '=HYPERLINK(\"http://evil.example\",\"x\")' "
        "when 'G-2' then chr(27) || '[31m红色' || chr(27) || '[0m公司' "
        "else '杭州云启科技有限公司' end"
    )
    con.execute(
        f"update {PUBLISHED_MODEL} set reason_en = '+cmd|x' where golden_account_id = 'G-3'"
    )
    serving = tmp_path / "serving"
    info, *_ = publish(con, serving, serving / "serving.duckdb", ctx)
    rows = duckdb.execute(
        "select golden_account_id, account_name, reason_en from read_parquet(?) order by 1",
        [str(serving / info.parquet_path)],
    ).fetchall()
    assert rows == [
        ("G-1", '\'=HYPERLINK("http://evil.example","x")', "reason_en-G-1"),
        ("G-2", "红色公司", "reason_en-G-2"),
        ("G-3", "杭州云启科技有限公司", "'+cmd|x"),
    ]
    con.close()
