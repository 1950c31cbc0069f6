"""A sensor that starts a run when the landing dir holds files the warehouse has not loaded,
and that finishes the work of killed runs.

On every tick it first marks runs whose worker process died as failed (``stratum/reaped``,
:mod:`pipelines.runs`) and asks again for the partition of each such run that nobody has run
since (run key ``redo-<killed run id>``; at most :data:`pipelines.runs.MAX_REDOS` times in a
row). Then it looks for new files.

Cheap by design: while a run holds the data dir it does not touch the warehouse at all (a
read-only connection would make the run's writers wait); files are hashed only when their
(size, mtime) changed since the last tick (the cache lives in the sensor cursor), and the
warehouse is opened read-only just long enough to read the manifest. The run key is a hash of
the pending (entity, sha256) set, so the same files never start two runs — and a run killed
before it loaded them is redone under its own ``redo-`` key.
"""

# No `from __future__ import annotations`: Dagster inspects the resource parameter's type.

import hashlib
import json
from pathlib import Path
from typing import TYPE_CHECKING

import duckdb
from dagster import (
    DagsterInstance,
    JobDefinition,
    RunRequest,
    SensorDefinition,
    SensorEvaluationContext,
    SkipReason,
    sensor,
)

from pipelines import run_lock
from pipelines import warehouse as wh
from pipelines.config import load_stratum_config
from pipelines.ingest.files import list_landing_files
from pipelines.ingest.loader import sha256_file
from pipelines.partitions import latest_complete_as_of
from pipelines.resources import Warehouse
from pipelines.runs import REDO_OF_TAG, instance_of, killed_runs_to_redo, reap_dead_runs
from pipelines.settings import LANDING_ENTITIES, get_paths

if TYPE_CHECKING:  # not exported at dagster's top level
    from dagster._core.definitions.unresolved_asset_job_definition import (
        UnresolvedAssetJobDefinition,
    )

FileCache = dict[str, list]  # relative path -> [size, mtime_ns, sha256]


def scan_landing(
    landing_dir: Path, cache: FileCache, globs: dict[str, str] | None = None
) -> tuple[list[tuple[str, str]], FileCache]:
    """(entity, sha256) of every accepted landing file, and the refreshed hash cache.

    A file is re-hashed only if its size or mtime differs from the cached entry.
    """
    found: list[tuple[str, str]] = []
    fresh: FileCache = {}
    for entity in LANDING_ENTITIES:
        for path in list_landing_files(landing_dir, entity, (globs or {}).get(entity, "*")):
            rel = path.relative_to(landing_dir).as_posix()
            stat = path.stat()
            cached = cache.get(rel)
            if cached and cached[0] == stat.st_size and cached[1] == stat.st_mtime_ns:
                sha = cached[2]
            else:
                sha = sha256_file(path)
            fresh[rel] = [stat.st_size, stat.st_mtime_ns, sha]
            found.append((entity, sha))
    return found, fresh


def loaded_files(warehouse_path: Path) -> set[tuple[str, str]] | None:
    """(entity, sha256) pairs in ``raw._file_manifest``; None if the warehouse is locked."""
    if not warehouse_path.exists():
        return set()
    try:
        # Never wait: a sensor tick must stay short; the next tick looks again.
        con = wh.connect(warehouse_path, read_only=True, lock_timeout_s=0)
    except (wh.WarehouseLockedError, duckdb.Error):
        # A running pipeline holds the write lock (or this process has it open read-write).
        return None
    try:
        columns = set(wh.table_columns(con, "raw._file_manifest"))
        if not columns:
            return set()
        # Failed, ignored and skipped files are recorded too; only loaded content counts. A
        # warehouse from before the status column (read-only here, so not migrated) holds
        # loaded files only.
        loaded = "WHERE status = 'loaded'" if "status" in columns else ""
        return {
            (e, s)
            for e, s in con.execute(
                f"SELECT entity, sha256 FROM raw._file_manifest {loaded}"
            ).fetchall()
        }
    finally:
        con.close()


def pending_run_key(pending: set[tuple[str, str]]) -> str:
    """Stable run key of a set of (entity, sha256): the same files, the same key."""
    text = "\n".join(f"{entity}:{sha}" for entity, sha in sorted(pending))
    return hashlib.sha256(text.encode()).hexdigest()


def redo_requests(instance: DagsterInstance, job_name: str) -> list[RunRequest]:
    """Reap dead runs, then one request per killed run whose partition nobody ran since."""
    reap_dead_runs(instance)
    return [
        RunRequest(
            run_key=f"redo-{run.run_id}",
            partition_key=run.tags.get("dagster/partition"),
            tags={REDO_OF_TAG: run.run_id},
        )
        for run in killed_runs_to_redo(instance, job_name)
    ]


def build_landing_sensor(
    job: "JobDefinition | UnresolvedAssetJobDefinition",
    name: str = "landing_sensor",
    minimum_interval_seconds: int = 60,
) -> SensorDefinition:
    """A sensor requesting a run of ``job`` when unloaded landing files appear, and again for
    the partition of every killed run (module docstring)."""

    @sensor(job=job, name=name, minimum_interval_seconds=minimum_interval_seconds)
    def _landing_sensor(context: SensorEvaluationContext, warehouse: Warehouse):
        instance = instance_of(context)
        requests = redo_requests(instance, job.name) if instance is not None else []
        running = run_lock.peek(get_paths().data_dir)
        if running is not None:
            return requests or SkipReason(
                f"run {running.get('run_id')} is in progress; will look again"
            )
        cache: FileCache = json.loads(context.cursor) if context.cursor else {}
        globs = {e: c.glob for e, c in load_stratum_config().source_settings.items()}
        found, fresh = scan_landing(get_paths().landing_dir, cache, globs)
        context.update_cursor(json.dumps(fresh, sort_keys=True))
        loaded = loaded_files(Path(warehouse.resolved_path()))
        if loaded is None:
            return requests or SkipReason(
                "warehouse is locked by a running pipeline; will look again"
            )
        pending = set(found) - loaded
        latest = latest_complete_as_of().isoformat()
        # A redo of the latest date loads the new files too: no second run for them.
        if pending and latest not in {r.partition_key for r in requests}:
            # New files are for the day that just ended: the run's as-of date is the last
            # complete business day (today's data is still arriving).
            requests.append(
                RunRequest(
                    run_key=pending_run_key(pending),
                    partition_key=latest,
                    tags={"stratum/new_files": str(len(pending))},
                )
            )
        if len(requests) == 1:
            return requests[0]
        return requests or SkipReason(f"no new landing files ({len(found)} already loaded)")

    return _landing_sensor
