"""Load landing files of one entity into ``raw.<entity>``: incremental, idempotent, lossless.

Per file, in one transaction: read it into a VARCHAR temp table (``readers.py``), validate
every row in SQL, append good rows to ``raw.<entity>``, bad rows to ``raw._quarantine`` with
an exact reason, and one row to ``raw._file_manifest``. A file whose sha256 is already in the
manifest for the entity is skipped (so the same content under another name loads once); a file
that fails leaves no trace, so dropping a fixed version later loads it.

Values are never interpolated into SQL: they are parameters or column data, so a value such as
``'; DROP TABLE raw.orders; --`` is just text. Identifiers come from ``contracts.py``.

Quarantine reasons (first failing rule wins, checked column by column in contract order, then
row rules; documented in docs/data-contract.md, "Quarantine reasons"):

- ``field too long: <col> has <n> characters (limit 4096)``
- ``missing required value: <col>``
- ``invalid <type>: <col>='<value>'``
- ``not an allowed value: <col>='<value>'``
- ``formula-like value: <col>='<value>'``
- ``negative amount: <col>=<value>`` / ``negative value: <col>=<value>``
- ``out of range (<min> to <max>): <col>=<value>``
- ``date out of range (before 1990-01-01 or after <as_of>): <col>=<value>``
- ``refund exceeds amount: refund_amount_cny=<r> > amount_cny=<a>``
- ``unknown account: account_id='<id>'``
- ``duplicate key in file: <key>='<value>' (first at line <n>)``
"""

from __future__ import annotations

import hashlib
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Literal

import duckdb

from pipelines.ingest.contracts import (
    CONTRACTS,
    MAX_FIELD_CHARS,
    MIN_DATE,
    Column,
    EntityContract,
    get_contract,
    raw_table_ddl,
)
from pipelines.ingest.readers import LandingFileError, file_format, read_landing_file
from pipelines.ingest.sources_config import SourceConfig

MANIFEST_DDL = """
CREATE TABLE IF NOT EXISTS raw._file_manifest (
    entity VARCHAR, path VARCHAR, size_bytes BIGINT, sha256 VARCHAR, rows_read BIGINT,
    rows_loaded BIGINT, rows_quarantined BIGINT, loaded_at TIMESTAMP, run_id VARCHAR
)"""
QUARANTINE_DDL = """
CREATE TABLE IF NOT EXISTS raw._quarantine (
    entity VARCHAR, source_file VARCHAR, source_line BIGINT, raw_values VARCHAR,
    reason VARCHAR, loaded_at TIMESTAMP, run_id VARCHAR
)"""

# Values shown inside a reason are cut here so a reason stays readable.
REASON_VALUE_CHARS = 100
# Whitespace trimmed from every value: ASCII blanks, no-break space, ideographic space.
_WS = "' ' || chr(9) || chr(10) || chr(13) || chr(160) || chr(12288)"
_TRUE = ("true", "1", "yes", "y", "是")
_FALSE = ("false", "0", "no", "n", "否")
# CSV/Excel injection: =, +, -, @ followed by a letter or "(" starts a formula in a
# spreadsheet. "+86 138..." or "-5" stay data; "=HYPERLINK(...)", "@SUM(", "-cmd" do not.
FORMULA_PATTERN = "^[=+@-][A-Za-z(]"

FileStatus = Literal["loaded", "skipped", "failed"]


@dataclass
class FileResult:
    """What happened to one landing file."""

    path: str  # relative to the landing dir
    sha256: str
    size_bytes: int
    status: FileStatus
    rows_read: int = 0
    rows_loaded: int = 0
    rows_quarantined: int = 0
    loaded_at: datetime | None = None
    unknown_columns: tuple[str, ...] = ()
    reason_counts: dict[str, int] = field(default_factory=dict)  # rule -> rows
    error: str | None = None  # status == "failed": the LandingFileError message
    loaded_as: str | None = None  # status == "skipped": path under which it was loaded
    encoding: str | None = None


@dataclass
class LoadReport:
    """Summary of one ``load_entity`` call, suitable for asset metadata."""

    entity: str
    run_id: str
    files: list[FileResult] = field(default_factory=list)

    def _with(self, status: FileStatus) -> list[FileResult]:
        return [f for f in self.files if f.status == status]

    @property
    def loaded(self) -> list[FileResult]:
        return self._with("loaded")

    @property
    def skipped(self) -> list[FileResult]:
        return self._with("skipped")

    @property
    def failed(self) -> list[FileResult]:
        return self._with("failed")

    @property
    def rows_read(self) -> int:
        return sum(f.rows_read for f in self.loaded)

    @property
    def rows_loaded(self) -> int:
        return sum(f.rows_loaded for f in self.loaded)

    @property
    def rows_quarantined(self) -> int:
        return sum(f.rows_quarantined for f in self.loaded)

    @property
    def reason_counts(self) -> dict[str, int]:
        total: Counter[str] = Counter()
        for f in self.loaded:
            total.update(f.reason_counts)
        return dict(total.most_common())

    @property
    def unknown_columns(self) -> dict[str, list[str]]:
        return {f.path: list(f.unknown_columns) for f in self.files if f.unknown_columns}


def ensure_raw_schema(con: duckdb.DuckDBPyConnection) -> None:
    """Create schema ``raw``, every entity table, the manifest and the quarantine (idempotent)."""
    con.execute("CREATE SCHEMA IF NOT EXISTS raw")
    for entity in CONTRACTS:
        con.execute(raw_table_ddl(entity))
    con.execute(MANIFEST_DDL)
    con.execute(QUARANTINE_DDL)


def sha256_file(path: Path, chunk: int = 1024 * 1024) -> str:
    """Hex sha256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while block := fh.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def list_landing_files(landing_dir: Path, entity: str, glob: str = "*") -> list[Path]:
    """Accepted files under ``landing_dir/<entity>/`` matching ``glob``, sorted by name.

    Hidden files and Office lock files (``.x``, ``~$x``) are ignored: they are partial writes.
    """
    folder = landing_dir / entity
    if not folder.is_dir():
        return []
    return sorted(
        p
        for p in folder.glob(glob)
        if p.is_file() and file_format(p) and not p.name.startswith((".", "~$"))
    )


# --------------------------------------------------------------------------- validation SQL


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _lit(text: str) -> str:
    """A SQL string literal for a constant from the contract (never for data)."""
    return "'" + text.replace("'", "''") + "'"


def _shown(expr: str) -> str:
    """A value as shown inside a reason: cut to REASON_VALUE_CHARS characters."""
    return (
        f"CASE WHEN length({expr}) > {REASON_VALUE_CHARS} "
        f"THEN left({expr}, {REASON_VALUE_CHARS}) || '…' ELSE {expr} END"
    )


def _typed(col: Column, v: str) -> str:
    """SQL turning the trimmed string ``v`` into the column's type, NULL when invalid."""
    if col.type == "string":
        return v
    if col.type == "integer":
        # TRY_CAST('1.5' AS BIGINT) rounds; only whole numbers (Excel's 120.0 included) pass.
        return (
            f"CASE WHEN regexp_full_match({v}, '[+-]?[0-9]+(\\.0+)?') "
            f"THEN TRY_CAST(regexp_replace({v}, '\\.0+$', '') AS BIGINT) END"
        )
    if col.type == "decimal":
        # At most 2 significant decimals (trailing zeros allowed); no separators or exponents.
        return (
            f"CASE WHEN regexp_full_match({v}, '[+-]?([0-9]+(\\.[0-9]{{0,2}}0*)?|\\.[0-9]{{1,2}}0*)') "
            f"THEN TRY_CAST({v} AS DECIMAL(18,2)) END"
        )
    if col.type == "date":
        return (
            f"CASE WHEN regexp_full_match({v}, '[0-9]{{4}}-[0-9]{{2}}-[0-9]{{2}}') "
            f"THEN TRY_CAST({v} AS DATE) END"
        )
    if col.type == "timestamp":
        # YYYY-MM-DD, then " " or "T" and a time; a UTC offset is accepted, wall clock kept.
        return (
            f"CASE WHEN regexp_matches({v}, '^[0-9]{{4}}-[0-9]{{2}}-[0-9]{{2}}([ T]|$)') "
            f"THEN TRY_CAST({v} AS TIMESTAMP) END"
        )
    trues = ", ".join(_lit(x) for x in _TRUE)
    falses = ", ".join(_lit(x) for x in _FALSE)
    return (
        f"CASE WHEN lower({v}) IN ({trues}) THEN true WHEN lower({v}) IN ({falses}) THEN false END"
    )


def _column_rules(col: Column) -> list[tuple[str, str, str]]:
    """(condition, rule, reason) SQL triples for one column, in priority order."""
    v, t = _q(f"v__{col.name}"), _q(f"t__{col.name}")
    name = col.name
    shown = _shown(v)
    rules = [
        (
            f"length({v}) > {MAX_FIELD_CHARS}",
            f"field too long: {name}",
            f"{_lit(f'field too long: {name} has ')} || length({v}) || "
            f"{_lit(f' characters (limit {MAX_FIELD_CHARS})')}",
        )
    ]
    if col.required:
        rules.append(
            (
                f"{v} IS NULL",
                f"missing required value: {name}",
                _lit(f"missing required value: {name}"),
            )
        )
    if col.type != "string":
        rules.append(
            (
                f"{v} IS NOT NULL AND {t} IS NULL",
                f"invalid {col.type}: {name}",
                f"{_lit(f'invalid {col.type}: {name}=')} || '''' || {shown} || ''''",
            )
        )
    if col.allowed:
        allowed = ", ".join(_lit(a) for a in col.allowed)
        rules.append(
            (
                f"{v} NOT IN ({allowed})",
                f"not an allowed value: {name}",
                f"{_lit(f'not an allowed value: {name}=')} || '''' || {shown} || ''''",
            )
        )
    if col.type == "string":
        rules.append(
            (
                f"regexp_matches({v}, '{FORMULA_PATTERN}')",
                f"formula-like value: {name}",
                f"{_lit(f'formula-like value: {name}=')} || '''' || {shown} || ''''",
            )
        )
    if col.max_value is not None:
        low = col.min_value if col.min_value is not None else "-inf"
        label = f"out of range ({low} to {col.max_value}): {name}"
        cond = f"{t} > {col.max_value}"
        if col.min_value is not None:
            cond = f"({t} < {col.min_value} OR {cond})"
        rules.append((cond, label, f"{_lit(label + '=')} || {shown}"))
    elif col.min_value == 0:
        label = f"negative {'amount' if col.type == 'decimal' else 'value'}: {name}"
        rules.append((f"{t} < 0", label, f"{_lit(label + '=')} || {shown}"))
    if col.date_range:
        label = f"date out of range (before {MIN_DATE} or after "
        rules.append(
            (
                f"({t} < DATE '{MIN_DATE}' OR {t} > $as_of)",
                f"date out of range: {name}",
                f"{_lit(label)} || strftime($as_of, '%Y-%m-%d') || {_lit(f'): {name}=')} || {shown}",
            )
        )
    return rules


def _row_rules(contract: EntityContract) -> list[tuple[str, str, str]]:
    if contract.name != "orders":
        return []
    r, a = _q("t__refund_amount_cny"), _q("t__amount_cny")
    return [
        (
            f"{r} > {a}",
            "refund exceeds amount",
            f"'refund exceeds amount: refund_amount_cny=' || {_shown(_q('v__refund_amount_cny'))} "
            f"|| ' > amount_cny=' || {_shown(_q('v__amount_cny'))}",
        )
    ]


def _case(rules: list[tuple[str, str, str]], pick: int) -> str:
    whens = " ".join(
        f"WHEN {cond} THEN {_lit(rule) if pick == 1 else reason}" for cond, rule, reason in rules
    )
    return f"CASE {whens} END"


def validation_sql(contract: EntityContract, present: tuple[str, ...], source: str) -> str:
    """SELECT over temp table ``source`` giving, per row: ``_source_line``, ``_raw_values``,
    the typed contract columns, ``_rule`` and ``_reason`` (both NULL for a good row).

    Takes one named parameter, ``$as_of`` (DATE). See the module docstring for the rules.
    """
    cols = contract.columns
    raw_pairs = ", ".join(
        f"{_lit(c)}, CASE WHEN length({_q('r__' + c)}) > {MAX_FIELD_CHARS} THEN "
        f"left({_q('r__' + c)}, {MAX_FIELD_CHARS}) || '…[truncated: ' || "
        f"length({_q('r__' + c)}) || ' characters]' ELSE {_q('r__' + c)} END"
        for c in present
    )
    raw_cols = "".join(f"{_q(c)} AS {_q('r__' + c)}, " for c in present)
    trimmed = ", ".join(
        f"nullif(trim({_q(c.name)}, {_WS}), '') AS {_q('v__' + c.name)}" for c in cols
    )
    typed = ", ".join(f"{_typed(c, _q('v__' + c.name))} AS {_q('t__' + c.name)}" for c in cols)
    rules = [rule for c in cols for rule in _column_rules(c)] + _row_rules(contract)
    out_cols = ", ".join(f"{_q('t__' + c.name)} AS {_q(c.name)}" for c in cols)

    account_join = ""
    account_rule = "NULL"
    account_reason = "NULL"
    if contract.references_account:
        checked_account = 'checked."v__account_id"'
        account_join = (
            "LEFT JOIN (SELECT DISTINCT account_id AS _known FROM raw.crm_accounts) AS acc "
            'ON acc._known = checked."t__account_id"'
        )
        unknown = "checked._reason IS NULL AND acc._known IS NULL"
        account_rule = f"CASE WHEN {unknown} THEN 'unknown account' END"
        account_reason = (
            f"CASE WHEN {unknown} THEN 'unknown account: account_id=''' || "
            f"{_shown(checked_account)} || '''' END"
        )

    key_t = ", ".join(_q("t__" + k) for k in contract.key)
    key_shown = " || ', ' || ".join(
        f"{_lit(k + '=')} || '''' || {_shown(_q('v__' + k))} || ''''" for k in contract.key
    )
    return f"""
WITH trimmed AS (
    SELECT _source_line, {raw_cols}{trimmed}
    FROM "{source}"
),
typed AS (SELECT *, {typed} FROM trimmed),
checked AS (SELECT *, {_case(rules, 1)} AS _rule, {_case(rules, 2)} AS _reason FROM typed),
referenced AS (
    SELECT checked.* REPLACE (
        coalesce(checked._rule, {account_rule}) AS _rule,
        coalesce(checked._reason, {account_reason}) AS _reason
    )
    FROM checked {account_join}
),
ranked AS (
    SELECT *, min(_source_line) OVER (PARTITION BY {key_t}, (_reason IS NULL)) AS _first_line
    FROM referenced
),
decided AS (
    SELECT *,
        CASE WHEN _reason IS NULL AND _first_line < _source_line
            THEN 'duplicate key in file: {"/".join(contract.key)}' ELSE _rule END AS _final_rule,
        CASE WHEN _reason IS NULL AND _first_line < _source_line
            THEN 'duplicate key in file: ' || {key_shown} || ' (first at line ' || _first_line || ')'
            ELSE _reason END AS _final_reason
    FROM ranked
)
SELECT
    -- The original values as JSON only for quarantined rows: built for every row, the JSON
    -- was the largest column of the validated temp table (bench/bench_ingest.py, 20M orders).
    _source_line,
    CASE WHEN _final_reason IS NOT NULL
        THEN CAST(json_object({raw_pairs}) AS VARCHAR) END AS _raw_values,
    {out_cols},
    _final_rule AS _rule,
    _final_reason AS _reason
FROM decided
"""


# --------------------------------------------------------------------------- loading


def load_file(
    con: duckdb.DuckDBPyConnection,
    entity: str,
    path: Path,
    landing_dir: Path,
    run_id: str,
    as_of: date,
    encoding: str = "auto",
) -> FileResult:
    """Load one file (see module docstring). Returns its :class:`FileResult`.

    A :class:`LandingFileError` is caught and reported as ``status="failed"`` (nothing is
    written for that file); any other error rolls back and propagates.
    """
    contract = get_contract(entity)
    rel = (
        path.relative_to(landing_dir).as_posix() if path.is_relative_to(landing_dir) else str(path)
    )
    size = path.stat().st_size
    sha = sha256_file(path)
    previous = con.execute(
        "SELECT path FROM raw._file_manifest WHERE entity = ? AND sha256 = ? LIMIT 1",
        [entity, sha],
    ).fetchone()
    if previous:
        return FileResult(rel, sha, size, "skipped", loaded_as=previous[0])

    source, validated = "_ingest_source", "_ingest_validated"
    try:
        read = read_landing_file(con, path, contract, source, encoding, display_name=rel)
    except LandingFileError as exc:
        con.execute(f'DROP TABLE IF EXISTS "{source}"')
        return FileResult(rel, sha, size, "failed", error=str(exc))

    loaded_at = datetime.now(UTC).replace(tzinfo=None)
    meta = {"file": rel, "sha": sha, "loaded_at": loaded_at, "run_id": run_id}
    names = ", ".join(_q(c) for c in contract.column_names)
    con.execute("BEGIN TRANSACTION")
    try:
        sql = validation_sql(contract, read.columns, source)
        # DuckDB rejects unused parameters; only date-ranged entities reference $as_of.
        params = {"as_of": as_of} if "$as_of" in sql else None
        con.execute(f'CREATE OR REPLACE TEMP TABLE "{validated}" AS {sql}', params)
        con.execute(
            f'INSERT INTO raw."{entity}" ({names}, _source_file, _source_line, _sha256, '
            f"_loaded_at, _run_id) SELECT {names}, $file, _source_line, $sha, $loaded_at, "
            f'$run_id FROM "{validated}" WHERE _reason IS NULL ORDER BY _source_line',
            meta,
        )
        con.execute(
            "INSERT INTO raw._quarantine SELECT $entity, $file, _source_line, _raw_values, "
            f'_reason, $loaded_at, $run_id FROM "{validated}" WHERE _reason IS NOT NULL '
            "ORDER BY _source_line",
            {"entity": entity, "file": rel, "loaded_at": loaded_at, "run_id": run_id},
        )
        rows_read, rows_quarantined = con.execute(
            f'SELECT count(*), count(_reason) FROM "{validated}"'
        ).fetchone()
        reasons = dict(
            con.execute(
                f'SELECT _rule, count(*) FROM "{validated}" WHERE _rule IS NOT NULL '
                "GROUP BY _rule ORDER BY count(*) DESC, _rule"
            ).fetchall()
        )
        rows_loaded = rows_read - rows_quarantined
        con.execute(
            "INSERT INTO raw._file_manifest VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [entity, rel, size, sha, rows_read, rows_loaded, rows_quarantined, loaded_at, run_id],
        )
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    finally:
        con.execute(f'DROP TABLE IF EXISTS "{validated}"')
        con.execute(f'DROP TABLE IF EXISTS "{source}"')
    return FileResult(
        rel,
        sha,
        size,
        "loaded",
        rows_read=rows_read,
        rows_loaded=rows_loaded,
        rows_quarantined=rows_quarantined,
        loaded_at=loaded_at,
        unknown_columns=read.unknown_columns,
        reason_counts=reasons,
        encoding=read.encoding,
    )


def load_entity(
    con: duckdb.DuckDBPyConnection,
    entity: str,
    landing_dir: Path,
    run_id: str,
    as_of: date,
    source: SourceConfig | None = None,
) -> LoadReport:
    """Load every not-yet-loaded file of ``entity`` from ``landing_dir/<entity>/``.

    Files are processed in name order, each in its own transaction. Unreadable files are
    reported in ``LoadReport.failed`` and the others still load; the caller decides whether
    that fails the run. Account-referencing entities check ``account_id`` against every
    account ever loaded into ``raw.crm_accounts``, so load ``crm_accounts`` first.
    """
    source = source or SourceConfig()
    landing_dir = Path(landing_dir)
    ensure_raw_schema(con)
    report = LoadReport(entity, run_id)
    for path in list_landing_files(landing_dir, entity, source.glob):
        report.files.append(
            load_file(con, entity, path, landing_dir, run_id, as_of, source.encoding)
        )
    return report
