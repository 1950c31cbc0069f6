"""Shared fixtures: isolation from the developer's data, the dbt manifest, a generated world."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
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


# make test runs the suite on two pytest-xdist workers, tests that share a world in one
# worker: tests/parallel.py.
_GROUPS_FILE = pytest.StashKey[Path]()


def _groups_file(config: pytest.Config) -> Path:
    if _GROUPS_FILE not in config.stash:
        config.stash[_GROUPS_FILE] = Path(tempfile.mkdtemp(prefix="stratum-xdist-")) / "groups"
    return config.stash[_GROUPS_FILE]


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log):
    if config.getoption("dist") == "loadscope":
        from tests.parallel import SharedWorldScheduling

        return SharedWorldScheduling(config, log, _groups_file(config))
    return None


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node) -> None:
    from tests.parallel import WORKER_INPUT_KEY

    node.workerinput[WORKER_INPUT_KEY] = str(_groups_file(node.config))


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    workerinput = getattr(config, "workerinput", None)
    if workerinput is not None:
        from tests.parallel import WORKER_INPUT_KEY, order_by_group, write_groups

        write_groups(Path(workerinput[WORKER_INPUT_KEY]), order_by_group(items))


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
    """dagster-dbt loads the manifest at import: produce it here, never rely on `dagster dev`.
    Parsed into a private folder beside the target and renamed into place, so another test
    process reading the manifest (the other pytest-xdist worker, a run being launched) never
    sees half a file."""
    import shutil

    target = DBT_DIR / "target"
    private = target / f".parse-{os.getpid()}"
    dbt_cli(
        "parse",
        "--quiet",
        "--no-partial-parse",
        "--target-path",
        str(private),
        env={"STRATUM_WAREHOUSE": str(tmp_path_factory.mktemp("parse") / "parse.duckdb")},
    )
    for name in ("partial_parse.msgpack", "manifest.json"):
        os.replace(private / name, target / name)
    shutil.rmtree(private)
    return target / "manifest.json"


@dataclass
class PipelineWorld:
    """A generated world under a temp data dir, with the environment pointed at it."""

    data_dir: Path
    landing: Path
    truth: Path
    as_of: date

    def env(self) -> dict[str, str]:
        return {"STRATUM_DATA_DIR": str(self.data_dir), "STRATUM_CODE_VERSION": "test"}


# Generated worlds, written once per (accounts, seed, as-of date) in this session and copied.
WORLD_CACHE = Path(tempfile.mkdtemp(prefix="stratum-worlds-"))


def make_world(root: Path, accounts: int, seed: int, as_of: date = WORLD_AS_OF) -> PipelineWorld:
    """A fresh copy of the generator's world under ``root/data`` (landing files + truth)."""
    from pipelines.generate.cache import cached_world, copy_world

    data_dir = root / "data"
    world = PipelineWorld(data_dir, data_dir / "landing", data_dir / "ground_truth", as_of)
    copy_world(cached_world(WORLD_CACHE, accounts, seed, as_of), data_dir)
    return world


_BUILT: dict[tuple[int, int, date], Path] = {}


def built_world(root: Path, accounts: int, seed: int, as_of: date = WORLD_AS_OF) -> PipelineWorld:
    """A copy of a generated world whose warehouse is built up to the feature layer (ingest,
    dbt staging, identity matching and the dbt models before the scores), made once per session per world: for tests of the
    stages after it. Each caller gets its own copy, so nobody shares a world it changes."""
    import shutil

    key = (accounts, seed, as_of)
    if key not in _BUILT:
        source = make_world(
            WORLD_CACHE / f"built-{accounts}-{seed}-{as_of:%Y%m%d}", accounts, seed, as_of
        )
        _build_up_to_features(source)
        _BUILT[key] = source.data_dir
    data_dir = root / "data"
    shutil.copytree(_BUILT[key], data_dir)
    return PipelineWorld(data_dir, data_dir / "landing", data_dir / "ground_truth", as_of)


def _build_up_to_features(world: PipelineWorld) -> None:
    from dagster import DagsterInstance, materialize

    from pipelines.identity.assets import identity_assets
    from pipelines.ingest.assets import raw_assets
    from pipelines.resources import Warehouse
    from pipelines.run_context import RunContextResource
    from pipelines.transform.assets import (
        dbt_feature_models,
        dbt_models,
        dbt_resource,
        dbt_staging_models,
    )

    with pytest.MonkeyPatch.context() as mp, DagsterInstance.ephemeral() as instance:
        for key, value in world.env().items():
            mp.setenv(key, value)
        result = materialize(
            [*raw_assets, dbt_staging_models, *identity_assets, dbt_models, dbt_feature_models],
            resources={
                "warehouse": Warehouse(),
                "dbt": dbt_resource(),
                "run": RunContextResource(),
            },
            partition_key=world.as_of.isoformat(),
            instance=instance,
            raise_on_error=False,
        )
    assert result.success, [
        e.event_specific_data.error.message[:2000]
        for e in result.all_events
        if e.event_type_value == "STEP_FAILURE"
    ]


def dbt_log_events(run_id: str) -> list[dict]:
    """The structured events of every dbt invocation of Dagster run ``run_id`` (its steps share
    one target folder and its ``dbt.log``: pipelines/transform/targets.py)."""
    from pipelines.transform.targets import run_target_path

    log = DBT_DIR / run_target_path(run_id) / "dbt.log"
    return [json.loads(line) for line in log.read_text().splitlines() if line.startswith("{")]


def query(path: Path, sql: str, params: list | None = None):
    """Run ``sql`` read-only against the DuckDB file at ``path``; a DataFrame."""
    from pipelines import warehouse as wh

    with wh.connection(path, read_only=True) as con:
        return con.execute(sql, params).df()


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_ui(port: int, proc: subprocess.Popen, timeout_s: float = 120) -> None:
    """Until the Dagster UI on ``port`` answers; fails when ``proc`` exits or time runs out."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/server_info", timeout=2)
            return
        except OSError:
            if time.monotonic() > deadline or proc.poll() is not None:
                raise AssertionError("the Dagster UI did not start") from None
            time.sleep(0.5)


def graphql(port: int, query: str) -> dict:
    """The ``data`` of a GraphQL query to the Dagster UI on ``port`` (no errors allowed)."""
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/graphql",
        data=json.dumps({"query": query}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        payload = json.loads(response.read())
    assert "errors" not in payload, payload
    return payload["data"]


@contextmanager
def dagster_webserver(env: dict[str, str]) -> Iterator[int]:
    """dagster-webserver over workspace.yaml with ``env``, on a free port (yielded); stopped
    with its whole session group (it ignores SIGINT when in the background)."""
    port = free_port()
    proc = subprocess.Popen(
        [str(Path(sys.executable).parent / "dagster-webserver"), "-w", "workspace.yaml",
         "-h", "127.0.0.1", "-p", str(port)],
        cwd=REPO_ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        start_new_session=True,
    )  # fmt: skip
    try:
        wait_for_ui(port, proc)
        yield port
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=20)


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
