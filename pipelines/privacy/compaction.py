"""Rewrite a DuckDB file so that purged values are really gone from it.

DuckDB never overwrites data in place: an UPDATE or DELETE writes new blocks, and CHECKPOINT
only marks the old ones free. Their bytes stay in the file until a later write happens to
reuse them (``tests/privacy/test_privacy_compaction.py`` finds a blanked value in the file
after UPDATE + CHECKPOINT). ``VACUUM`` does not reclaim space either (DuckDB docs,
"Reclaiming space"). The documented way to compact is a fresh copy, ``COPY FROM DATABASE``:
it writes every schema, table, view, sequence and macro into a new file, which then replaces
the old one with an atomic rename. Readers holding the old file open keep reading the old
inode until they reconnect.
"""

from __future__ import annotations

import os
import uuid
from dataclasses import dataclass
from pathlib import Path

from pipelines import warehouse as wh
from pipelines.resources import Warehouse

# The fresh copy being written; a run killed before the rename leaves it (pipelines/recovery.py
# sweeps it, and privacy.rewrite_due makes the next run rewrite the file again).
COMPACTING_SUFFIX = ".compacting"


@dataclass(frozen=True)
class Compaction:
    """A rewrite of one database file."""

    path: Path
    bytes_before: int
    bytes_after: int


def compact_database(path: Path) -> Compaction:
    """Rewrite the DuckDB file ``path`` into a fresh file and put it in place atomically.

    No connection to ``path`` may be open in this process (DuckDB would keep serving the old
    file to it); other processes must not write while it runs (the run lock ensures it).
    """
    path = Path(path)
    before = path.stat().st_size
    # Merge the write-ahead log first: the copy must see every change, and no stale log may
    # be replayed onto the new file.
    with Warehouse(path=str(path)).connect() as con:
        con.execute("checkpoint")
    wal = path.with_name(path.name + ".wal")
    if wal.exists():
        raise RuntimeError(f"{wal} still exists after a checkpoint: not compacting {path}")
    fresh = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}{COMPACTING_SUFFIX}")
    # Where DuckDB spills for the file itself, so no other folder appears.
    con = wh.connect(
        ":memory:", options={"temp_directory": str(path.with_name(path.name + ".tmp"))}
    )
    try:
        wh.attach(con, path, "src", read_only=True)
        wh.attach(con, fresh, "dst")
        con.execute("copy from database src to dst")
        con.execute("detach src")
        con.execute("detach dst")
    except BaseException:
        con.close()
        fresh.unlink(missing_ok=True)
        raise
    con.close()
    _fsync(fresh)
    os.replace(fresh, path)
    _fsync(path.parent)
    return Compaction(path, before, path.stat().st_size)


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
