"""Runs after the first one, on a private copy of its world: the same date again with nothing
new (publishes nothing), a rebuild of the same date, the next day, then a bad delivery that must
not publish.

The runs happen in that order in one module fixture (:func:`runs`), which records what each
left behind; the tests only read those records, so they pass in any order and never see a
world another module changes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

import pandas as pd
import pytest
from dagster import DagsterInstance

from pipelines.ingest.assets import UNCHANGED_TAG
from tests.conftest import PipelineWorld, run_pipeline
from tests.integration.conftest import (
    copy_world,
    failures,
    materialized,
    serving,
    sha256,
    snapshot_frame,
)

pytestmark = pytest.mark.integration


def _serving_query(world: PipelineWorld, sql: str) -> list[tuple]:
    with serving(world) as con:
        return con.execute(sql).fetchall()


def _current_snapshot_id(world: PipelineWorld) -> str:
    return _serving_query(world, "select distinct snapshot_id from customer_tier_current")[0][0]


@dataclass
class Step:
    """What one run left: its result, the snapshots, the current snapshot, file digests."""

    result: object
    snapshots: list[tuple] = field(default_factory=list)
    current: str = ""
    first_snapshot_files: dict[str, str] = field(default_factory=dict)
    history_current: int = 0
    current_rows: int = 0
    tags: dict[str, str] = field(default_factory=dict)


def _record(world: PipelineWorld, result, first_snapshot_id: str, instance=None) -> Step:
    first_dir = world.data_dir / "serving" / "snapshots" / first_snapshot_id
    run = instance.get_run_by_id(result.run_id) if instance is not None else None
    return Step(
        result=result,
        tags=dict(run.tags) if run is not None else {},
        snapshots=_serving_query(
            world,
            "select snapshot_id, as_of_date from tier_snapshots order by as_of_date, created_at",
        ),
        current=_current_snapshot_id(world),
        first_snapshot_files={p.name: sha256(p) for p in first_dir.iterdir()},
        history_current=_serving_query(
            world, "select count(*) from customer_tier_history where is_current"
        )[0][0],
        current_rows=_serving_query(world, "select count(*) from customer_tier_current")[0][0],
    )


def _bad_delivery(world: PipelineWorld) -> None:
    """Most rows are unusable (negative amounts): the orders quarantine rate exceeds its
    threshold, an ERROR check, so nothing downstream may run."""
    bad = pd.DataFrame(
        {
            "order_id": [f"BAD-{i}" for i in range(40)],
            "account_id": ["HAND-WHALE"] * 40,
            "order_date": ["2026-11-01"] * 40,
            "status": ["completed"] * 40,
            "amount_cny": ["-100.00"] * 40,
            "refund_amount_cny": ["0"] * 40,
            "product_line": ["x"] * 40,
            "updated_at": ["2026-11-01 00:00:00"] * 40,
        }
    )
    bad.to_csv(world.landing / "orders" / "orders_bad_delivery.csv", index=False)


@pytest.fixture(scope="module")
def runs(world, first_run, tmp_path_factory) -> dict:
    """The first run's world copied, then, in this order: the same date again (nothing new),
    the same date rebuilt, the next day, and two days on with a bad delivery."""
    mine = copy_world(world, tmp_path_factory.mktemp("reruns"))
    first_id = first_run["snapshot_id"]
    steps: dict = {"world": mine, "first": _record(mine, first_run["result"], first_id)}
    with DagsterInstance.ephemeral() as instance:
        unchanged = run_pipeline(mine, instance)
        steps["unchanged"] = _record(mine, unchanged, first_id, instance)
        rebuild = {"resources": {"run": {"config": {"rebuild": True}}}}
        steps["rerun"] = _record(mine, run_pipeline(mine, instance, run_config=rebuild), first_id)
        next_day = world.as_of + timedelta(days=1)
        steps["next_day"] = _record(mine, run_pipeline(mine, instance, next_day), first_id)
        _bad_delivery(mine)
        bad_day = world.as_of + timedelta(days=2)
        steps["bad_delivery"] = _record(mine, run_pipeline(mine, instance, bad_day), first_id)
    return steps


def test_rerun_with_nothing_new_publishes_nothing(runs):
    """No new file, same configuration and code: the run succeeds, materializes no raw or
    later asset and leaves the snapshot in force (and its files) as they were."""
    first, unchanged = runs["first"], runs["unchanged"]
    assert unchanged.result.success, failures(unchanged.result)
    assert unchanged.snapshots == first.snapshots and len(first.snapshots) == 1
    assert unchanged.current == first.current
    assert unchanged.first_snapshot_files == first.first_snapshot_files
    # The privacy work (erasures, retention) runs every run, whatever else happens.
    assert materialized(unchanged.result) == {"privacy/erasure_log", "privacy/retention_log"}
    skipped = {
        e.step_key for e in unchanged.result.all_events if e.event_type_value == "STEP_SKIPPED"
    }
    assert {"dbt_models", "publish__tier_snapshot"} <= skipped
    assert unchanged.tags[UNCHANGED_TAG] == first.current


def test_rerun_on_unchanged_data_moves_no_account(runs):
    """A rebuild of the same date (run config rebuild: true) on unchanged data."""
    first, rerun, world = runs["first"], runs["rerun"], runs["world"]
    assert rerun.result.success, failures(rerun.result)
    assert rerun.current != first.current
    # The first snapshot is immutable: a rerun adds one beside it.
    assert rerun.first_snapshot_files == first.first_snapshot_files
    a, b = snapshot_frame(world, first.current), snapshot_frame(world, rerun.current)
    assert a.index.equals(b.index)
    moved = int((a["tier"] != b["tier"]).sum())
    print(f"\ntier label churn on unchanged data: {moved} of {len(a)} accounts")
    assert moved == 0
    # Unchanged data and config: every published column the same to the bit (scores, tiers,
    # reasons, model and rules versions), except the snapshot's own id.
    published = [c for c in a.columns if c != "snapshot_id"]
    assert {"expected_value_12m", "churn_risk", "model_version", "tier_since"} <= set(published)
    pd.testing.assert_frame_equal(a[published], b[published], check_exact=True)


def test_next_day_adds_a_snapshot_and_keeps_history(runs):
    first, next_day, world = runs["first"], runs["next_day"], runs["world"]
    assert next_day.result.success, failures(next_day.result)
    assert len(next_day.snapshots) == 3 and next_day.snapshots[0][0] == first.current
    assert next_day.current == next_day.snapshots[2][0]
    assert next_day.history_current == next_day.current_rows
    a = snapshot_frame(world, next_day.snapshots[1][0])
    b = snapshot_frame(world, next_day.snapshots[2][0])
    moved = int((a["tier"] != b.reindex(a.index)["tier"]).sum())
    print(f"\ntier label churn after one day with no new data: {moved} of {len(a)} accounts")
    # Hysteresis: a day of ageing must not reshuffle the book.
    assert moved <= 0.02 * len(a)

    # The prediction models were trained on the first day and stored: the next day scores with
    # them (config/scoring/models.yaml retrains weekly or on drift) instead of training again.
    def predictions(frame: pd.DataFrame) -> list[str]:
        return frame["model_version"].str.extract(r"predictions=(\S+)$")[0].unique().tolist()

    assert predictions(b) == predictions(snapshot_frame(world, first.current))
    assert len(predictions(b)) == 1


def test_bad_delivery_stops_publishing_and_keeps_previous_snapshot(runs):
    before, bad = runs["next_day"], runs["bad_delivery"]
    assert not bad.result.success
    failed_checks = [
        e.event_specific_data.check_name
        for e in bad.result.all_events
        if e.event_type_value == "ASSET_CHECK_EVALUATION" and not e.event_specific_data.passed
    ]
    assert "quarantine_rate" in failed_checks
    done = materialized(bad.result)
    assert "raw/orders" in done
    assert not done & {
        "customer_360",
        "account_features",
        "scores/account_scores",
        "tiers/customer_tier",
        "tiers/published_customer_tier",
        "publish/tier_snapshot",
    }
    assert bad.current == before.current
    assert bad.snapshots == before.snapshots
