"""Where things live. One setting, resolved to absolute paths, read by Dagster and dbt alike.

Everything is derived from ``STRATUM_DATA_DIR`` (default: ``<repo>/data``) unless a more
specific variable overrides it. Nothing here touches the disk at import time.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
CONFIG_DIR = REPO_ROOT / "config"
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


def _env_path(name: str, default: Path) -> Path:
    value = os.environ.get(name)
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


def as_of_date() -> date:
    """The run's reference date: ``STRATUM_AS_OF`` (YYYY-MM-DD) or today."""
    value = os.environ.get("STRATUM_AS_OF")
    return date.fromisoformat(value) if value else date.today()


def duckdb_memory_limit() -> str:
    """DuckDB's memory cap for warehouse work: ``STRATUM_DUCKDB_MEMORY_LIMIT`` (e.g. ``8GB``).

    The default leaves half the machine to Python (scores, models) and the OS; beyond the cap
    DuckDB spills to a temp directory beside the warehouse instead of growing (DuckDB's own
    default, 80% of RAM, let a 20M-row load pass 14 GB).
    """
    return os.environ.get("STRATUM_DUCKDB_MEMORY_LIMIT", "50%")


def dbt_env_vars() -> dict[str, str]:
    """Environment that dbt's profiles.yml and vars read, derived from the one data-dir setting."""
    return {
        "STRATUM_WAREHOUSE": str(get_paths().warehouse),
        "STRATUM_AS_OF": as_of_date().isoformat(),
        "STRATUM_DUCKDB_MEMORY_LIMIT": duckdb_memory_limit(),
    }


def export_for_dbt() -> dict[str, str]:
    """Put :func:`dbt_env_vars` into ``os.environ`` (dbt subprocesses inherit it); returns them."""
    env = dbt_env_vars()
    os.environ.update(env)
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
