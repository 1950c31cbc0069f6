"""Warehouses with raw tables from a generated world and the dbt seeds and staging models built.

Building is done once per world (a template file); every test gets its own copy, so tests that
change raw data never share a warehouse. A test that changes raw records before matching again
calls :func:`restage`, as a run's ``dbt_staging_models`` step would (staging accounts are a
table, not a view).
"""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Callable
from datetime import date
from pathlib import Path

import duckdb
import pytest

from tests.conftest import dbt_cli
from tests.transform.raw_tables import build_from_world

AS_OF = date(2026, 11, 20)


def build_staging(path: Path, world, scratch: Path) -> None:
    """Raw tables from ``world`` plus ground truth, then ``dbt build`` of seeds and staging."""
    with duckdb.connect(str(path)) as con:
        build_from_world(con, world)
        con.register("truth_frame", world.truth_accounts)
        con.execute("create table main.truth_accounts as select * from truth_frame")
        con.unregister("truth_frame")
    dbt_cli(
        "build",
        "--select",
        "china_regions industry_map staging",
        "--indirect-selection",
        "buildable",
        "--target-path",
        str(scratch / "target"),
        "--log-path",
        str(scratch / "logs"),
        "--vars",
        f'{{"as_of_date": "{AS_OF.isoformat()}"}}',
        env={"STRATUM_WAREHOUSE": str(path)},
    )
    _keep_staging_sql(path, scratch / "target")


RESTAGE_SQL = "restage.sql"


def _keep_staging_sql(path: Path, target: Path) -> None:
    """The staging tables' SQL as dbt compiled it for this build, beside the template, without
    the database name (copies of the template are attached under another one)."""
    nodes = json.loads((target / "manifest.json").read_text())["nodes"].values()
    statements = []
    for node in sorted(nodes, key=lambda n: n["unique_id"]):
        if node["resource_type"] != "model" or node["schema"] != "staging":
            continue
        if node["config"]["materialized"] != "table":
            continue  # a view follows raw by itself
        compiled = target / "compiled" / "stratum" / node["original_file_path"]
        select = re.sub(rf'"{re.escape(path.stem)}"\.', "", compiled.read_text())
        statements.append(f"create or replace table staging.{node['name']} as\n{select}")
    assert statements, f"no staging table in {target}"
    (path.parent / RESTAGE_SQL).write_text(";\n".join(statements))


def restage(path: Path) -> None:
    """Rebuild the staging tables of ``path`` (a :func:`warehouse_copy`) from its raw tables
    with the SQL of its template's build: what ``dbt_staging_models`` does in a run."""
    with duckdb.connect(str(path)) as con:
        con.execute((path.parent / RESTAGE_SQL).read_text())


@pytest.fixture(scope="session")
def small_world_template(tmp_path_factory, dbt_manifest) -> Path:
    """A 3,000-company world with the default dirt (seed 21), staged."""
    from pipelines.generate import generate_world

    root = tmp_path_factory.mktemp("identity_template")
    path = root / "template.duckdb"
    build_staging(path, generate_world(3000, 21, AS_OF), root)
    return path


def materialize_matching(
    data_dir: Path, config_dir: Path | None = None, instance=None, run_config=None
):
    """The matching asset for the partition ``AS_OF``, against ``data_dir``'s warehouse (in
    ``instance`` when given, else an ephemeral one)."""
    from dagster import materialize

    from pipelines.identity.assets import account_matches
    from pipelines.resources import Warehouse
    from pipelines.run_context import RunContextResource

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("STRATUM_DATA_DIR", str(data_dir))
        if config_dir is not None:
            mp.setenv("STRATUM_CONFIG_DIR", str(config_dir))
        return materialize(
            [account_matches],
            resources={"warehouse": Warehouse(), "run": RunContextResource()},
            partition_key=AS_OF.isoformat(),
            raise_on_error=False,
            instance=instance,
            run_config=run_config,
        )


@pytest.fixture
def warehouse_copy(tmp_path) -> Callable[[Path], Path]:
    def copy(template: Path) -> Path:
        target = tmp_path / "warehouse" / "stratum.duckdb"
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(template, target)
        shutil.copy(template.parent / RESTAGE_SQL, target.parent / RESTAGE_SQL)
        return target

    return copy
