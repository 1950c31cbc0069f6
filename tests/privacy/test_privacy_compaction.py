"""A purge is gone from the DuckDB file only after it is rewritten: UPDATE + CHECKPOINT leave the
old blocks (and their bytes) in the file; COPY FROM DATABASE into a fresh file does not."""

from __future__ import annotations

from pathlib import Path

import duckdb

from pipelines.privacy.compaction import compact_database

# A domain every stored email shares: DuckDB compresses strings (FSST, dictionaries), so a whole
# address is not always found as bytes, but this common substring is.
PROBE = b"secretmail"


def _warehouse(path: Path) -> None:
    con = duckdb.connect(str(path))
    con.execute("create schema raw")
    con.execute(
        "create table raw.crm_contacts as select 'CT' || i as contact_id, "
        "'person' || i || '@secretmail.cn' as email from range(200000) t(i)"
    )
    # A table written after it: the contacts' old blocks end up in the middle of the file.
    con.execute("create table raw.orders as select i as order_id, i * 1.5 as amount "
                "from range(2000000) t(i)")  # fmt: skip
    con.execute("create schema staging")
    con.execute("create view staging.stg_contacts as select * from raw.crm_contacts")
    con.execute("create sequence raw.seq start 41")
    con.execute("select nextval('raw.seq')")
    con.execute("checkpoint")
    con.close()


def test_checkpoint_leaves_blanked_values_in_the_file_compaction_removes_them(tmp_path):
    path = tmp_path / "stratum.duckdb"
    _warehouse(path)
    assert path.read_bytes().count(PROBE) > 0
    con = duckdb.connect(str(path))
    con.execute("update raw.crm_contacts set email = null")
    con.execute("checkpoint")
    con.close()
    # The values are gone from the table but not from the file: the reason compaction exists.
    assert path.read_bytes().count(PROBE) > 0

    result = compact_database(path)

    assert path.read_bytes().count(PROBE) == 0
    assert result.bytes_after <= result.bytes_before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["stratum.duckdb"]  # no leftovers
    con = duckdb.connect(str(path), read_only=True)
    assert con.execute("select count(*), count(email) from staging.stg_contacts").fetchone() == (
        200000,
        0,
    )
    assert con.execute("select count(*), sum(order_id) from raw.orders").fetchone() == (
        2000000,
        sum(range(2000000)),
    )
    con.close()
    con = duckdb.connect(str(path))
    assert con.execute("select nextval('raw.seq')").fetchone()[0] == 42  # sequences continue
    con.close()


def test_compaction_keeps_changes_still_in_the_write_ahead_log(tmp_path):
    path = tmp_path / "w.duckdb"
    con = duckdb.connect(str(path))
    con.execute("create table t as select range as i from range(10)")
    con.execute("checkpoint")
    con.execute("pragma disable_checkpoint_on_shutdown")
    con.execute("insert into t values (99)")
    con.close()
    assert path.with_name("w.duckdb.wal").exists()

    compact_database(path)

    assert not path.with_name("w.duckdb.wal").exists()
    con = duckdb.connect(str(path), read_only=True)
    assert con.execute("select count(*), max(i) from t").fetchone() == (11, 99)
    con.close()
