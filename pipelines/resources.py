"""The warehouse resource: one DuckDB file, opened inside assets, never at import."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb
from dagster import ConfigurableResource

from pipelines import warehouse
from pipelines.settings import get_paths


class Warehouse(ConfigurableResource):
    """DuckDB warehouse. ``path`` empty means "from settings" (``STRATUM_WAREHOUSE``)."""

    path: str = ""

    def resolved_path(self) -> str:
        return self.path or str(get_paths().warehouse)

    @contextmanager
    def connect(
        self, read_only: bool = False, lock_timeout_s: float = warehouse.DEFAULT_LOCK_TIMEOUT_S
    ) -> Iterator[duckdb.DuckDBPyConnection]:
        """A connection through :func:`pipelines.warehouse.connect` (memory cap; waits up to
        ``lock_timeout_s`` for another process's lock, then raises
        :class:`pipelines.warehouse.WarehouseLockedError`)."""
        target = Path(self.resolved_path())
        target.parent.mkdir(parents=True, exist_ok=True)
        with warehouse.connection(
            target, read_only=read_only, lock_timeout_s=lock_timeout_s
        ) as con:
            yield con
