"""Volume checks against the previous in-force snapshot: bounds, acceptance, suspects."""

from __future__ import annotations

import dataclasses
import json
import math
from datetime import date, datetime, timedelta
from pathlib import Path

import duckdb
import pytest

from pipelines.config import Loaded
from pipelines.ingest.loader import sha256_file
from pipelines.ingest.manifest import ensure_raw_schema
from pipelines.quality.acceptances import AcceptancesFile
from pipelines.quality.config import ChangeBound, VolumeBounds
from pipelines.quality.gate_state import withdraw_missing_files
from pipelines.quality.volume import Change, compare, tier_changes
from pipelines.quality.volume_checks import run_volume_gate
from pipelines.resources import Warehouse
from pipelines.settings import get_paths
from tests.config_files import run_context

AS_OF = date(2026, 11, 21)
PREVIOUS = {"accounts": 1025, "orders_365d": 4000.0, "net_revenue_365d": 9.0e6,
            "tiers": {"A": 60, "B": 200, "C": 500, "P": 265}}  # fmt: skip


def test_changes_are_judged_against_their_bounds():
    bound = ChangeBound(max_drop=0.2, max_rise=1.0, min_base=30)
    drop, rise, small, new = compare(
        {"a": 1025, "b": 100, "c": 10, "d": 0},
        {"a": 103, "b": 201, "c": 25, "d": 40},
        dict.fromkeys("abcd", bound),
    )
    assert (drop.ok, round(drop.change, 3)) == (False, -0.9)
    assert drop.describe("S1") == (
        "a 103 vs 1,025 in snapshot S1 (-90.0%, more than the 20% drop allowed)"
    )
    assert (rise.ok, rise.describe("S1")) == (
        False,
        "b 201 vs 100 in snapshot S1 (+101.0%, more than the 100% rise allowed)",
    )
    assert small.ok and not small.judged  # 10 -> 25: both under min_base
    assert (new.ok, new.change) == (False, math.inf)
    assert new.describe("S1") == "d 40 vs 0 in snapshot S1 (new, more than the 100% rise allowed)"
    assert Change("x", None, 5, bound, False).ok  # nothing to compare with


def test_tier_sizes_cover_tiers_of_either_snapshot():
    changes = tier_changes(PREVIOUS, {"A": 58, "B": 210, "C": 40, "P": 700}, VolumeBounds())
    verdicts = {c.metric: c.ok for c in changes}
    assert verdicts == {"tier A": True, "tier B": True, "tier C": False, "tier P": False}


def _write_previous(serving: Path, created: datetime) -> None:
    folder = serving / "snapshots" / "20261120-prevrun0"
    folder.mkdir(parents=True)
    manifest = {
        "snapshot_id": "20261120-prevrun0", "as_of_date": "2026-11-20",
        "created_at": created.isoformat(), "row_count": 1025, "policy_version": "p1",
        "rules_version": "r", "code_version": "c", "run_id": "prevrun0",
        "parquet_path": "snapshots/20261120-prevrun0/customer_tier.parquet",
        "parquet_sha256": "0" * 64,
    }  # fmt: skip
    (folder / "manifest.json").write_text(json.dumps(manifest))
    (folder / "volumes.json").write_text(json.dumps(PREVIOUS))


@pytest.fixture
def world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """A warehouse whose customer_360 lost 90% of its accounts since the previous snapshot,
    after one accounts file was loaded (the suspect)."""
    monkeypatch.setenv("STRATUM_DATA_DIR", str(tmp_path / "data"))
    paths = get_paths()
    _write_previous(paths.serving_dir, datetime.utcnow() - timedelta(hours=1))
    suspect = paths.landing_dir / "crm_accounts" / "accounts_2026-11-21.csv"
    suspect.parent.mkdir(parents=True)
    suspect.write_text("account_id\nA1\n")
    paths.warehouse.parent.mkdir(parents=True)
    with duckdb.connect(str(paths.warehouse)) as con:
        con.execute("create schema marts; create schema tiers")
        ensure_raw_schema(con)
        con.execute(
            "create table marts.customer_360 as select 'G' || i as golden_account_id, "
            "4 as orders_365d, 9000.0 as net_revenue_365d from range(103) t(i)"
        )
        con.execute(
            "insert into raw._file_manifest (entity, path, size_bytes, sha256, rows_read, "
            "rows_loaded, rows_quarantined, loaded_at, run_id, status) "
            "values ('crm_accounts', ?, 10, ?, 1025, 1025, 0, ?, 'delivery-run', 'loaded')",
            ["crm_accounts/accounts_2026-11-21.csv", sha256_file(suspect), datetime.utcnow()],
        )
    return paths, suspect


def _ctx(acceptances: list[dict] | None = None):
    ctx = run_context(AS_OF, "volume-run")
    if acceptances is None:
        return ctx
    model = AcceptancesFile.model_validate({"acceptances": acceptances})
    config = dataclasses.replace(ctx.config, acceptances=Loaded(model, "t", Path("a.yaml")))
    return dataclasses.replace(ctx, config=config)


def test_a_90_percent_drop_blocks_names_the_suspects_and_can_be_withdrawn(world):
    paths, suspect = world
    warehouse = Warehouse(path=str(paths.warehouse))
    result = run_volume_gate("volume", _ctx(), warehouse)
    meta = {k: v.value for k, v in result.metadata.items()}
    assert (result.passed, result.severity.value) == (False, "ERROR")
    assert meta["blocked"] == (
        "accounts 103 vs 1,025 in snapshot 20261120-prevrun0 (-90.0%, more than the 20% drop "
        "allowed), orders_365d 412 vs 4,000 in snapshot 20261120-prevrun0 (-89.7%, more than "
        "the 30% drop allowed), net_revenue_365d 927,000 vs 9,000,000 in snapshot "
        "20261120-prevrun0 (-89.7%, more than the 30% drop allowed) — published tiers "
        "unchanged: snapshot 20261120-prevrun0 (as of 2026-11-20) stays in force."
    )
    assert meta["suspect_files"] == "crm_accounts/accounts_2026-11-21.csv"
    assert "metrics: [accounts, orders_365d, net_revenue_365d]" in meta["to_accept"]
    assert "| accounts | 1,025 | 103 | -90.0% | -20% to +100% | OUT OF BOUNDS |" in meta["changes"]

    # Removing the suspect delivery withdraws it (staging then leaves its rows out); a file
    # the pipeline is not held for would stay.
    suspect.unlink()
    with duckdb.connect(str(paths.warehouse)) as con:
        assert withdraw_missing_files(con, "orders", paths.landing_dir, "next-run") == []
        (withdrawn,) = withdraw_missing_files(con, "crm_accounts", paths.landing_dir, "next-run")
        reason = con.execute("select reason from quality.withdrawn_files").fetchone()[0]
    assert withdrawn.path == "crm_accounts/accounts_2026-11-21.csv"
    assert reason == "volume failed; the file was removed from the landing folder"


def test_an_acceptance_for_the_date_and_metrics_lets_the_change_through(world):
    paths, _ = world
    warehouse = Warehouse(path=str(paths.warehouse))
    entry = {
        "check": "volume", "as_of": AS_OF.isoformat(), "accepted_by": "crm-team",
        "accepted_on": "2026-11-22", "reason": "922 dormant accounts archived (CRM-1234).",
    }  # fmt: skip
    partial = run_volume_gate("volume", _ctx([{**entry, "metrics": ["accounts"]}]), warehouse)
    assert not partial.passed  # orders and revenue moved too, and were not accepted
    accepted = run_volume_gate("volume", _ctx([entry]), warehouse)
    assert accepted.passed
    assert accepted.metadata["acceptance"].value == (
        "volume accepted for as of 2026-11-21 by crm-team on 2026-11-22: 922 dormant accounts "
        "archived (CRM-1234)."
    )
    with duckdb.connect(str(paths.warehouse), read_only=True) as con:
        assert con.execute(
            "select gate, entity, batch, status from quality.gate_state"
        ).fetchall() == [("volume", "customer_360", "2026-11-21", "accepted")]
    # Once the latest volume verdict is not a failure, removing files withdraws nothing.
    with duckdb.connect(str(paths.warehouse)) as con:
        (paths.landing_dir / "crm_accounts" / "accounts_2026-11-21.csv").unlink()
        assert withdraw_missing_files(con, "crm_accounts", paths.landing_dir, "r") == []


def test_nothing_to_compare_and_policy_changes_are_not_judged(world, tmp_path):
    paths, _ = world
    warehouse = Warehouse(path=str(paths.warehouse))
    first = run_volume_gate("volume", run_context(date(2026, 11, 19), "r"), warehouse)
    assert first.passed and first.metadata["note"].value == "No earlier snapshot to compare with."
    # The shipped policy's version differs from the previous snapshot's "p1".
    tiers = run_volume_gate("tier_volume", _ctx(), warehouse)
    assert tiers.passed
    assert tiers.metadata["note"].value.startswith("Tier policy changed (p1 -> ")
