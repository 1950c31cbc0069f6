"""SQL turning a trimmed text value into its contract type: NULL when it is not one.

The accepted forms are the contract's (docs/data-contract.md, "Types"); a value that is not
one of them becomes NULL, which validation reports as ``invalid <type>``.
"""

from __future__ import annotations

from pipelines.ingest.contracts import CONTRACT_TIMEZONE, Column

_TRUE = ("true", "1", "yes", "y", "是")
_FALSE = ("false", "0", "no", "n", "否")
# Named timestamp formats (docs/data-contract.md, "Types"): ISO date and time with " " or "T",
# optional seconds and fraction (up to microseconds), or a 12-hour clock with AM/PM; with an
# offset ("+08:00", "+0800", "+08", "Z") the value is converted to the contract's zone.
TIMESTAMP_FORMATS = (
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%dT%H:%M:%S",
    "%Y-%m-%d %H:%M:%S.%f",
    "%Y-%m-%dT%H:%M:%S.%f",
    "%Y-%m-%d %H:%M",
    "%Y-%m-%dT%H:%M",
    "%Y-%m-%d",
    "%Y-%m-%d %I:%M:%S %p",
    "%Y-%m-%d %I:%M %p",
    "%Y-%m-%d %I:%M:%S%p",
    "%Y-%m-%d %I:%M%p",
)
TIMESTAMP_TZ_FORMATS = (
    "%Y-%m-%d %H:%M:%S%z",
    "%Y-%m-%dT%H:%M:%S%z",
    "%Y-%m-%d %H:%M:%S.%f%z",
    "%Y-%m-%dT%H:%M:%S.%f%z",
    "%Y-%m-%d %H:%M%z",
    "%Y-%m-%dT%H:%M%z",
)


def _lit(text: str) -> str:
    """A SQL string literal for a constant (never for data)."""
    return "'" + text.replace("'", "''") + "'"


def _list(items: tuple[str, ...]) -> str:
    return "[" + ", ".join(_lit(i) for i in items) + "]"


def typed_sql(col: Column, v: str, native: bool = False) -> str:
    """SQL turning the trimmed string ``v`` into the column's type, NULL when invalid (a
    ``native`` value already has a compatible type: only cast, e.g. DECIMAL(10,2) to (18,2))."""
    if native:
        return f"TRY_CAST({v} AS {col.duckdb_type})"
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
        # A date, or a date at exactly midnight (an export's datetime): never a dropped time.
        return (
            f"CASE WHEN regexp_full_match({v}, "
            f"'[0-9]{{4}}-[0-9]{{2}}-[0-9]{{2}}([ T]00:00(:00(\\.0+)?)?)?') "
            f"THEN TRY_CAST(left({v}, 10) AS DATE) END"
        )
    if col.type == "timestamp":
        naive = f"try_strptime({v}, {_list(TIMESTAMP_FORMATS)})"
        # CASE, not coalesce: the offset formats are tried only where the plain ones failed.
        return (
            f"CASE WHEN NOT regexp_matches({v}, '^[0-9]{{4}}-[0-9]{{2}}-[0-9]{{2}}([ T]|$)') "
            f"THEN NULL WHEN {naive} IS NOT NULL THEN {naive} "
            f"ELSE timezone('{CONTRACT_TIMEZONE}', try_strptime(regexp_replace({v}, 'Z$', "
            f"'+00:00'), {_list(TIMESTAMP_TZ_FORMATS)})) END"
        )
    trues = ", ".join(_lit(x) for x in _TRUE)
    falses = ", ".join(_lit(x) for x in _FALSE)
    return (
        f"CASE WHEN lower({v}) IN ({trues}) THEN true WHEN lower({v}) IN ({falses}) THEN false END"
    )
