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
    ("－1", "'－1"),  # full-width minus
    ("＠x", "'＠x"),
    ("公司\x07名", "公司名"),  # a control character inside, no formula
    ("\x7f=1", "'=1"),
    ("a\x9fb", "ab"),
    ("x=\t", "x=\t"),  # a formula sign, a tab: not at the start
    ("\n=1", "\n=1"),  # a line feed first is no formula start
]


@pytest.mark.parametrize(("value", "expected"), CASES)
def test_safe_text_and_its_sql_twin_agree(value, expected):
    assert safe_text(value) == expected
    con = duckdb.connect()
    sql = con.execute(f"select {safe_text_sql('$v')}", {"v": value}).fetchone()[0]
    assert sql == expected


def test_the_sql_twin_agrees_on_random_strings_of_the_characters_that_matter():
    """Strings drawn from formula signs (both widths), tab, CR, LF, ESC and ANSI pieces, C0 and
    C1 controls and ordinary text: the SQL (which leaves alone what needs no care) gives every
    one what safe_text gives."""
    import random

    alphabet = ["=", "+", "-", "@", "＝", "＋", "－", "＠", "\t", "\r", "\n", "\x1b", "[", "3",
                "1", "m", ";", "\x00", "\x07", "\x7f", "\x85", "\x9f", "a", "中", " ", "'"]  # fmt: skip
    rng = random.Random(11)
    values = ["".join(rng.choices(alphabet, k=rng.randint(0, 6))) for _ in range(3000)]
    con = duckdb.connect()
    con.execute("create table t (i integer, v varchar)")
    con.executemany("insert into t values (?, ?)", list(enumerate(values)))
    got = [r[0] for r in con.execute(f"select {safe_text_sql('v')} from t order by i").fetchall()]
    wrong = [(v, g, safe_text(v)) for v, g in zip(values, got, strict=True) if g != safe_text(v)]
    assert wrong == []
    assert sum(safe_text(v) != v for v in values) > 1000  # most of them needed care


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
