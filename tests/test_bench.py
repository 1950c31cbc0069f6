"""The benchmark's own parts on small inputs: the next day's delivery, the floor script, the
process-tree measurement and the results tables. (The figures themselves are never tested.)"""

from __future__ import annotations

import json
import sys
from datetime import date

import duckdb
import pytest

from tests.conftest import REPO_ROOT, WORLD_AS_OF, make_world

sys.path.insert(0, str(REPO_ROOT / "bench"))

import floor  # noqa: E402
import report  # noqa: E402
from _tree import run_measured  # noqa: E402
from increment import write_increment  # noqa: E402


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    return make_world(tmp_path_factory.mktemp("bench"), accounts=400, seed=5)


def test_the_next_days_delivery_is_one_percent_of_new_rows_on_that_day(world, tmp_path):
    import shutil

    landing = tmp_path / "landing"
    shutil.copytree(world.landing, landing)
    day = date(2026, 11, 21)
    written = write_increment(landing, day)
    for entity, id_col, when in (
        ("orders", "order_id", "order_date"),
        ("crm_activities", "activity_id", "occurred_at"),
    ):
        old = [str(p) for p in (world.landing / entity).glob("*.parquet")]
        new = landing / entity / f"{entity}_{day}.parquet"
        before = duckdb.sql(f"select count(*) from read_parquet({old})").fetchall()[0][0]
        rows = duckdb.sql(
            f"select {id_col}, cast({when} as date) from read_parquet('{new}')"
        ).fetchall()
        assert written[entity] == len(rows)
        assert 0.003 * before < len(rows) < 0.03 * before  # about 1%, by a hash of the id
        assert all(i.startswith("D20261121-") and d == day for i, d in rows)
        assert len({i for i, _ in rows}) == len(rows)
        schema = [
            (r[0], r[1])
            for r in duckdb.sql(f"describe select * from read_parquet('{new}')").fetchall()
        ]
        source = [
            (r[0], r[1])
            for r in duckdb.sql(f"describe select * from read_parquet({old})").fetchall()
        ]
        assert schema == source
    # The same world gives the same day, byte for byte.
    again = tmp_path / "again"
    shutil.copytree(world.landing, again)
    write_increment(again, day)
    first = (landing / "orders" / f"orders_{day}.parquet").read_bytes()
    assert (again / "orders" / f"orders_{day}.parquet").read_bytes() == first


def test_the_floor_tiers_every_account_from_the_landing_files(world, tmp_path, capsys):
    assert floor.main(["--landing", str(world.landing), "--out", str(tmp_path), "--as-of",
                       WORLD_AS_OF.isoformat()]) == 0  # fmt: skip
    out = capsys.readouterr().out
    summary = json.loads(out.splitlines()[-1].removeprefix(floor.RESULT_PREFIX))
    tiers = duckdb.sql(f"select * from read_parquet('{tmp_path / 'account_tiers.parquet'}')").df()
    accounts = summary["landing_rows"]["crm_accounts"]
    assert tiers["account_id"].is_unique and len(tiers) <= accounts
    assert set(summary["landing_rows"]) == {p.name for p in world.landing.iterdir()}
    assert set(tiers["tier"]) <= {"A", "B", "C", "P"} and {"A", "P"} <= set(tiers["tier"])
    # ABC by 12-month revenue: class A holds at most 80% of it, A+B at most 95%.
    revenue = tiers.groupby("abc_class")["revenue_12m"].sum()
    total = revenue.drop("none", errors="ignore").sum()
    assert revenue["A"] <= 0.8 * total + 1e-6 < revenue["A"] + revenue["B"] + revenue["C"]
    assert (tiers.loc[tiers["tier"] == "P", "revenue_12m"].fillna(0) <= 0).all()


def test_the_process_tree_is_measured_with_its_children(tmp_path):
    """A child that starts a grandchild holding ~300 MB: the tree's peak includes it."""
    grandchild = "x = bytearray(300 * 2**20); import time; time.sleep(1.5)"
    child = f"import subprocess, sys; subprocess.run([sys.executable, '-c', {grandchild!r}])"
    measured = run_measured([sys.executable, "-c", child], {}, tmp_path, tmp_path / "log")
    assert measured.returncode == 0
    assert measured.peak_rss_mb > 250
    inside = measured.window(measured.started, measured.started + measured.wall_s)
    assert inside["peak_rss_mb"] == round(measured.peak_rss_mb)


def _entry(accounts: int, day: str, wall: float) -> dict:
    run = {"wall_s": wall, "cpu_s": wall / 2, "peak_rss_mb": 2048, "load_avg_1m": 1.0,
           "neighbours_cpu_s": 0.0, "startup_s": 5.0, "between_steps_s": 4.0, "steps": [
               {"step": "raw_ingest", "status": "ok", "wall_s": 3.0, "cpu_s": 2.0,
                "peak_rss_mb": 900},
               {"step": "raw__orders_gx_orders", "status": "ok", "wall_s": 1.0, "cpu_s": 1.0,
                "peak_rss_mb": 950},
               {"step": "raw__risk_gx_risk", "status": "ok", "wall_s": 2.0, "cpu_s": 1.0,
                "peak_rss_mb": 1000}]}  # fmt: skip
    skipped = [dict(step, status="skipped", wall_s=0.0) for step in run["steps"]]
    rerun = dict(run, published_snapshots=[], wall_s=9.0, steps=skipped)
    return {
        "accounts": accounts, "date": day, "commit": "abc", "cpus": 2, "landing_rows": 3_300_000,
        "floor": {"wall_s": wall / 20, "cpu_s": wall / 40}, "full": run, "rerun": rerun,
        "next_day": dict(run, wall_s=30.0),
    }  # fmt: skip


def test_results_keep_the_latest_entry_per_size_and_rewrite_the_tables(tmp_path):
    results = tmp_path / "results"
    report.save(_entry(100_000, "2026-11-01", 400.0), date(2026, 11, 1), results)
    report.save(_entry(1_000_000, "2026-11-01", 900.0), date(2026, 11, 1), results)
    report.save(_entry(100_000, "2026-11-02", 200.0), date(2026, 11, 2), results)
    entries = report.latest_entries(results)
    assert [(e["accounts"], e["date"]) for e in entries] == [
        (100_000, "2026-11-02"), (1_000_000, "2026-11-01"),
    ]  # fmt: skip
    doc, readme = tmp_path / "performance.md", tmp_path / "README.md"
    doc.write_text("intro\n<!-- bench:tables:start -->\nold\n<!-- bench:tables:end -->\nend\n")
    readme.write_text("x\n<!-- bench:summary:start -->\n<!-- bench:summary:end -->\n")
    report.render(results, doc, readme)
    text = doc.read_text()
    assert "old" not in text and text.startswith("intro\n") and text.endswith("end\n")
    assert "| 100,000 | 3.30 M | 200.0 s | 10.0 s | 20.0× | 20.0× | 2.00 GB | 30.0 s |" in text
    assert "9.0 s (none published)" in text
    # The many checks on raw tables are one row: summed wall and CPU, the largest peak.
    assert "| checks on raw/* (2 steps) | 3.0 s | 2.0 s | 1,000 MB |" in text
    assert "| Dagster between steps, shut-down | 4.0 s |" in text
    assert "| `raw_ingest` | 3.0 s | 2.0 s | 900 MB | 3.0 s | skipped |" in text
    assert "| 1,000,000 |" in readme.read_text()
    with pytest.raises(ValueError, match="markers"):
        report.render(results, tmp_path / "README.md", tmp_path / "README.md")
