"""Tables crossing between DuckDB and Spark: Parquet exports in, Arrow out.

Into Spark, :func:`export_tables` writes DuckDB tables as Parquet (DuckDB's own writer, a few
seconds per ten million rows) where the dbt macro ``register_external_sources`` registers them
under the same names. Out of Spark, :func:`read_arrow` reads a table dbt built into Arrow
record batches, and :func:`copy_to_duckdb` lands one in DuckDB with its Spark types in DuckDB's
spelling (decimals, dates and integers exact).
"""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import duckdb

from pipelines import warehouse as wh
from pipelines.spark.session import exports_dir, reader_session, table_location

if TYPE_CHECKING:
    import pyarrow as pa


def export_tables(con: duckdb.DuckDBPyConnection, relations: Iterable[str]) -> dict[str, str]:
    """Write each DuckDB table (``schema.table``) as Parquet under
    ``<exports>/<schema>/<table>/``, replacing the previous export; tables that do not exist
    yet are left out. Returns relation -> directory, the ``external_sources`` dbt var."""
    exported: dict[str, str] = {}
    for relation in sorted(set(relations)):
        if not wh.table_exists(con, relation):
            continue
        schema, table = relation.split(".")
        target = exports_dir() / schema / table
        # Written beside the old export and swapped in, so Spark never sees half a table.
        staging = target.with_name(f".{table}.{uuid.uuid4().hex[:8]}")
        staging.mkdir(parents=True)
        path = str(staging / "part-0.parquet").replace("'", "''")
        con.execute(f"copy (select * from {wh.quoted(relation)}) to '{path}' (format parquet)")
        if target.exists():
            shutil.rmtree(target)
        staging.rename(target)
        exported[relation] = str(target)
    return exported


def read_arrow(
    relation: str, columns: Sequence[str] | None = None, order_by: Sequence[str] = ()
) -> pa.Table:
    """``columns`` of a table dbt built on Spark (all when None), in ``order_by`` order, as an
    Arrow table collected through Spark's Arrow path. Spark's timestamps (UTC, the session time
    zone) arrive as naive timestamps, like DuckDB's."""
    import pyarrow as pa
    import pyarrow.compute as pc
    from pyspark.sql.pandas.types import to_arrow_schema

    location = table_location(relation)
    if not location.exists():
        raise FileNotFoundError(f"{relation}: no Spark table at {location} (not built yet?)")
    frame = reader_session().read.parquet(str(location))
    if columns:
        frame = frame.select(*columns)
    if order_by:
        frame = frame.orderBy(*order_by)
    # The record batches toPandas() itself collects, without its conversion to pandas types.
    batches = frame._collect_as_arrow()
    table = pa.Table.from_batches(batches, schema=to_arrow_schema(frame.schema))
    for index, field in enumerate(table.schema):
        if pa.types.is_timestamp(field.type) and field.type.tz is not None:
            naive = pc.cast(table.column(index), pa.timestamp(field.type.unit))
            table = table.set_column(index, field.name, naive)
    return table


def copy_to_duckdb(con: duckdb.DuckDBPyConnection, relations: Iterable[str]) -> dict[str, int]:
    """Replace each DuckDB table with the Spark table of the same name; rows per relation."""
    rows: dict[str, int] = {}
    for relation in relations:
        table = read_arrow(relation)
        schema, name = relation.split(".")
        con.execute(f"create schema if not exists {wh.quoted(schema)}")
        # A staging view of an earlier DuckDB-engine run in the same data dir gives way.
        is_view = con.execute(
            "select count(*) from duckdb_views() where schema_name = ? and view_name = ?",
            [schema, name],
        ).fetchall()[0][0]  # fetched to the end: the connection registers a table next
        if is_view:
            con.execute(f"drop view {wh.quoted(relation)}")
        arrow_name = f"_arrow_{uuid.uuid4().hex[:8]}"
        con.register(arrow_name, table)
        try:
            con.execute(
                f"create or replace table {wh.quoted(relation)} as select * from {arrow_name}"
            )
        finally:
            con.unregister(arrow_name)
        rows[relation] = table.num_rows
    return rows


def count_rows(relations: Mapping[str, str]) -> dict[str, int]:
    """Rows per key of ``relations`` (key -> ``schema.table``, optionally quoted) from the
    Parquet footers of the Spark tables; tables not built (views, missing) are skipped."""
    import pyarrow.dataset as ds

    counts: dict[str, int] = {}
    for key, relation in relations.items():
        location = table_location(relation.replace('"', ""))
        if location.is_dir():
            counts[key] = ds.dataset(str(location), format="parquet").count_rows()
    return counts


def column_max(relation: str, column: str) -> Any:
    """The largest value of ``column`` in a table dbt built on Spark, read from its Parquet
    files without a Spark session (None when the table was not built or holds no value)."""
    import pyarrow.compute as pc
    import pyarrow.dataset as ds

    location = table_location(relation)
    if not location.is_dir():
        return None
    values = ds.dataset(str(location), format="parquet").to_table(columns=[column])[column]
    return pc.max(values).as_py()
