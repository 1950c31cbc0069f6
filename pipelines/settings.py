"""Where things live. One setting, resolved to absolute paths, read by Dagster and dbt alike.

Everything is derived from ``STRATUM_DATA_DIR`` (default: ``<repo>/data``) unless a more
specific variable overrides it. Nothing here touches the disk at import time.
"""

from __future__ import annotations

import os
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
        warehouse=_env_path("STRATUM_WAREHOUSE", data_dir / "warehouse" / "stratum.duckdb"),
        serving_dir=_env_path("STRATUM_SERVING_DIR", data_dir / "serving"),
        models_dir=_env_path("STRATUM_MODELS_DIR", data_dir / "models"),
        quality_dir=_env_path("STRATUM_QUALITY_DIR", data_dir / "quality"),
    )


def as_of_date() -> date:
    """The run's reference date: ``STRATUM_AS_OF`` (YYYY-MM-DD) or today."""
    value = os.environ.get("STRATUM_AS_OF")
    return date.fromisoformat(value) if value else date.today()


def export_for_dbt() -> dict[str, str]:
    """Environment that dbt's profiles.yml reads, so dbt and Python share one warehouse path."""
    paths = get_paths()
    env = {
        "STRATUM_WAREHOUSE": str(paths.warehouse),
        "STRATUM_AS_OF": as_of_date().isoformat(),
    }
    os.environ.update(env)
    return env
