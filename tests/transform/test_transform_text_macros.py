"""The text-cleaning macros (dbt_project/macros/text_cleaning.sql) rendered as dbt renders them
for DuckDB and run on hostile values: a guarded form must give every value what the plain
function gives it."""

from __future__ import annotations

import re

import duckdb
import jinja2

from pipelines.settings import DBT_PROJECT_DIR

MACROS = (DBT_PROJECT_DIR / "macros" / "text_cleaning.sql").read_text(encoding="utf-8")


def _render(call: str, macros: str = MACROS) -> str:
    """``call`` (e.g. ``fullwidth_to_halfwidth('x')``) as the DuckDB target compiles it: the
    default implementation of every dispatched macro."""
    env = jinja2.Environment()
    defined = {}

    class Adapter:
        @staticmethod
        def dispatch(name: str, package: str):
            return getattr(defined["module"], f"default__{name}")

    env.globals.update({"adapter": Adapter(), "return": lambda value: value})
    defined["module"] = env.from_string(macros).make_module()
    return env.from_string(macros + "{{ " + call + " }}").render().strip()


FULL, HALF = re.search(
    r"set full = '(.*?)'.*?set half = '(.*?)'", MACROS, re.S
).groups()  # fmt: skip

HOSTILE = [
    None,
    "",
    "plain ascii",
    "杭州云启科技有限公司",
    "杭州云启（集团）",
    "ＡＢＣ",
    "a０",
    "０a",
    "x　y",
    "【x】〔y〕",
    "＋86 138 0000 0000",
    "lei.li＠example.com",  # a full-width @ is not in the set: left as it is
    ".*[]^$\\()|?+{}",
    "e\u0301Ａ",
    "👩\u200d💻Ｚ",
    "\n\r\t０",
    "9" * 500 + "ｚ",
    *FULL,
    *(f"前{c}后" for c in FULL),
]


def _differences(sql: str) -> list[tuple]:
    """Values of HOSTILE whose ``sql`` (over column x) differs from translate with the set."""
    con = duckdb.connect()
    con.execute("create table t (i integer, x varchar)")
    con.executemany("insert into t values (?, ?)", list(enumerate(HOSTILE)))
    rows = con.execute(
        f"select x, {sql} as guarded, translate(x, ?, ?) as plain from t order by i",
        [FULL, HALF],
    ).fetchall()
    assert len(rows) == len(HOSTILE)
    return [row for row in rows if row[1] != row[2]]


def test_guarded_fullwidth_translation_gives_every_value_what_translate_gives():
    sql = _render("fullwidth_to_halfwidth('x')")
    assert "regexp_matches" in sql  # the guard is there: the test would not test it otherwise
    assert _differences(sql) == []
    con = duckdb.connect()
    translated = dict(
        con.execute(
            f"select x, {sql} from unnest(?) as t(x)",
            [["杭州云启（集团）", "x　y", "lei.li＠example.com", "ＡＢＣ"]],
        ).fetchall()
    )
    assert translated == {
        "杭州云启（集团）": "杭州云启(集团)",
        "x　y": "x y",
        "lei.li＠example.com": "lei.li＠example.com",  # a full-width @ is not in the set
        "ＡＢＣ": "ABC",
    }


def test_a_guard_that_misses_a_character_of_the_set_is_caught():
    """The guard's class is the set itself; one left out would leave its values untranslated."""
    broken = MACROS.replace("'[' ~ full ~ ']'", "'[' ~ full[:-1] ~ ']'")
    assert broken != MACROS
    assert [x for x, _, _ in _differences(_render("fullwidth_to_halfwidth('x')", broken))] == [
        "＋86 138 0000 0000", "＋", "前＋后"
    ]  # fmt: skip
