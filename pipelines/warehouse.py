"""DuckDB from Python, one way: the connection factory, table existence, frames in and out.

Every process that opens a DuckDB file of the project (the Dagster warehouse resource, the
landing sensor, what-if, the run summary, publish, the benchmarks) goes through :func:`connect`,
so all of them get the same memory cap and the same behaviour on a lock held by another
process. Stage code never writes SQL to move a DataFrame: it calls :func:`read_table`,
:func:`replace_table` or :func:`replace_rows` with the relation's column contract.

DuckDB facts that shape this module: one writer per file, and a read-only holder blocks writers
too; relations have no ``fetchone()``; and since DuckDB 2.0 a result read with ``fetchone()``
stays open and blocks ``register`` on the connection, so the helpers here read every result
to the end (``fetchall()``).
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd

from pipelines.settings import duckdb_memory_limit

DEFAULT_LOCK_TIMEOUT_S = 60.0


class WarehouseLockedError(RuntimeError):
    """Another process held the DuckDB file's lock for longer than the caller would wait."""


def connect(
    path: str | Path,
    *,
    read_only: bool = False,
    lock_timeout_s: float = DEFAULT_LOCK_TIMEOUT_S,
    options: Mapping[str, str | int | bool] | None = None,
) -> duckdb.DuckDBPyConnection:
    """Open a DuckDB file (or ``":memory:"``) with the project's memory cap, waiting out a
    brief lock.

    A lock conflict (another writer, or a read-only holder when writing) is retried with
    backoff for up to ``lock_timeout_s`` (0: not at all), then :class:`WarehouseLockedError`
    is raised. ``options`` are further DuckDB settings (``threads``, ``temp_directory``, a
    smaller ``memory_limit``...). The caller closes the connection (or uses
    :func:`connection`).
    """
    deadline = time.monotonic() + lock_timeout_s
    delay = 0.2
    config = {"memory_limit": duckdb_memory_limit(), **(options or {})}
    while True:
        try:
            return duckdb.connect(str(path), read_only=read_only, config=config)
        except duckdb.IOException as exc:
            if "lock" not in str(exc).lower():
                raise
            if time.monotonic() + delay > deadline:
                raise WarehouseLockedError(f"{path} is locked by another process: {exc}") from exc
            time.sleep(delay)
            delay = min(delay * 2, 5.0)


@contextmanager
def connection(
    path: str | Path,
    *,
    read_only: bool = False,
    lock_timeout_s: float = DEFAULT_LOCK_TIMEOUT_S,
    options: Mapping[str, str | int | bool] | None = None,
) -> Iterator[duckdb.DuckDBPyConnection]:
    """:func:`connect` as a context manager that closes the connection."""
    con = connect(path, read_only=read_only, lock_timeout_s=lock_timeout_s, options=options)
    try:
        yield con
    finally:
        con.close()


def quoted(name: str) -> str:
    """A SQL identifier in double quotes (``a.b`` is quoted part by part)."""
    return ".".join('"' + part.replace('"', '""') + '"' for part in name.split("."))


def literal(value: object) -> str:
    """A SQL string literal (single quotes doubled), for the few statements that take no
    parameters: ATTACH, COPY ... TO."""
    return "'" + str(value).replace("'", "''") + "'"


def attach(
    con: duckdb.DuckDBPyConnection, path: str | Path, alias: str, *, read_only: bool = False
) -> None:
    """Attach the DuckDB file ``path`` to ``con`` as catalog ``alias``."""
    mode = " (read_only)" if read_only else ""
    con.execute(f"attach {literal(Path(path).as_posix())} as {quoted(alias)}{mode}")


def _split(relation: str) -> tuple[str | None, str, str]:
    parts = relation.split(".")
    if len(parts) == 2:
        return None, parts[0], parts[1]
    if len(parts) == 3:
        return parts[0], parts[1], parts[2]
    raise ValueError(f"relation must be schema.table or catalog.schema.table, got {relation!r}")


def _schema_of(relation: str) -> str:
    catalog, schema, _ = _split(relation)
    return quoted(schema) if catalog is None else f"{quoted(catalog)}.{quoted(schema)}"


def table_exists(con: duckdb.DuckDBPyConnection, relation: str) -> bool:
    """Whether ``schema.table`` (or ``catalog.schema.table``) exists as a table or view."""
    catalog, schema, table = _split(relation)
    sql = "select count(*) from information_schema.tables where table_schema = ? and table_name = ?"
    params = [schema, table]
    if catalog is not None:
        sql += " and table_catalog = ?"
        params.append(catalog)
    return bool(con.execute(sql, params).fetchall()[0][0])


def list_tables(con: duckdb.DuckDBPyConnection, catalog: str, schema: str = "main") -> list[str]:
    """Names of the tables in one schema of an attached database, sorted."""
    rows = con.execute(
        "select table_name from information_schema.tables "
        "where table_catalog = ? and table_schema = ? order by table_name",
        [catalog, schema],
    ).fetchall()
    return [r[0] for r in rows]


def table_columns(con: duckdb.DuckDBPyConnection, relation: str) -> list[str]:
    """Column names of a relation in order (empty when it does not exist)."""
    return [name for name, _ in column_types(con, relation)]


def column_types(con: duckdb.DuckDBPyConnection, relation: str) -> list[tuple[str, str]]:
    """``(column, DuckDB type)`` of a relation in order (empty when it does not exist)."""
    catalog, schema, table = _split(relation)
    sql = (
        "select column_name, data_type from information_schema.columns "
        "where table_schema = ? and table_name = ?"
    )
    params = [schema, table]
    if catalog is not None:
        sql += " and table_catalog = ?"
        params.append(catalog)
    rows = con.execute(sql + " order by ordinal_position", params).fetchall()
    return [(name, dtype) for name, dtype in rows]


def row_count(con: duckdb.DuckDBPyConnection, relation: str) -> int:
    """Rows of a relation."""
    return int(con.execute(f"select count(*) from {quoted(relation)}").fetchall()[0][0])


def read_table(
    con: duckdb.DuckDBPyConnection,
    relation: str,
    columns: Sequence[str] | None = None,
    order_by: Sequence[str] = ("golden_account_id",),
) -> pd.DataFrame:
    """``columns`` of a relation (all when None) as a DataFrame in a fixed row order.

    The order matters: model fits and samples see rows in this order, so the same data gives
    the same scores byte for byte.
    """
    select = ", ".join(quoted(c) for c in columns) if columns else "*"
    order = f" order by {', '.join(quoted(c) for c in order_by)}" if order_by else ""
    return con.execute(f"select {select} from {quoted(relation)}{order}").df()


def _select_cast(
    frame_name: str,
    frame: pd.DataFrame,
    types: Mapping[str, str] | None,
    keep_others: bool = False,
) -> str:
    if not types:
        return f"select * from {frame_name}"
    _check_contract(frame, types)
    exprs = [f"cast({quoted(c)} as {t}) as {quoted(c)}" for c, t in types.items()]
    if keep_others:
        exprs += [quoted(c) for c in frame.columns if c not in types]
    return f"select {', '.join(exprs)} from {frame_name}"


def _check_contract(frame: pd.DataFrame, types: Mapping[str, str]) -> None:
    missing = [c for c in types if c not in frame.columns]
    if missing:
        raise KeyError(f"frame lacks contract columns: {', '.join(missing)}")


@contextmanager
def _registered(con: duckdb.DuckDBPyConnection, frame: pd.DataFrame) -> Iterator[str]:
    name = f"_frame_{id(frame):x}"
    con.register(name, frame)
    try:
        yield name
    finally:
        con.unregister(name)


@contextmanager
def transaction(con: duckdb.DuckDBPyConnection) -> Iterator[None]:
    """One transaction: committed when the block ends, rolled back when it raises."""
    con.execute("begin transaction")
    try:
        yield
    except BaseException:
        con.execute("rollback")
        raise
    con.execute("commit")


def replace_table(
    con: duckdb.DuckDBPyConnection,
    relation: str,
    frame: pd.DataFrame,
    types: Mapping[str, str] | None = None,
    keep_others: bool = False,
) -> None:
    """Replace ``relation`` with ``frame``; with ``types`` (column -> SQL type, in order) those
    columns first, cast to their contract types, and the frame's other columns after them
    only when ``keep_others``."""
    con.execute(f"create schema if not exists {_schema_of(relation)}")
    with _registered(con, frame) as name:
        select = _select_cast(name, frame, types, keep_others)
        con.execute(f"create or replace table {quoted(relation)} as {select}")


def replace_table_joining(
    con: duckdb.DuckDBPyConnection,
    relation: str,
    frame: pd.DataFrame,
    types: Mapping[str, str],
    source: str,
    key: str = "golden_account_id",
) -> None:
    """:func:`replace_table` with ``keep_others`` for a ``frame`` that was read from ``source``
    (one row per ``key``) without some of its columns: ``types``' columns first, cast; then
    every other column of ``source`` in its order, ``frame``'s where it has it, else joined from
    ``source``'s row of the same key; then ``frame``'s own others. Rows in ``frame``'s order."""
    _check_contract(frame, types)
    others = [c for c in table_columns(con, source) if c not in types]
    exprs = [f"cast(f.{quoted(c)} as {t}) as {quoted(c)}" for c, t in types.items()]
    exprs += [f"{'f' if c in frame.columns else 's'}.{quoted(c)}" for c in others]
    exprs += [f"f.{quoted(c)}" for c in frame.columns if c not in types and c not in others]
    con.execute(f"create schema if not exists {_schema_of(relation)}")
    with _registered(con, frame.assign(_row=np.arange(len(frame)))) as name:
        con.execute(
            f"create or replace table {quoted(relation)} as select {', '.join(exprs)} "
            f"from {name} as f left join {quoted(source)} as s "
            f"on s.{quoted(key)} = f.{quoted(key)} order by f._row"
        )


def create_table(con: duckdb.DuckDBPyConnection, relation: str, types: Mapping[str, str]) -> None:
    """Create ``relation`` with the contract's columns and types unless it exists."""
    con.execute(f"create schema if not exists {_schema_of(relation)}")
    cols = ", ".join(f"{quoted(c)} {t}" for c, t in types.items())
    con.execute(f"create table if not exists {quoted(relation)} ({cols})")


def append_rows(con: duckdb.DuckDBPyConnection, relation: str, frame: pd.DataFrame) -> None:
    """Insert ``frame``'s rows into the existing ``relation``, column by name (the table's
    other columns get their defaults)."""
    if frame.empty:
        return
    names = ", ".join(quoted(c) for c in frame.columns)
    with _registered(con, frame) as name:
        con.execute(f"insert into {quoted(relation)} ({names}) select {names} from {name}")


def replace_rows(
    con: duckdb.DuckDBPyConnection,
    relation: str,
    frame: pd.DataFrame,
    key: str,
    values: Sequence[object],
    types: Mapping[str, str],
) -> None:
    """Replace the rows of ``relation`` whose ``key`` is one of ``values`` with ``frame``
    (created with ``types`` when missing; a column of ``types`` it lacks is added, null in the
    rows already there); other rows stay. Call inside :func:`transaction` when several tables
    must change together."""
    create_table(con, relation, types)
    have = set(table_columns(con, relation))
    for column, sql_type in types.items():
        if column not in have:
            con.execute(f"alter table {quoted(relation)} add column {quoted(column)} {sql_type}")
    if values:
        placeholders = ", ".join("?" for _ in values)
        con.execute(
            f"delete from {quoted(relation)} where {quoted(key)} in ({placeholders})",
            list(values),
        )
    if len(frame):
        names = ", ".join(quoted(c) for c in types)
        with _registered(con, frame) as name:
            con.execute(
                f"insert into {quoted(relation)} ({names}) {_select_cast(name, frame, types)}"
            )


def rekey(con: duckdb.DuckDBPyConnection, relation: str, column: str, mapping: pd.Series) -> int:
    """Set ``column`` to ``mapping[value]`` on the rows whose value is in ``mapping``'s index
    (old -> new key); other rows stay. Returns the rows changed (0 on a second call)."""
    frame = pd.DataFrame({"old": mapping.index.to_numpy(), "new": mapping.to_numpy()})
    with _registered(con, frame) as name:
        ((changed,),) = con.execute(
            f"update {quoted(relation)} as t set {quoted(column)} = m.new "
            f"from {name} as m where t.{quoted(column)} = m.old"
        ).fetchall()
    return int(changed)


def distinct_values(con: duckdb.DuckDBPyConnection, relation: str, column: str) -> tuple[list, int]:
    """The sorted distinct values of one column and the relation's row count."""
    values, rows = con.execute(
        f"select list(distinct {quoted(column)} order by {quoted(column)}), count(*) "
        f"from {quoted(relation)}"
    ).fetchall()[0]
    return list(values or []), int(rows)
