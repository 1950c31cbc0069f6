"""One dbt build per session, through the Dagster asset, on the hand-written scenario."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pytest

from tests.transform.raw_tables import append_rows, create_raw_tables
from tests.transform.scenario import AS_OF, ROWS


@dataclass(frozen=True)
class BuiltWarehouse:
    """A temp DuckDB warehouse after `dbt build`, and the Dagster result that built it."""

    path: Path
    result: object

    def query(self, sql: str, params: list | None = None) -> list[tuple]:
        with duckdb.connect(str(self.path), read_only=True) as con:
            return con.execute(sql, params or []).fetchall()

    def rows(self, sql: str, params: list | None = None) -> list[dict]:
        with duckdb.connect(str(self.path), read_only=True) as con:
            cur = con.execute(sql, params or [])
            names = [d[0] for d in cur.description]
            return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]


@pytest.fixture(scope="session")
def scenario_warehouse(tmp_path_factory, dbt_manifest) -> Iterator[BuiltWarehouse]:
    """Raw tables from tests/transform/scenario.py, then dbt staging, the identity matching
    asset and the rest of the dbt project (dbt build)."""
    from dagster import materialize

    from pipelines.identity.assets import account_matches
    from pipelines.resources import Warehouse
    from pipelines.run_context import RunContextResource
    from pipelines.transform.assets import (
        dbt_feature_models,
        dbt_models,
        dbt_resource,
        dbt_staging_models,
    )

    data_dir = tmp_path_factory.mktemp("transform") / "data"
    # settings derive the warehouse from STRATUM_DATA_DIR: <data_dir>/warehouse/stratum.duckdb
    path = data_dir / "warehouse" / "stratum.duckdb"
    path.parent.mkdir(parents=True)
    with duckdb.connect(str(path)) as con:
        create_raw_tables(con)
        for entity, rows in ROWS.items():
            append_rows(con, entity, rows)

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("STRATUM_DATA_DIR", str(data_dir))
        # The scenario build is where make test runs the dbt unit tests on DuckDB (a daily run
        # leaves them out: pipelines.settings.dbt_unit_tests_in_runs).
        mp.setenv("STRATUM_DBT_UNIT_TESTS", "1")
        mp.delenv("DBT_EXCLUDE_RESOURCE_TYPES", raising=False)
        result = materialize(
            [dbt_staging_models, account_matches, dbt_models, dbt_feature_models],
            resources={
                "dbt": dbt_resource(),
                "warehouse": Warehouse(),
                "run": RunContextResource(),
            },
            raise_on_error=False,
            partition_key=AS_OF,
        )
    yield BuiltWarehouse(path=path, result=result)
