"""The warehouse resource waits out a brief lock held by another process instead of failing."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import duckdb

from pipelines.resources import Warehouse


def test_connect_waits_for_a_lock_held_briefly_by_another_process(tmp_path):
    path = tmp_path / "wh.duckdb"
    duckdb.connect(str(path)).close()
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            textwrap.dedent(
                f"""
                import duckdb, time
                con = duckdb.connect({str(path)!r}, read_only=True)
                print("held", flush=True)
                time.sleep(2)
                con.close()
                """
            ),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout.readline().strip() == "held"
    # The reader holds the file for two seconds: a plain connect fails now...
    try:
        duckdb.connect(str(path)).close()
        raise AssertionError("expected the lock to be held")
    except duckdb.IOException:
        pass
    # ...while the resource waits for the lock and then writes.
    with Warehouse(path=str(path)).connect() as con:
        con.execute("create table t as select 1 as x")
    holder.wait(timeout=30)
    with duckdb.connect(str(path), read_only=True) as con:
        assert con.execute("select x from t").fetchone() == (1,)
