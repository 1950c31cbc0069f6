"""The warehouse resource: one DuckDB file, opened inside assets, never at import."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import duckdb
from dagster import ConfigurableResource

from pipelines.settings import duckdb_memory_limit, get_paths


class Warehouse(ConfigurableResource):
    """DuckDB warehouse. ``path`` empty means "from settings" (``STRATUM_WAREHOUSE``)."""

    path: str = ""

    def resolved_path(self) -> str:
        return self.path or str(get_paths().warehouse)

    @contextmanager
    def connect(self, read_only: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
        from pathlib import Path

        target = Path(self.resolved_path())
        target.parent.mkdir(parents=True, exist_ok=True)
        con = duckdb.connect(
            str(target), read_only=read_only, config={"memory_limit": duckdb_memory_limit()}
        )
        try:
            yield con
        finally:
            con.close()
