"""Reading a dbt model from the engine that built it (``STRATUM_ENGINE``).

On DuckDB that is the warehouse (:func:`pipelines.warehouse.read_table`). On Spark the model
lives in Spark's warehouse and is read through Arrow (:func:`pipelines.spark.exchange.read_arrow`),
then handed to pandas by DuckDB's own conversion, so a score module gets the same frame, column
types included, from either engine.
"""

from __future__ import annotations

from collections.abc import Sequence

import duckdb
import pandas as pd

from pipelines import warehouse as wh
from pipelines.settings import engine


def read_model(
    con: duckdb.DuckDBPyConnection,
    relation: str,
    columns: Sequence[str] | None = None,
    order_by: Sequence[str] = ("golden_account_id",),
) -> pd.DataFrame:
    """``columns`` of a dbt model (all when None) as a DataFrame in ``order_by`` order, from the
    configured engine. ``con`` is the warehouse connection of the caller."""
    if engine() == "spark":
        from pipelines.spark.exchange import read_arrow

        return con.from_arrow(read_arrow(relation, columns, order_by)).df()
    return wh.read_table(con, relation, columns, order_by)
