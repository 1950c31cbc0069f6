"""Where Splink runs: DuckDB in memory (the ``duckdb`` engine) or the engine's Spark (``spark``).

A :class:`SplinkBackend` hands out Linkers over Arrow tables of match features and returns
query results as Arrow; the model (:mod:`pipelines.identity.model`) and its training
(:mod:`pipelines.identity.training`) never know which one they run on.

On Spark, the records travel in as Arrow (``createDataFrame`` from the frame with Arrow on) and
the results come back as Arrow record batches; Splink runs in a session of its own on the
reading session's SparkContext (:func:`pipelines.spark.session.reader_session`), with its
intermediate tables cached in memory rather than checkpointed, all dropped when matching ends.

One string similarity is not Spark's own: Splink's Spark dialect calls ``jaro_winkler``, which
Splink means to come from its bundled Scala jar (Apache commons-text). DuckDB's
``jaro_winkler_similarity`` compares UTF-8 *bytes* and matches greedily from its second argument,
commons-text compares UTF-16 characters from the shorter string, so on Chinese names the two
disagree on most pairs (docs/scale-out.md has the counts). Here ``jaro_winkler`` on Spark is a
vectorised pandas UDF that runs DuckDB's own function over each Arrow batch: the same
comparison level for every pair by construction. Levenshtein (credit codes, ASCII) and array
intersection (distinct elements on both) are the engines' own and agree.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import duckdb
import pyarrow as pa
from splink import DuckDBAPI, Linker

from pipelines import warehouse as wh
from pipelines.identity.config import IdentityConfig

if TYPE_CHECKING:
    from pyspark.sql import DataFrame as SparkFrame
    from pyspark.sql import SparkSession


class SplinkBackend(ABC):
    """Linkers over Arrow tables of records, and query results as Arrow."""

    name: str

    @abstractmethod
    def linker(self, records: pa.Table, settings: Any) -> Linker:
        """A Linker over ``records`` with ``settings`` (a SettingsCreator or a saved model),
        with a database API of its own: Splink caches intermediate tables per API, so two
        linkers over different records must not share one."""

    @abstractmethod
    def to_arrow(self, sql: str) -> pa.Table:
        """The result of ``sql`` (this backend's dialect) as an Arrow table, in its order."""


class DuckDBBackend(SplinkBackend):
    name = "duckdb"

    def __init__(self, con: duckdb.DuckDBPyConnection) -> None:
        self.con = con

    def linker(self, records: pa.Table, settings: Any) -> Linker:
        return Linker(DuckDBAPI(self.con).register(records), settings, log_level=None)

    def to_arrow(self, sql: str) -> pa.Table:
        return self.con.sql(sql).to_arrow_table()


class SparkBackend(SplinkBackend):
    name = "spark"

    def __init__(self, session: SparkSession) -> None:
        from pyspark.sql.functions import pandas_udf

        from pipelines.identity.similarity import duckdb_jaro_winkler

        self.session = session
        session.udf.register("jaro_winkler", pandas_udf(duckdb_jaro_winkler, "double"))
        self._frames: dict[int, tuple[pa.Table, SparkFrame]] = {}

    def _frame(self, records: pa.Table) -> SparkFrame:
        from pyspark.sql.pandas.types import from_arrow_schema

        # Keyed by the table object, which the cache keeps alive (so its id is never reused):
        # the records and each sample go to Spark once however many linkers read them.
        key = id(records)
        if key not in self._frames:
            # pandas is only the carrier: with Arrow on, Spark takes the frame's Arrow buffers
            frame = self.session.createDataFrame(
                records.to_pandas(), schema=from_arrow_schema(records.schema)
            )
            self._frames[key] = (records, frame)
        return self._frames[key][1]

    def linker(self, records: pa.Table, settings: Any) -> Linker:
        from splink import SparkAPI

        api = SparkAPI(
            spark_session=self.session,
            break_lineage_method="persist",  # small intermediates: memory, no checkpoint dir
            register_udfs_automatically=False,  # jaro_winkler is ours (see module docstring)
        )
        return Linker(api.register(self._frame(records)), settings, log_level=None)

    def to_arrow(self, sql: str) -> pa.Table:
        from pyspark.sql.pandas.types import to_arrow_schema

        frame = self.session.sql(sql)
        batches = frame._collect_as_arrow()
        return pa.Table.from_batches(batches, schema=to_arrow_schema(frame.schema))

    def close(self) -> None:
        """Drop every table Splink left in this session, and the cached data.

        The cache is the SparkContext's, shared with the reading session, which caches
        nothing of its own; Splink caches more than its views show (a view over a cached
        frame repartitioned is not itself cached), so the whole cache is cleared."""
        catalog = self.session.catalog
        for table in catalog.listTables():
            if table.isTemporary:
                catalog.dropTempView(table.name)
        catalog.clearCache()
        self._frames.clear()


def spark_session() -> SparkSession:
    """A session of its own (temporary views, settings) on the engine's reading session's
    SparkContext: Arrow both ways, and one shuffle partition per core of the context, since
    the matching works on records and pairs of one table, not on the warehouse's volumes."""
    from pipelines.spark.session import reader_session

    session = reader_session().newSession()
    partitions = max(2, session.sparkContext.defaultParallelism)
    session.conf.set("spark.sql.shuffle.partitions", str(partitions))
    session.conf.set("spark.sql.execution.arrow.pyspark.enabled", "true")
    session.conf.set("spark.sql.execution.arrow.pyspark.fallback.enabled", "false")
    session.conf.set("spark.sql.session.timeZone", "UTC")
    return session


@contextmanager
def splink_backend(engine: str, config: IdentityConfig) -> Iterator[SplinkBackend]:
    """The backend of ``engine`` (``duckdb`` or ``spark``), released when the block ends."""
    if engine == "spark":
        backend = SparkBackend(spark_session())
        try:
            yield backend
        finally:
            backend.close()
        return
    # Same rows in, same order of work: deterministic floating point sums
    con = wh.connect(
        ":memory:",
        options={
            "memory_limit": config.duckdb_memory_limit,
            "threads": config.threads,
            "preserve_insertion_order": True,
        },
    )
    try:
        yield DuckDBBackend(con)
    finally:
        con.close()
