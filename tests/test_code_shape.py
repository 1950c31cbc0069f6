"""The shape the code keeps: small files and functions, SQL where it belongs, one helper per job.

Walks the source with ``ast`` (no imports), so a violation names the file and line.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PIPELINES = REPO / "pipelines"
MAX_FILE_LINES = 350
MAX_FUNCTION_LINES = 60
# The generator's reference data (names, places, industries) is a table, not logic.
DATA_FILES = {PIPELINES / "generate" / "reference.py"}
# Stages whose modules are formulas over DataFrames: the features come from dbt, tables are
# read and written through pipelines.warehouse.
NO_SQL_PACKAGES = [PIPELINES / "scoring", PIPELINES / "tiering"]
SQL = re.compile(r"\bselect\b[\s\S]*\bfrom\b", re.IGNORECASE)


def _sources(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*.py") if "__pycache__" not in p.parts)


def _rel(path: Path) -> str:
    return str(path.relative_to(REPO))


def _docstrings(tree: ast.AST) -> set[int]:
    """ids of the string constants that are docstrings (prose may say "select ... from")."""
    ids = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                ids.add(id(body[0].value))
    return ids


def _string_literals(tree: ast.AST) -> list[tuple[int, str]]:
    """(line, text) of every string literal; an f-string counts as its literal parts joined."""
    skip = _docstrings(tree)
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.JoinedStr):
            parts = [v.value for v in node.values if isinstance(v, ast.Constant)]
            out.append((node.lineno, " ".join(str(p) for p in parts)))
        elif (
            isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in skip
        ):
            out.append((node.lineno, node.value))
    return out


def test_no_python_file_over_the_line_limit():
    long = [
        f"{_rel(p)}: {n} lines"
        for p in _sources(PIPELINES)
        if p not in DATA_FILES
        and (n := len(p.read_text(encoding="utf-8").splitlines())) > MAX_FILE_LINES
    ]
    assert not long, f"files over {MAX_FILE_LINES} lines:\n" + "\n".join(long)


def test_no_function_over_the_line_limit():
    long = []
    for path in _sources(PIPELINES):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                n = node.end_lineno - node.lineno + 1
                if n > MAX_FUNCTION_LINES:
                    long.append(f"{_rel(path)}:{node.lineno} {node.name}: {n} lines")
    assert not long, f"functions over {MAX_FUNCTION_LINES} lines:\n" + "\n".join(long)


@pytest.mark.parametrize("package", NO_SQL_PACKAGES, ids=lambda p: p.name)
def test_no_sql_strings_in_formula_packages(package: Path):
    found = [
        f"{_rel(path)}:{line}: {text.strip()[:80]!r}"
        for path in _sources(package)
        for line, text in _string_literals(ast.parse(path.read_text(encoding="utf-8")))
        if SQL.search(text)
    ]
    assert not found, "SQL in a formula package:\n" + "\n".join(found)


def test_the_checks_find_what_they_look_for():
    """The walkers see SQL in strings and f-strings, and skip docstrings."""
    code = (
        '"""Select the best from the rest."""\n'
        'A = "select a from b"\n'
        'B = f"select {x} from {y}"\n'
        "def f():\n"
        '    """select x from y"""\n'
        "    return 1\n"
    )
    found = [(line, t) for line, t in _string_literals(ast.parse(code)) if SQL.search(t)]
    assert [line for line, _ in found] == [2, 3]


def _calls(path: Path, dotted: str) -> list[int]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return [
        node.lineno
        for node in ast.walk(tree)
        if isinstance(node, ast.Call) and ast.unparse(node.func) == dotted
    ]


def test_one_connection_factory():
    """Every DuckDB connection of the code location and the benchmarks is opened by
    pipelines.warehouse.connect (lock wait, memory cap, read-only mode)."""
    opened = [
        f"{_rel(p)}:{line}"
        for root in (PIPELINES, REPO / "bench")
        for p in _sources(root)
        if p != PIPELINES / "warehouse.py"
        for line in _calls(p, "duckdb.connect")
    ]
    assert not opened, "duckdb.connect outside pipelines/warehouse.py:\n" + "\n".join(opened)


# The tests of the shared helpers assert their output, so they spell it out.
HELPER_TESTS = {REPO / "tests" / "test_shared_helpers.py"}


def test_one_markdown_table_renderer_and_one_table_exists():
    """Markdown tables are rendered by pipelines.metadata only (not by pandas' to_markdown
    either); table existence and column lookups go through pipelines.warehouse only (tests
    may query a catalogue to assert a schema, but not keep their own table-exists helper)."""
    owners = {
        "|---": (PIPELINES / "metadata.py", (PIPELINES, REPO / "tests", REPO / "bench")),
        "information_schema.tables": (
            PIPELINES / "warehouse.py",
            (PIPELINES, REPO / "tests", REPO / "bench"),
        ),
        "information_schema.columns": (PIPELINES / "warehouse.py", (PIPELINES, REPO / "bench")),
    }
    found = []
    for needle, (owner, roots) in owners.items():
        for root in roots:
            for path in _sources(root):
                if path in (owner, Path(__file__), *HELPER_TESTS):
                    continue
                for line, text in _string_literals(ast.parse(path.read_text(encoding="utf-8"))):
                    if needle in text:
                        found.append(f"{_rel(path)}:{line}: {needle}")
    found += [
        f"{_rel(path)}:{node.lineno}: to_markdown"
        for root in (PIPELINES, REPO / "tests", REPO / "bench")
        for path in _sources(root)
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        if isinstance(node, ast.Attribute) and node.attr == "to_markdown"
    ]
    assert not found, "a second copy of a shared helper:\n" + "\n".join(found)
