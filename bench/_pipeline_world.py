"""The benchmarks' world: the project's generator at production size, run through the real
pipeline stages once per (accounts, seed) and kept under ``.cache/bench/``.

Generating a million companies and ingesting and building them takes a long while, so each
stage's result is cached and reused by every benchmark: the landing files
(:func:`pipelines.generate.cache.cached_world`), the warehouse built up to the feature layer
(raw assets, dbt staging, identity matching, the ``dbt_models`` and ``dbt_feature_models``
selections) and, for the tier benchmark, the scores. A changed
generator gets a new cache entry (its code hash is part of the key). Delete the folder to start
over.
"""

from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path

from _measure import QUIET_ENV, REPO

CACHE = REPO / ".cache" / "bench"
AS_OF = date(2025, 6, 30)
SEED = 7


def world_dir(accounts: int, seed: int = SEED, as_of: date = AS_OF) -> Path:
    """The data dir of the cached world (landing/ copied in; warehouse/ once built)."""
    from pipelines.generate.cache import cached_world, copy_world, generator_version

    data_dir = CACHE / f"data-{accounts}-{seed}-{as_of:%Y%m%d}-{generator_version()}"
    if not (data_dir / "landing").exists():
        landing = cached_world(CACHE / "worlds", accounts, seed, as_of)
        staging = data_dir.with_name(data_dir.name + ".copying")
        shutil.rmtree(staging, ignore_errors=True)
        copy_world(landing, staging)
        staging.rename(data_dir)
    return data_dir


def env(data_dir: Path) -> dict[str, str]:
    """Environment of a benchmark step: the world's data dir, telemetry off."""
    return {**QUIET_ENV, "STRATUM_DATA_DIR": str(data_dir), "STRATUM_CODE_VERSION": "bench"}


def materialize(assets: list, as_of: date = AS_OF, selection=None):
    """Materialize assets for one as-of partition as a Dagster run does (one run context).
    Returns the result and the wall time of each step (by asset or dbt selection name)."""
    from dagster import DagsterInstance
    from dagster import materialize as dagster_materialize

    from pipelines.resources import Warehouse
    from pipelines.run_context import RunContextResource
    from pipelines.transform.assets import dbt_resource

    with DagsterInstance.ephemeral() as instance:
        result = dagster_materialize(
            assets,
            selection=selection,
            partition_key=as_of.isoformat(),
            resources={
                "warehouse": Warehouse(),
                "dbt": dbt_resource(),
                "run": RunContextResource(),
            },
            instance=instance,
            raise_on_error=True,
        )
        started, seconds = {}, {}
        for record in instance.all_logs(result.run_id):
            event = record.dagster_event
            if event is None:
                continue
            if event.event_type_value == "STEP_START":
                started[event.step_key] = record.timestamp
            elif event.event_type_value == "STEP_SUCCESS":
                seconds[event.step_key.split("__")[-1]] = record.timestamp - started[event.step_key]
    return result, seconds


def is_built(data_dir: Path, relation: str) -> bool:
    """Whether the world's warehouse already holds ``relation``."""
    from pipelines import warehouse as wh

    path = data_dir / "warehouse" / "stratum.duckdb"
    if not path.exists():
        return False
    with wh.connection(path, read_only=True) as con:
        return wh.table_exists(con, relation)
