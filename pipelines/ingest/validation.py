"""The SQL that types and checks every row of a read file, one reason per bad row.

Values are never interpolated into SQL: they are column data, and the load-time limits are
parameters. Identifiers and constants come from ``contracts.py``.

Quarantine reasons (first failing rule wins, checked column by column in contract order, then
row rules; documented in docs/data-contract.md, "Quarantine reasons"):

- ``field too long: <col> has <n> characters (limit 4096)``
- ``control character: <col> contains U+<hex>``
- ``missing required value: <col>``
- ``invalid <type>: <col>='<value>'``
- ``not an allowed value: <col>='<value>'``
- ``formula-like value: <col>='<value>'``
- ``negative amount: <col>=<value>`` / ``negative value: <col>=<value>``
- ``out of range (<min> to <max>): <col>=<value>``
- ``date out of range (before 1990-01-01 or after <latest date>): <col>=<value>``
- ``in the future (after <latest timestamp>): <col>='<value>'``
- ``refund exceeds amount: refund_amount_cny=<r> > amount_cny=<a>``
- ``no identifier: contact_id, email or phone required`` (erasure requests)
- ``unknown account: account_id='<id>'``
- ``duplicate key in file: <key>='<value>' (first at line <n>)``
"""

from __future__ import annotations

from collections.abc import Mapping

from pipelines.ingest.casts import typed_sql
from pipelines.ingest.contracts import (
    MAX_FIELD_CHARS,
    MIN_DATE,
    Column,
    EntityContract,
)
from pipelines.ingest.parquet_reader import parquet_text
from pipelines.privacy.masking import contact_kind, mask_sql

# Values shown inside a reason are cut here so a reason stays readable.
REASON_VALUE_CHARS = 100
# Whitespace trimmed from every value: ASCII blanks, no-break space, ideographic space.
_WHITESPACE = (32, 9, 10, 13, 160, 12288)  # code points
WHITESPACE_SQL = " || ".join(f"chr({code})" for code in _WHITESPACE)
_WHITESPACE_CODES = f"({', '.join(map(str, _WHITESPACE))})"
# C0 controls other than tab, line feed and carriage return; DEL; C1 controls. ESC starts
# ANSI escape sequences, NUL truncates strings in C tools: never data in an export.
CONTROL_PATTERN = r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]"
# Spreadsheet formulas, checked after full-width ＝＋－＠ become ASCII: anything starting with
# "=" or "@"; "+"/"-" followed by a letter ("+cmd|...", "-A1") or containing formula syntax
# ( ( | ! = @ ), as in "-2+3+cmd|' /C calc'!A0". "+86 138 0013 8000", "-5", "-", "--" stay data.
FORMULA_PATTERN = r"(?s)^[=@]|^[+-]\s*[A-Za-z]|^[+-].*[(|!=@]"
FULL_WIDTH_SIGNS = ("＝＋－＠", "=+-@")


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _lit(text: str) -> str:
    """A SQL string literal for a constant from the contract (never for data)."""
    return "'" + text.replace("'", "''") + "'"


def _shown(expr: str) -> str:
    """A value as shown inside a reason: cut to REASON_VALUE_CHARS characters, control
    characters (only possible in typed columns, where the type rule fires) shown as U+FFFD."""
    safe = f"regexp_replace({expr}, '{CONTROL_PATTERN}', '\ufffd', 'g')"
    return (
        f"CASE WHEN length({expr}) > {REASON_VALUE_CHARS} "
        f"THEN left({safe}, {REASON_VALUE_CHARS}) || '…' ELSE {safe} END"
    )


def _value_reason(label: str, shown: str) -> str:
    return f"{_lit(label)} || '''' || {shown} || ''''"


def _text(name: str, contract_type: str, native: Mapping[str, str]) -> str:
    """Column ``v__<name>`` as a reason shows it: the trimmed string, or the text form of a
    native value (rendered only where a reason is built, i.e. for failing rows)."""
    v = _q(f"v__{name}")
    return parquet_text(v, native[name], contract_type) if name in native else v


def _column_rules(col: Column, native: Mapping[str, str]) -> list[tuple[str, str, str]]:
    """(condition, rule, reason) SQL triples for one column, in priority order."""
    v, t = _q(f"v__{col.name}"), _q(f"t__{col.name}")
    name, shown = col.name, _shown(_text(col.name, col.type, native))
    kind = contact_kind(col.name)
    if kind is not None:  # a reason is read by people: contact data shown masked
        shown = mask_sql(kind, shown)
    rules = []
    if col.name not in native:  # a date, number or boolean cannot be 4096 characters long
        rules.append(
            (
                f"length({v}) > {MAX_FIELD_CHARS}",
                f"field too long: {name}",
                f"{_lit(f'field too long: {name} has ')} || length({v}) || "
                f"{_lit(f' characters (limit {MAX_FIELD_CHARS})')}",
            )
        )
    if col.type == "string":
        # Typed columns need no scan: a control character fails their type rule.
        rules.append(
            (
                f"regexp_matches({v}, '{CONTROL_PATTERN}')",
                f"control character: {name}",
                f"{_lit(f'control character: {name} contains ')} || "
                f"printf('U+%04X', unicode(regexp_extract({v}, '{CONTROL_PATTERN}')))",
            )
        )
    if col.required:
        label = f"missing required value: {name}"
        rules.append((f"{v} IS NULL", label, _lit(label)))
    if col.type != "string":
        label = f"invalid {col.type}: {name}"
        rules.append((f"{v} IS NOT NULL AND {t} IS NULL", label, _value_reason(label + "=", shown)))
    if col.allowed:
        label = f"not an allowed value: {name}"
        allowed = ", ".join(_lit(a) for a in col.allowed)
        rules.append((f"{v} NOT IN ({allowed})", label, _value_reason(label + "=", shown)))
    if col.type == "string":
        label = f"formula-like value: {name}"
        signs = f"translate({v}, {_lit(FULL_WIDTH_SIGNS[0])}, {_lit(FULL_WIDTH_SIGNS[1])})"
        # The cheap first-character test spares the regex for nearly every value.
        first = ", ".join(_lit(c) for c in "".join(FULL_WIDTH_SIGNS))
        cond = f"left({v}, 1) IN ({first}) AND regexp_matches({signs}, {_lit(FORMULA_PATTERN)})"
        rules.append((cond, label, _value_reason(label + "=", shown)))
    rules += _range_rules(col, t, shown)
    return rules


def _range_rules(col: Column, t: str, shown: str) -> list[tuple[str, str, str]]:
    name = col.name
    rules = []
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
    if col.type == "date":
        low = f"{t} < DATE '{MIN_DATE}' OR " if col.date_range else ""
        window = f"before {MIN_DATE} or after " if col.date_range else "after "
        rules.append(
            (
                f"({low}{t} > $max_date)",
                f"date out of range: {name}",
                f"{_lit(f'date out of range ({window}')} || strftime($max_date, '%Y-%m-%d') "
                f"|| {_lit(f'): {name}=')} || {shown}",
            )
        )
    if col.type == "timestamp":
        rules.append(
            (
                f"{t} > $max_ts",
                f"in the future: {name}",
                f"{_lit('in the future (after ')} || strftime($max_ts, '%Y-%m-%d %H:%M:%S') "
                f"|| {_lit(f'): {name}=')} || '''' || {shown} || ''''",
            )
        )
    return rules


def _row_rules(contract: EntityContract, native: Mapping[str, str]) -> list[tuple[str, str, str]]:
    if contract.name == "privacy_erasure_requests":
        label = "no identifier: contact_id, email or phone required"
        cond = " AND ".join(f"{_q('v__' + c)} IS NULL" for c in ("contact_id", "email", "phone"))
        return [(cond, "no identifier", _lit(label))]
    if contract.name != "orders":
        return []
    r, a = _q("t__refund_amount_cny"), _q("t__amount_cny")
    refund = _shown(_text("refund_amount_cny", "decimal", native))
    amount = _shown(_text("amount_cny", "decimal", native))
    return [
        (
            f"{r} > {a}",
            "refund exceeds amount",
            f"'refund exceeds amount: refund_amount_cny=' || {refund} || ' > amount_cny=' || {amount}",
        )
    ]


def _case(rules: list[tuple[str, str, str]], pick: int) -> str:
    whens = " ".join(
        f"WHEN {cond} THEN {_lit(rule) if pick == 1 else reason}" for cond, rule, reason in rules
    )
    return f"CASE {whens} END"


def _account_rule(contract: EntityContract) -> tuple[str, str, str]:
    """(join, rule, reason) SQL for the unknown-account row rule (empty when not referenced)."""
    if not contract.references_account:
        return "", "NULL", "NULL"
    join = (
        "LEFT JOIN (SELECT DISTINCT account_id AS _known FROM raw.crm_accounts) AS acc "
        'ON acc._known = checked."t__account_id"'
    )
    unknown = "checked._reason IS NULL AND acc._known IS NULL"
    shown = _shown('checked."v__account_id"')
    reason = f"CASE WHEN {unknown} THEN 'unknown account: account_id=''' || {shown} || '''' END"
    return join, f"CASE WHEN {unknown} THEN 'unknown account' END", reason


def _raw_value(column: Column, native: Mapping[str, str]) -> str:
    """A quarantined row's original value of ``column`` as text (very long ones cut)."""
    r = _q("r__" + column.name)
    if column.name in native:
        return parquet_text(r, native[column.name], column.type)
    return (
        f"CASE WHEN length({r}) > {MAX_FIELD_CHARS} THEN left({r}, {MAX_FIELD_CHARS}) || "
        f"'…[truncated: ' || length({r}) || ' characters]' ELSE {r} END"
    )


def trimmed(expr: str) -> str:
    """SQL of the text ``expr`` without leading and trailing whitespace (``WHITESPACE_SQL``).

    DuckDB's ``trim`` with a character set costs four times a plain ``trim`` (4.8 s for six
    columns of six million orders); it runs only on values whose first code point or last
    character is one of them, which are the only ones it changes (a whitespace character is
    a character of its own, never part of another's combining sequence)."""
    first, last = f"unicode({expr})", f"unicode(right({expr}, 1))"
    return (
        f"CASE WHEN {first} IN {_WHITESPACE_CODES} OR {last} IN {_WHITESPACE_CODES} "
        f"THEN trim({expr}, {WHITESPACE_SQL}) ELSE {expr} END"
    )


def _value(column: Column, native: Mapping[str, str]) -> str:
    name = _q(column.name)
    if column.name in native:  # typed already: nothing to trim
        return f"{name} AS {_q('v__' + column.name)}"
    return f"nullif({trimmed(name)}, '') AS {_q('v__' + column.name)}"


def _duplicates_sql(contract: EntityContract, native: Mapping[str, str]) -> str:
    """CTEs ``firsts`` .. ``decided`` over ``referenced``: a good row whose key an earlier good
    row of the file has is a duplicate. Duplicates are rare: the first line of each repeated
    key is found by a grouped aggregate and joined back (no window over every row)."""
    by_name = {c.name: c for c in contract.columns}
    key_t = ", ".join(_q("t__" + k) for k in contract.key)
    key_join = " AND ".join(
        f"referenced.{_q('t__' + k)} IS NOT DISTINCT FROM firsts.{_q('t__' + k)}"
        for k in contract.key
    )
    key_shown = " || ', ' || ".join(
        f"{_lit(k + '=')} || '''' || {_shown(_text(k, by_name[k].type, native))} || ''''"
        for k in contract.key
    )
    return f"""firsts AS (
    SELECT {key_t}, min(_source_line) AS _first_line
    FROM referenced WHERE _reason IS NULL
    GROUP BY ALL HAVING count(*) > 1
),
ranked AS (
    SELECT referenced.*, firsts._first_line
    FROM referenced LEFT JOIN firsts ON referenced._reason IS NULL AND {key_join}
),
decided AS (
    SELECT *,
        CASE WHEN _reason IS NULL AND _first_line < _source_line
            THEN 'duplicate key in file: {"/".join(contract.key)}' ELSE _rule END AS _final_rule,
        CASE WHEN _reason IS NULL AND _first_line < _source_line
            THEN 'duplicate key in file: ' || {key_shown} || ' (first at line ' || _first_line || ')'
            ELSE _reason END AS _final_reason
    FROM ranked
)"""


def validation_sql(
    contract: EntityContract,
    present: tuple[str, ...],
    source: str,
    native: Mapping[str, str] | None = None,
) -> str:
    """SELECT over temp table ``source`` giving, per row: ``_source_line``, ``_raw_values``,
    the typed contract columns, ``_rule`` and ``_reason`` (both NULL for a good row).

    Columns of ``source`` are text, except those in ``native`` (column -> source type, see
    ``parquet_reader.native_column``), checked in their own type; reasons and original values
    show them in the text form the Parquet reader gives every other typed value.
    Named parameters: ``$max_date`` (DATE) when the contract has date columns, ``$max_ts``
    (TIMESTAMP) when it has timestamp columns (see :func:`parameters`).
    """
    native = native or {}
    cols, account_join, account_rule, account_reason = contract.columns, *_account_rule(contract)
    by_name = {c.name: c for c in cols}
    raw_pairs = ", ".join(f"{_lit(c)}, {_raw_value(by_name[c], native)}" for c in present)
    raw_cols = "".join(f"{_q(c)} AS {_q('r__' + c)}, " for c in present)
    trimmed = ", ".join(_value(c, native) for c in cols)
    typed = ", ".join(
        f"{typed_sql(c, _q('v__' + c.name), c.name in native)} AS {_q('t__' + c.name)}"
        for c in cols
    )
    rules = [rule for c in cols for rule in _column_rules(c, native)]
    rules += _row_rules(contract, native)
    out_cols = ", ".join(f"{_q('t__' + c.name)} AS {_q(c.name)}" for c in cols)
    return f"""
WITH trimmed AS (SELECT _source_line, {raw_cols}{trimmed} FROM "{source}"),
typed AS (SELECT *, {typed} FROM trimmed),
checked AS (SELECT *, {_case(rules, 1)} AS _rule, {_case(rules, 2)} AS _reason FROM typed),
referenced AS MATERIALIZED (
    SELECT checked.* REPLACE (
        coalesce(checked._rule, {account_rule}) AS _rule,
        coalesce(checked._reason, {account_reason}) AS _reason
    )
    FROM checked {account_join}
),
{_duplicates_sql(contract, native)}
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


def parameters(sql: str, max_date: object, max_ts: object) -> dict[str, object] | None:
    """The named parameters ``sql`` uses (DuckDB rejects unused ones)."""
    params = {
        name: value
        for name, value in (("max_date", max_date), ("max_ts", max_ts))
        if f"${name}" in sql
    }
    return params or None
