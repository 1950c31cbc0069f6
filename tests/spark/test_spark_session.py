"""The Spark engine's reading session (pipelines/spark/session.py) can be ended with its JVM, so
a test module or a long-lived process leaves no Spark behind for what runs next in the process.
Starts Spark twice (a few seconds each); needs the ``spark`` extra, which ``make test`` installs."""

from __future__ import annotations


def test_stopping_the_reading_session_ends_its_jvm_and_the_next_use_starts_afresh(
    tmp_path, monkeypatch
):
    from pyspark import SparkContext

    from pipelines.spark.session import reader_session, stop_reader_session

    monkeypatch.setenv("STRATUM_DATA_DIR", str(tmp_path))
    stop_reader_session()  # whatever an earlier module in this process left
    assert SparkContext._gateway is None

    first = reader_session()
    jvm = SparkContext._gateway.proc
    assert first.range(3).count() == 3
    assert first.conf.get("spark.sql.session.timeZone") == "UTC"

    stop_reader_session()
    assert jvm.poll() is not None  # the JVM process has exited
    assert SparkContext._gateway is None and SparkContext._jvm is None

    try:
        second = reader_session()
        assert SparkContext._gateway.proc.pid != jvm.pid
        assert second.range(5).selectExpr("sum(id)").collect()[0][0] == 10
    finally:
        stop_reader_session()
    stop_reader_session()  # nothing running: a no-op
    assert SparkContext._gateway is None
