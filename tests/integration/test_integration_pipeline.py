"""The whole graph on a generated world: tiers, re-runs, stability and a blocked bad delivery."""

from __future__ import annotations

import hashlib
from datetime import timedelta
from pathlib import Path

import duckdb
import nbformat
import pandas as pd
import pytest
from nbclient import NotebookClient

from tests.conftest import REPO_ROOT, PipelineWorld, run_pipeline
from tests.integration.conftest import HAND_CASES, failures, golden_ids

pytestmark = pytest.mark.integration


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _serving(world: PipelineWorld) -> duckdb.DuckDBPyConnection:
    return duckdb.connect(
        str(world.data_dir / "serving" / "stratum_serving.duckdb"), read_only=True
    )


def _materialized(result) -> set[str]:
    return {
        "/".join(e.asset_key.path)
        for e in result.all_events
        if e.event_type_value == "ASSET_MATERIALIZATION"
    }


def _snapshot(world: PipelineWorld, snapshot_id: str) -> pd.DataFrame:
    path = world.data_dir / "serving" / "snapshots" / snapshot_id / "customer_tier.parquet"
    return pd.read_parquet(path).set_index("golden_account_id")


def _current_snapshot_id(world: PipelineWorld) -> str:
    con = _serving(world)
    try:
        return con.execute("select distinct snapshot_id from customer_tier_current").fetchone()[0]
    finally:
        con.close()


def test_every_account_has_exactly_one_tier(world, first_run):
    con = _serving(world)
    n, distinct, tiers = con.execute(
        "select count(*), count(distinct golden_account_id), list(distinct tier order by tier) "
        "from customer_tier_current"
    ).fetchone()
    con.close()
    wh = duckdb.connect(str(world.data_dir / "warehouse" / "stratum.duckdb"), read_only=True)
    accounts = wh.execute("select count(*) from marts.customer_360").fetchone()[0]
    wh.close()
    assert n == distinct == accounts > 900
    assert set(tiers) == {"A", "B", "C", "P"}


def test_tier_kpis_published_for_the_snapshot(world, first_run):
    con = _serving(world)
    rows, accounts, current = con.execute(
        "select count(*), sum(accounts), (select count(*) from customer_tier_current) "
        "from tier_kpis where snapshot_id = ?",
        [first_run["snapshot_id"]],
    ).fetchone()
    con.close()
    assert rows == 8 and accounts == current  # A/B/C/P x treated/control cover every account


def test_orders_for_buyers_missing_from_the_crm_are_quarantined_not_lost(world, first_run):
    unmatched = pd.read_csv(
        next((world.landing / "orders").glob("orders_unmatched_*.csv")), dtype=str
    )
    wh = duckdb.connect(str(world.data_dir / "warehouse" / "stratum.duckdb"), read_only=True)
    quarantined = wh.execute(
        "select source_file, source_line, reason from raw._quarantine "
        "where source_file like 'orders/orders_unmatched_%'"
    ).fetchall()
    read, loaded, held = wh.execute(
        "select sum(rows_read), sum(rows_loaded), sum(rows_quarantined) from raw._file_manifest "
        "where entity = 'orders'"
    ).fetchone()
    wh.close()
    assert sorted(reason for _, _, reason in quarantined) == sorted(
        f"unknown account: account_id='{a}'" for a in unmatched["account_id"]
    )
    assert sorted(line for _, line, _ in quarantined) == list(range(2, len(unmatched) + 2))
    assert read == loaded + held and held >= len(unmatched)


def test_hand_made_cases_land_in_the_documented_tier(world, first_run):
    snapshot = _snapshot(world, first_run["snapshot_id"])
    ids = golden_ids(world)
    got = {account: snapshot.loc[ids[account], "tier"] for account in HAND_CASES}
    assert got == HAND_CASES
    risky = snapshot.loc[ids["HAND-RISKY-WHALE"]]
    assert risky["risk_level"] == "high" and str(risky["risk_flag"]).startswith("cap")
    whale = snapshot.loc[ids["HAND-WHALE"]]
    assert whale["abc_class"] == "A" and whale["reason_en"] and whale["reason_zh"]


def test_published_tables_carry_no_personal_contact_data(world, first_run):
    con = _serving(world)
    columns = {
        c for (c,) in con.execute("select column_name from information_schema.columns").fetchall()
    }
    values = con.execute("select * from customer_tier_current").df()
    con.close()
    assert not columns & {"email", "phone", "full_name", "contact_id", "job_title"}
    text = values.select_dtypes(include=["object", "string"]).astype(str)
    pii = text.apply(
        lambda s: s.str.contains(r"@[\w-]+\.\w+|\+?86[-\s]?1\d{10}|\b1[3-9]\d{9}\b", regex=True)
    )
    assert not pii.any().any()


def test_rerun_on_unchanged_data_moves_no_account(world, instance, first_run):
    snapshots = world.data_dir / "serving" / "snapshots"
    first_dir = snapshots / first_run["snapshot_id"]
    before = {p.name: _sha(p) for p in first_dir.iterdir()}
    result = run_pipeline(world, instance)
    assert result.success, failures(result)
    second = _current_snapshot_id(world)
    assert second != first_run["snapshot_id"]
    assert {p.name: _sha(p) for p in first_dir.iterdir()} == before
    a, b = _snapshot(world, first_run["snapshot_id"]), _snapshot(world, second)
    assert a.index.equals(b.index)
    moved = int((a["tier"] != b["tier"]).sum())
    print(f"\ntier label churn on unchanged data: {moved} of {len(a)} accounts")
    assert moved == 0


def test_next_day_adds_a_snapshot_and_keeps_history(world, instance, first_run):
    result = run_pipeline(world, instance, as_of=world.as_of + timedelta(days=1))
    assert result.success, failures(result)
    con = _serving(world)
    snaps = con.execute(
        "select snapshot_id, as_of_date from tier_snapshots order by as_of_date, created_at"
    ).fetchall()
    history_current = con.execute(
        "select count(*) from customer_tier_history where is_current"
    ).fetchone()[0]
    current = con.execute("select count(*) from customer_tier_current").fetchone()[0]
    con.close()
    assert len(snaps) == 3 and snaps[0][0] == first_run["snapshot_id"]
    assert history_current == current
    a, b = _snapshot(world, snaps[1][0]), _snapshot(world, snaps[2][0])
    moved = int((a["tier"] != b.reindex(a.index)["tier"]).sum())
    print(f"\ntier label churn after one day with no new data: {moved} of {len(a)} accounts")
    # Hysteresis: a day of ageing must not reshuffle the book.
    assert moved <= 0.02 * len(a)


def test_bad_delivery_stops_publishing_and_keeps_previous_snapshot(world, instance, first_run):
    current_before = _current_snapshot_id(world)
    con = _serving(world)
    n_before = con.execute("select count(*) from tier_snapshots").fetchone()[0]
    con.close()
    # Most rows of this delivery are unusable (negative amounts): the quarantine rate exceeds
    # the orders threshold, an ERROR check, so nothing downstream may run.
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
    result = run_pipeline(world, instance, as_of=world.as_of + timedelta(days=2))
    assert not result.success
    failed_checks = [
        e.event_specific_data.check_name
        for e in result.all_events
        if e.event_type_value == "ASSET_CHECK_EVALUATION" and not e.event_specific_data.passed
    ]
    assert "quarantine_rate" in failed_checks
    done = _materialized(result)
    assert "raw/orders" in done
    assert not done & {
        "customer_360",
        "scores/account_scores",
        "tiers/customer_tier",
        "publish/tier_snapshot",
    }
    assert _current_snapshot_id(world) == current_before
    con = _serving(world)
    assert con.execute("select count(*) from tier_snapshots").fetchone()[0] == n_before
    con.close()


def test_notebook_runs_against_published_tables(world, first_run, monkeypatch):
    for key, value in world.env().items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("PYTHONPATH", str(REPO_ROOT))
    nb = nbformat.read(REPO_ROOT / "notebooks" / "tier_overview.ipynb", as_version=4)
    client = NotebookClient(
        nb, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(REPO_ROOT)}}
    )
    client.execute()
    assert (world.data_dir / "serving" / "tier_overview.png").stat().st_size > 1000
