"""Where things live, and every environment variable the project reads — all in this file.

Everything on disk is derived from ``STRATUM_DATA_DIR`` (default: ``<repo>/data``) unless a
more specific variable overrides it. Nothing here touches the disk at import time.

A run's *business* context (as-of date, snapshot id, rules and policy versions) is not read
from the environment: it comes from the run's partition and run config
(:mod:`pipelines.run_context`).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

REPO_ROOT = Path(__file__).resolve().parent.parent
DBT_PROJECT_DIR = REPO_ROOT / "dbt_project"
EXPECTATIONS_DIR = REPO_ROOT / "expectations"

ENTITIES = (
    "crm_accounts",
    "crm_contacts",
    "crm_leads",
    "crm_activities",
    "orders",
    "risk",
    "surveys",
)
# Every folder under landing/ the ingest step reads: the sources above, plus the erasure
# requests of people who asked to be deleted (docs/privacy.md). Those are no customer data:
# no quality suite, no dbt source; pipelines/privacy acts on them.
ERASURE_REQUESTS = "privacy_erasure_requests"
LANDING_ENTITIES = (*ENTITIES, ERASURE_REQUESTS)

# Every environment override of the project, with what it does. Nothing else under pipelines/
# reads os.environ for a STRATUM_* variable (tests/test_settings.py checks it), except the
# launcher behind `make run`, which maps its as-of convenience variable to a partition.
ENV_OVERRIDES: dict[str, str] = {
    "STRATUM_DATA_DIR": "root of landing/, warehouse/, serving/, models/, quality/ (default <repo>/data)",
    "STRATUM_LANDING_DIR": "where landing files are read (default <data dir>/landing)",
    "STRATUM_SERVING_DIR": "published snapshots and the serving database (default <data dir>/serving)",
    "STRATUM_MODELS_DIR": "trained models and their cards (default <data dir>/models)",
    "STRATUM_QUALITY_DIR": "Great Expectations results and Data Docs (default <data dir>/quality)",
    "STRATUM_CONFIG_DIR": "another configuration tree instead of <repo>/config (same layout)",
    "STRATUM_TIER_POLICY": "tier policy file when the run config names none (default config/tiers/default.yaml)",
    "STRATUM_DUCKDB_MEMORY_LIMIT": "DuckDB memory cap for Python and dbt, e.g. 8GB (default: half the RAM, at most 4GB)",
    "STRATUM_CODE_VERSION": "code version stamped on snapshots (default: the git commit)",
    "STRATUM_ENGINE": "where dbt builds the models: duckdb (default) or spark (docs/scale-out.md)",
    "STRATUM_SPARK_MASTER": "Spark master of the spark engine (default local[2])",
    "STRATUM_SPARK_DRIVER_MEMORY": "Spark driver memory of the spark engine, e.g. 8g (default 4g)",
    "STRATUM_DBT_UNIT_TESTS": "1: a run's dbt builds also run the project's dbt unit tests (default: only make test does)",
}  # fmt: skip

Engine = Literal["duckdb", "spark"]
ENGINES: tuple[Engine, ...] = ("duckdb", "spark")


def _env(name: str) -> str | None:
    if name not in ENV_OVERRIDES:  # a new variable must be documented above
        raise KeyError(f"{name} is not a documented override (pipelines/settings.py)")
    return os.environ.get(name) or None


@dataclass(frozen=True)
class Paths:
    data_dir: Path
    landing_dir: Path
    warehouse: Path
    serving_dir: Path
    models_dir: Path
    quality_dir: Path

    @property
    def snapshots_dir(self) -> Path:
        return self.serving_dir / "snapshots"

    @property
    def serving_db(self) -> Path:
        return self.serving_dir / "stratum_serving.duckdb"

    @property
    def spark_dir(self) -> Path:
        """The spark engine's warehouse, metastore and Parquet exports (one per data dir)."""
        return self.data_dir / "spark"


def _env_path(name: str, default: Path) -> Path:
    value = _env(name)
    return Path(value).expanduser().resolve() if value else default.resolve()


def get_paths() -> Paths:
    """Resolve the project's data locations from the environment (read on every call)."""
    data_dir = _env_path("STRATUM_DATA_DIR", REPO_ROOT / "data")
    return Paths(
        data_dir=data_dir,
        landing_dir=_env_path("STRATUM_LANDING_DIR", data_dir / "landing"),
        # Deliberately not overridable on its own: the warehouse always lives in the data dir,
        # so dbt (which reads STRATUM_WAREHOUSE, set from here) and Python cannot disagree.
        warehouse=data_dir / "warehouse" / "stratum.duckdb",
        serving_dir=_env_path("STRATUM_SERVING_DIR", data_dir / "serving"),
        models_dir=_env_path("STRATUM_MODELS_DIR", data_dir / "models"),
        quality_dir=_env_path("STRATUM_QUALITY_DIR", data_dir / "quality"),
    )


def config_dir() -> Path:
    """The configuration tree: ``STRATUM_CONFIG_DIR`` or ``<repo>/config``."""
    return _env_path("STRATUM_CONFIG_DIR", REPO_ROOT / "config")


def tier_policy_override() -> Path | None:
    """``STRATUM_TIER_POLICY`` as a path, if set."""
    value = _env("STRATUM_TIER_POLICY")
    return Path(value).expanduser().resolve() if value else None


def code_version_override() -> str | None:
    return _env("STRATUM_CODE_VERSION")


def comparable_code_version(code_version: str) -> bool:
    """Whether equal code versions mean equal code (a modified checkout is never assumed so)."""
    return bool(code_version) and code_version != "unknown" and not code_version.endswith("-dirty")


# DuckDB's default cap when STRATUM_DUCKDB_MEMORY_LIMIT is unset: half the RAM, at most this.
DEFAULT_DUCKDB_MEMORY_CAP_GB = 4.0


def duckdb_memory_limit() -> str:
    """DuckDB's memory cap for warehouse work: ``STRATUM_DUCKDB_MEMORY_LIMIT`` (e.g. ``8GB``).

    Beyond the cap DuckDB spills to a temp directory beside the warehouse instead of growing
    (DuckDB's own default, 80% of RAM, let a 20M-row load pass 14 GB). The default, half the
    RAM up to 4 GB, leaves the rest to Python (scores, models), to the processes of the run
    around it and to the OS, and keeps a run's memory from growing with the machine (at half of
    24 GB, the feature layer of 1,000,000 accounts took the whole run to 9.5 GB; see
    docs/performance.md). Set it higher on a big server.
    """
    configured = _env("STRATUM_DUCKDB_MEMORY_LIMIT")
    if configured:
        return configured
    try:
        half_gb = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2 / 1e9
    except (ValueError, OSError, AttributeError):  # no sysconf (Windows): DuckDB's own measure
        return "50%"
    return f"{min(half_gb, DEFAULT_DUCKDB_MEMORY_CAP_GB):.1f}GB"


def engine() -> Engine:
    """Where dbt builds the models: ``STRATUM_ENGINE``, ``duckdb`` unless set to ``spark``.

    On ``spark`` the dbt project runs on Spark (dbt target ``spark``) and the per-account
    results the Python stages read come back through Arrow (:mod:`pipelines.spark`); the
    Dagster assets, checks and lineage are the same on both.
    """
    value = (_env("STRATUM_ENGINE") or "duckdb").strip().lower()
    if value not in ENGINES:
        raise ValueError(f"STRATUM_ENGINE={value!r}: expected one of {', '.join(ENGINES)}")
    return value  # type: ignore[return-value]


def spark_master() -> str:
    return _env("STRATUM_SPARK_MASTER") or "local[2]"


def spark_driver_memory() -> str:
    return _env("STRATUM_SPARK_DRIVER_MEMORY") or "4g"


def dbt_unit_tests_in_runs() -> bool:
    """Whether a run's ``dbt build`` also runs the project's dbt unit tests. Off unless
    ``STRATUM_DBT_UNIT_TESTS=1``: they check the SQL's logic on fixed inputs, which no day's data
    changes, so they belong where the code changes (``make test`` runs them, on both engines),
    as dbt's guidance has it; in a run they cost about 3 s of every 36 at 1,000 accounts, most
    of it before ``account_windows`` is built (a model waits for its unit tests)."""
    return _env("STRATUM_DBT_UNIT_TESTS") == "1"


def dbt_env_vars() -> dict[str, str]:
    """Environment that dbt's profiles.yml reads (paths and limits, never the run's dates)."""
    env = {
        "STRATUM_WAREHOUSE": str(get_paths().warehouse),
        "STRATUM_DUCKDB_MEMORY_LIMIT": duckdb_memory_limit(),
    }
    if engine() == "spark":
        from pipelines.spark.session import spark_environment  # needs the `spark` extra

        env.update(spark_environment())
    return env


@contextmanager
def dbt_environment() -> Iterator[dict[str, str]]:
    """Set the dbt environment for the duration of a block, then restore the previous values."""
    env = dbt_env_vars()
    previous = {key: os.environ.get(key) for key in env}
    os.environ.update(env)
    try:
        yield env
    finally:
        for key, value in previous.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
