"""What killed runs leave behind is swept, and a lagging serving file rebuilt, when a run
starts (pipelines/recovery.py), never touching what is not ours to remove."""

# No "from __future__ import annotations": Dagster inspects the context annotation.

import json
from datetime import date
from pathlib import Path

import duckdb
import pytest
from dagster import AssetExecutionContext, DagsterInstance, asset, materialize

from pipelines.history import list_snapshots
from pipelines.partitions import AS_OF_PARTITIONS
from pipelines.publish.snapshot import publish
from pipelines.recovery import leftovers, recover
from pipelines.run_context import RunContextResource
from pipelines.settings import ENV_OVERRIDES, get_paths
from tests.config_files import run_context
from tests.publish.test_publish_snapshot import stage_upstream


@pytest.fixture
def paths(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    # Everything under one throwaway data dir (the quality tests point the GX dir elsewhere).
    for name in ENV_OVERRIDES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("STRATUM_DATA_DIR", str(tmp_path / "data"))
    return get_paths()


def _publish(paths, tiers: dict[str, str], run: str, as_of: date):
    paths.warehouse.parent.mkdir(parents=True, exist_ok=True)
    with duckdb.connect(str(paths.warehouse)) as con:
        ctx = run_context(as_of, run_id=run)
        stage_upstream(con, tiers, ctx.snapshot_id, as_of)
        return publish(con, paths.serving_dir, paths.serving_db, ctx)[0]


def _served(paths) -> list[str]:
    with duckdb.connect(str(paths.serving_db), read_only=True) as con:
        return [
            r[0]
            for r in con.execute("select snapshot_id from tier_snapshots order by 1").fetchall()
        ]


def _leave_leftovers(paths) -> dict[str, Path]:
    serving = paths.serving_dir
    staged = serving / ".staging" / "20260102-killed00-1a2b3c4d"
    staged.mkdir(parents=True)
    (staged / "customer_tier.parquet").write_bytes(b"PAR1 half")
    legacy = paths.snapshots_dir / ".incoming-20260102-old-ffff0000"
    legacy.mkdir()
    (legacy / "customer_tier.parquet").write_bytes(b"")
    building = serving / ".stratum_serving.1a2b3c4d.building.duckdb"
    building.write_bytes(b"half a database")
    Path(f"{building}.wal").write_bytes(b"wal")
    stray_wal = serving / "stratum_serving.duckdb.wal"
    stray_wal.write_bytes(b"wal")
    gx = paths.quality_dir / "gx"
    (gx / "checkpoints").mkdir(parents=True)
    (gx / "checkpoints" / "stratum_orders.json").write_text('{"name": "stratum_or')
    (gx / "checkpoints" / "stratum_risk.json").write_text('{"name": "stratum_risk"}')
    warehouse_wal = Path(f"{paths.warehouse}.wal")
    warehouse_wal.write_bytes(b"committed transactions DuckDB replays")
    # A warehouse rewrite (after an erasure) killed before its rename, and a result being
    # scrubbed of an erased person's values.
    compacting = paths.warehouse.with_name(".stratum.duckdb.5e6f7a8b.compacting")
    compacting.write_bytes(b"half a copy")
    Path(f"{compacting}.wal").write_bytes(b"wal")
    result = paths.quality_dir / "gx" / "uncommitted" / "validations" / "crm_contacts" / "r1"
    result.mkdir(parents=True)
    (result / "batch.json").write_text('{"results": []}')
    (result / ".batch.json.scrubbing").write_text('{"resu')
    return {"staged": staged, "legacy": legacy, "building": building, "stray_wal": stray_wal,
            "gx_ok": gx / "checkpoints" / "stratum_risk.json",
            "warehouse_wal": warehouse_wal, "result": result / "batch.json"}  # fmt: skip


def test_recover_sweeps_leftovers_and_rebuilds_a_lagging_serving_file(paths):
    _publish(paths, {"g1": "A", "g2": "B"}, "s1", date(2026, 1, 1))
    lagging = paths.serving_db.read_bytes()
    _publish(paths, {"g1": "C", "g2": "B"}, "s2", date(2026, 1, 2))
    paths.serving_db.chmod(0o644)
    paths.serving_db.write_bytes(lagging)  # killed after the commit, before the swap
    assert _served(paths) == ["20260101-s1"]
    left = _leave_leftovers(paths)

    report = recover(paths)

    assert _served(paths) == ["20260101-s1", "20260102-s2"]
    assert report.serving_rebuilt
    assert sorted(report.removed) == sorted(
        [
            "serving/.staging/20260102-killed00-1a2b3c4d",
            "serving/snapshots/.incoming-20260102-old-ffff0000",
            "serving/.stratum_serving.1a2b3c4d.building.duckdb",
            "serving/.stratum_serving.1a2b3c4d.building.duckdb.wal",
            "serving/stratum_serving.duckdb.wal",
            "quality/gx/checkpoints/stratum_orders.json",
            "warehouse/.stratum.duckdb.5e6f7a8b.compacting",
            "warehouse/.stratum.duckdb.5e6f7a8b.compacting.wal",
            "quality/gx/uncommitted/validations/crm_contacts/r1/.batch.json.scrubbing",
        ]
    )
    assert leftovers(paths) == []
    # Not ours to remove: parsable GX files, the warehouse and its WAL, the snapshots.
    assert left["gx_ok"].exists() and left["warehouse_wal"].exists()
    assert paths.warehouse.exists() and left["result"].exists()
    assert [s.snapshot_id for s in list_snapshots(paths.snapshots_dir)] == [
        "20260101-s1",
        "20260102-s2",
    ]
    assert recover(paths).summary() == "nothing to recover"


def test_every_run_recovers_when_it_starts(paths):
    _publish(paths, {"g1": "A"}, "s1", date(2026, 1, 1))
    paths.serving_db.unlink()  # lost, e.g. killed while replacing it on another filesystem
    left = _leave_leftovers(paths)
    left["warehouse_wal"].unlink()

    @asset(partitions_def=AS_OF_PARTITIONS)
    def probe(context: AssetExecutionContext, run: RunContextResource) -> None:
        context.log.info(run.ctx.run_id)

    with DagsterInstance.ephemeral() as instance:
        result = materialize(
            [probe], resources={"run": RunContextResource()}, partition_key="2026-01-05",
            instance=instance,
        )  # fmt: skip
        messages = [
            e.message for e in instance.all_logs(result.run_id) if "recovered" in (e.message or "")
        ]
    assert result.success
    assert leftovers(paths) == []
    assert _served(paths) == ["20260101-s1"]
    assert len(messages) == 1 and "rebuilt the serving database" in messages[0]
    assert json.loads(left["gx_ok"].read_text()) == {"name": "stratum_risk"}
