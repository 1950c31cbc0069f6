"""Point-in-time correctness: a run for as-of date D on today's warehouse reproduces, row for
row, the snapshot a run made on D with only the files delivered by D.

History is as-occurred (business dates): each record version counts from its ``updated_at``,
orders from their ``order_date``, risk assessments from their ``as_of_date``, survey answers
from their ``survey_date`` — whenever the file carrying them arrived. The only documented
difference is a *late arrival*: a version dated on or before D but delivered after D is seen
by a rerun of D and not by the original run. This test splits one generated history into what
was delivered by D and what came after, with no late arrivals, so the two runs must agree.
"""

from __future__ import annotations

from datetime import date

import pandas as pd
import pytest
from dagster import DagsterInstance

from tests.conftest import PipelineWorld, run_pipeline
from tests.deliveries import deliver, split_by_date
from tests.integration.conftest import failures

pytestmark = pytest.mark.integration

WORLD_END = date(2026, 11, 20)
AS_OF = date(2026, 10, 20)


def _split(world) -> tuple[dict[str, pd.DataFrame], dict[str, pd.DataFrame]]:
    """Rows dated by the end of AS_OF, and the rest (delivered later)."""
    by_d, after = split_by_date(world.landing_frames(), AS_OF)
    for entity in by_d:
        assert len(by_d[entity]) and len(after[entity]), entity  # both deliveries carry rows
    return by_d, after


def _snapshot(world: PipelineWorld) -> pd.DataFrame:
    (path,) = (world.data_dir / "serving" / "snapshots").glob("*/customer_tier.parquet")
    frame = pd.read_parquet(path).drop(columns=["snapshot_id"])
    return frame.sort_values("golden_account_id").reset_index(drop=True)


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory, dbt_manifest):
    from pipelines.generate import generate_world

    world = generate_world(600, 23, WORLD_END)
    by_d, after = _split(world)
    runs = {}
    for name, deliveries in (("on_d", [by_d]), ("today", [by_d, after])):
        root = tmp_path_factory.mktemp(name) / "data"
        pw = PipelineWorld(root, root / "landing", root / "ground_truth", AS_OF)
        for i, frames in enumerate(deliveries):
            deliver(pw.landing, frames, f"delivery{i + 1}")
        with DagsterInstance.ephemeral() as instance:
            result = run_pipeline(pw, instance, AS_OF)
        assert result.success, failures(result)
        runs[name] = pw
    return runs


def test_rerun_of_a_past_date_reproduces_its_snapshot(two_runs):
    on_d, today = _snapshot(two_runs["on_d"]), _snapshot(two_runs["today"])
    assert len(on_d) > 300
    assert (on_d["as_of_date"].astype(str) == AS_OF.isoformat()).all()
    pd.testing.assert_frame_equal(on_d, today, check_exact=False, rtol=1e-9)


def test_today_warehouse_holds_later_history_the_past_run_did_not_use(two_runs):
    import duckdb

    path = two_runs["today"].data_dir / "warehouse" / "stratum.duckdb"
    with duckdb.connect(str(path), read_only=True) as con:
        later_orders, last_order = con.execute(
            "select count(*) filter (where order_date > ?), max(order_date) from raw.orders",
            [AS_OF],
        ).fetchone()
        mart_last = con.execute("select max(order_date) from marts.orders").fetchone()[0]
    assert later_orders > 0 and last_order > AS_OF
    assert mart_last <= AS_OF  # the marts of an as-of run stop at its date
