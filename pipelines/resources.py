"""The warehouse resource: one DuckDB file, opened inside assets, never at import."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager

import duckdb
from dagster import ConfigurableResource

from pipelines.settings import duckdb_memory_limit, get_paths


def _connect_waiting_for_lock(
    path: str, read_only: bool, config: dict[str, str], timeout_s: float = 60.0
) -> duckdb.DuckDBPyConnection:
    """Open the DuckDB file, waiting while another process briefly holds its lock.

    DuckDB allows one writer per file and a read-only holder blocks writers too: the landing
    sensor or a BI analyst peeking at the warehouse must not fail a pipeline step, so a lock
    conflict is retried with backoff for up to ``timeout_s`` before it is raised.
    """
    deadline = time.monotonic() + timeout_s
    delay = 0.2
    while True:
        try:
            return duckdb.connect(path, read_only=read_only, config=config)
        except duckdb.IOException as exc:
            if "lock" not in str(exc).lower() or time.monotonic() + delay > deadline:
                raise
            time.sleep(delay)
            delay = min(delay * 2, 5.0)


class Warehouse(ConfigurableResource):
    """DuckDB warehouse. ``path`` empty means "from settings" (``STRATUM_WAREHOUSE``)."""

    path: str = ""

    def resolved_path(self) -> str:
        return self.path or str(get_paths().warehouse)

    @contextmanager
    def connect(
        self, read_only: bool = False, lock_timeout_s: float = 60.0
    ) -> Iterator[duckdb.DuckDBPyConnection]:
        """A connection that waits up to ``lock_timeout_s`` for another process's lock."""
        from pathlib import Path

        target = Path(self.resolved_path())
        target.parent.mkdir(parents=True, exist_ok=True)
        con = _connect_waiting_for_lock(
            str(target),
            read_only=read_only,
            config={"memory_limit": duckdb_memory_limit()},
            timeout_s=lock_timeout_s,
        )
        try:
            yield con
        finally:
            con.close()
