"""The no-change fast path's decision: the in-force snapshot of the date counts as current only
when it was built from exactly the run's inputs (files, configuration, code, previous state)."""

from __future__ import annotations

import dataclasses
import json
from datetime import date, datetime
from pathlib import Path

import duckdb
import pytest

from pipelines.config import load_stratum_config
from pipelines.config.loader import combine_versions
from pipelines.history import MANIFEST_FILE, SnapshotInfo
from pipelines.ingest.manifest import ensure_raw_schema
from pipelines.run_context import RunContext, snapshot_id_for
from pipelines.run_inputs import (
    RUN_INPUTS_TABLE,
    comparable_code_version,
    current_inputs,
    record_inputs,
    unchanged_snapshot,
)
from tests.config_files import run_context

AS_OF = date(2025, 6, 30)


def _ctx(run_id: str, as_of: date = AS_OF, code_version: str = "abc123") -> RunContext:
    return dataclasses.replace(run_context(as_of, run_id), code_version=code_version)


def _publish(snapshots: Path, ctx: RunContext, created_at: str) -> SnapshotInfo:
    """A published snapshot's folder: only its manifest matters here."""
    info = SnapshotInfo(
        snapshot_id=ctx.snapshot_id, as_of_date=ctx.as_of.isoformat(), created_at=created_at,
        row_count=1, policy_version=ctx.policy_version, rules_version=ctx.rules_version,
        code_version=ctx.code_version, run_id=ctx.run_id,
        parquet_path=f"snapshots/{ctx.snapshot_id}/customer_tier.parquet", parquet_sha256="0",
    )  # fmt: skip
    folder = snapshots / ctx.snapshot_id
    folder.mkdir(parents=True)
    (folder / MANIFEST_FILE).write_text(json.dumps(dataclasses.asdict(info)))
    return info


def _load_file(con: duckdb.DuckDBPyConnection, entity: str, sha: str) -> None:
    con.execute(
        "insert into raw._file_manifest (entity, path, sha256, loaded_at, run_id, status) "
        "values (?, ?, ?, ?, 'r', 'loaded')",
        [entity, f"{entity}/{sha}.csv", sha, datetime(2025, 7, 1)],
    )


@pytest.fixture
def world(tmp_path):
    """A warehouse with two loaded files, a serving file, and a run for AS_OF that
    recorded its inputs and published."""
    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    ensure_raw_schema(con)
    _load_file(con, "orders", "sha-orders-1")
    _load_file(con, "crm_accounts", "sha-accounts-1")
    snapshots, serving = tmp_path / "snapshots", tmp_path / "serving.duckdb"
    serving.touch()
    first = _ctx("run-first")
    record_inputs(con, first, current_inputs(con, first, snapshots))
    _publish(snapshots, first, "2025-07-01T08:00:00")
    yield con, snapshots, serving, first
    con.close()


def _decide(con, snapshots, serving, ctx):
    return unchanged_snapshot(con, current_inputs(con, ctx, snapshots), snapshots, serving)


def test_same_inputs_find_the_in_force_snapshot(world):
    con, snapshots, serving, first = world
    found = _decide(con, snapshots, serving, _ctx("run-rerun"))
    assert found is not None and found.snapshot_id == first.snapshot_id


def test_a_newly_loaded_file_means_rebuild(world):
    con, snapshots, serving, _ = world
    _load_file(con, "orders", "sha-orders-2")
    assert _decide(con, snapshots, serving, _ctx("run-rerun")) is None


def test_a_withdrawn_file_means_rebuild(world):
    """A file withdrawn from a blocked delivery stays loaded in raw but leaves staging."""
    from pipelines.quality.gate_state import WITHDRAWN_TABLE, ensure_tables

    con, snapshots, serving, _ = world
    ensure_tables(con)
    assert _decide(con, snapshots, serving, _ctx("run-rerun")) is not None  # empty: same
    con.execute(
        f"insert into {WITHDRAWN_TABLE} (entity, path, sha256) "
        "values ('orders', 'orders/sha-orders-1.csv', 'sha-orders-1')"
    )
    assert _decide(con, snapshots, serving, _ctx("run-rerun")) is None


def test_another_configuration_means_rebuild(world):
    con, snapshots, serving, _ = world
    ctx = _ctx("run-rerun")
    versions = {**ctx.config.versions, "scoring/rfm": "2.0+changed"}
    ctx = dataclasses.replace(ctx, config=dataclasses.replace(ctx.config, versions=versions))
    assert _decide(con, snapshots, serving, ctx) is None


def test_other_code_or_an_unprovable_code_version_means_rebuild(world):
    con, snapshots, serving, _ = world
    assert _decide(con, snapshots, serving, _ctx("run-rerun", code_version="def456")) is None
    for version in ("abc123-dirty", "unknown", ""):
        assert not comparable_code_version(version)
    assert comparable_code_version("abc123")


def test_a_new_previous_snapshot_means_rebuild(world):
    """A backfill published an earlier date since: the tier stage would start elsewhere."""
    con, snapshots, serving, _ = world
    _publish(snapshots, _ctx("run-backfill", as_of=date(2025, 6, 27)), "2025-07-02T08:00:00")
    assert _decide(con, snapshots, serving, _ctx("run-rerun")) is None


def test_only_the_snapshot_in_force_counts(world):
    """A later run of the date published without a record (an older release): its snapshot is
    in force, and nobody knows what it was built from."""
    con, snapshots, serving, _ = world
    _publish(snapshots, _ctx("run-second"), "2025-07-01T09:00:00")
    assert _decide(con, snapshots, serving, _ctx("run-rerun")) is None


def test_no_snapshot_of_the_date_or_no_serving_file_means_build(world, tmp_path):
    con, snapshots, serving, _ = world
    assert _decide(con, snapshots, serving, _ctx("run-next", as_of=date(2025, 7, 1))) is None
    assert _decide(con, snapshots, tmp_path / "gone.duckdb", _ctx("run-rerun")) is None


def test_a_warehouse_without_records_means_build(tmp_path):
    con = duckdb.connect()
    ensure_raw_schema(con)
    snapshots, serving = tmp_path / "snapshots", tmp_path / "serving.duckdb"
    serving.touch()
    _publish(snapshots, _ctx("run-old"), "2025-07-01T08:00:00")
    assert _decide(con, snapshots, serving, _ctx("run-rerun")) is None


def test_a_record_is_replaced_per_snapshot_and_names_its_parts(world):
    con, snapshots, _, first = world
    _load_file(con, "orders", "sha-orders-2")
    record_inputs(con, first, current_inputs(con, first, snapshots))
    rows = con.execute(
        f"select snapshot_id, files_loaded, code_version, config_version, previous_snapshot_id "
        f"from {RUN_INPUTS_TABLE}"
    ).fetchall()
    config = combine_versions(load_stratum_config().versions)
    assert rows == [(snapshot_id_for(AS_OF, "run-first"), 3, "abc123", config, None)]
