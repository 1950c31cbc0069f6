"""Shared fixtures: isolation from the developer's data, the dbt manifest, a generated world."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pytest

# Tests never touch the developer's data/ directory nor phone home: drop any STRATUM_* setting
# inherited from the shell (e.g. exported by make) before anything reads it.
for _key in [k for k in os.environ if k.startswith("STRATUM_")]:
    del os.environ[_key]
os.environ.update(
    {
        # Anything a test does not point elsewhere lands in a throwaway data dir.
        "STRATUM_DATA_DIR": tempfile.mkdtemp(prefix="stratum-tests-"),
        "GX_ANALYTICS_ENABLED": "False",
        "DAGSTER_DISABLE_TELEMETRY": "true",
        "DO_NOT_TRACK": "1",
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "False",
    }
)

REPO_ROOT = Path(__file__).resolve().parents[1]
DBT_DIR = REPO_ROOT / "dbt_project"
WORLD_AS_OF = date(2026, 11, 20)


def dbt_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """Run the dbt CLI of this virtualenv against the project; raise with its output on failure."""
    dbt = Path(sys.executable).parent / "dbt"
    proc = subprocess.run(
        [
            str(dbt),
            "--no-use-colors",
            *args,
            "--project-dir",
            str(DBT_DIR),
            "--profiles-dir",
            str(DBT_DIR),
        ],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        cwd=REPO_ROOT,
    )
    if proc.returncode != 0:
        raise AssertionError(
            f"dbt {' '.join(args)} failed:\n{proc.stdout[-6000:]}\n{proc.stderr[-3000:]}"
        )
    return proc


@pytest.fixture(scope="session")
def dbt_manifest(tmp_path_factory) -> Path:
    """dagster-dbt loads the manifest at import: produce it here, never rely on `dagster dev`."""
    warehouse = tmp_path_factory.mktemp("parse") / "parse.duckdb"
    dbt_cli(
        "parse",
        "--quiet",
        "--no-partial-parse",
        env={"STRATUM_WAREHOUSE": str(warehouse)},
    )
    manifest = DBT_DIR / "target" / "manifest.json"
    assert manifest.exists()
    return manifest


@dataclass
class PipelineWorld:
    """A generated world under a temp data dir, with the environment pointed at it."""

    data_dir: Path
    landing: Path
    truth: Path
    as_of: date

    def env(self) -> dict[str, str]:
        return {"STRATUM_DATA_DIR": str(self.data_dir), "STRATUM_CODE_VERSION": "test"}


def make_world(root: Path, accounts: int, seed: int, as_of: date = WORLD_AS_OF) -> PipelineWorld:
    from pipelines.generate import generate_world, write_landing

    data_dir = root / "data"
    world = PipelineWorld(data_dir, data_dir / "landing", data_dir / "ground_truth", as_of)
    write_landing(generate_world(accounts, seed, as_of), world.landing, world.truth)
    return world


def run_pipeline(world: PipelineWorld, instance, as_of: date | None = None, run_config=None):
    """Materialize the whole job in-process for one as-of date (partition) against the
    world's data dir."""
    from pipelines.definitions import defs

    with pytest.MonkeyPatch.context() as mp:
        for key, value in world.env().items():
            mp.setenv(key, value)
        job = defs.resolve_job_def("stratum_daily")
        return job.execute_in_process(
            instance=instance,
            raise_on_error=False,
            partition_key=(as_of or world.as_of).isoformat(),
            run_config=run_config,
        )
