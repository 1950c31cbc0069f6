"""DuckDB's Jaro-Winkler for Spark: the body of the ``jaro_winkler`` pandas UDF that Splink's
Spark dialect calls when identity matching runs on Spark (:mod:`pipelines.identity.backends`).

Kept apart from the backends so that Spark's Python workers, which import this module to run
the UDF, load DuckDB, pandas and pyarrow (and the project's connection factory), not Splink.
"""

from __future__ import annotations

import duckdb
import pandas as pd
import pyarrow as pa

from pipelines import warehouse as wh

_con: duckdb.DuckDBPyConnection | None = None


def duckdb_jaro_winkler(left: pd.Series, right: pd.Series) -> pd.Series:
    """DuckDB's ``jaro_winkler_similarity`` of each pair of the batch (a null gives a null).

    One single-threaded in-memory DuckDB per worker process, so the rows keep their order."""
    global _con
    if _con is None:
        _con = wh.connect(":memory:", options={"threads": 1})
    batch = pa.table(
        {"l": pa.array(left, type=pa.string()), "r": pa.array(right, type=pa.string())}
    )
    _con.register("jw_batch", batch)
    try:
        table = _con.sql(
            "select jaro_winkler_similarity(l, r) as jw from jw_batch"
        ).to_arrow_table()
    finally:
        _con.unregister("jw_batch")
    return table.column("jw").to_pandas()
