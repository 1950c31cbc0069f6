"""The serving tier history extended by each day's snapshot is the one rebuilt from every
snapshot: next days extend it, backfills and republished dates rebuild it."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import duckdb
import numpy as np
import pytest

from pipelines.publish.serving import build_serving_db
from pipelines.publish.snapshot import publish
from pipelines.publish.tier_history import HISTORY_VERSION
from tests.config_files import run_context
from tests.publish.test_publish_snapshot import stage_upstream

START = date(2026, 3, 1)
HISTORY = "select * from customer_tier_history order by golden_account_id, valid_from"


def _history(path: Path) -> list[tuple]:
    with duckdb.connect(str(path), read_only=True) as con:
        return con.execute(HISTORY).fetchall()


def _rebuilt(con, serving: Path, tmp_path: Path) -> list[tuple]:
    """The history a build from the snapshot folders alone gives (not swapped in)."""
    built, _, how = build_serving_db(con, serving, tmp_path / "full.duckdb", extend=False)
    assert how == "rebuilt"
    try:
        return _history(built)
    finally:
        built.unlink()


def _day(rng: np.random.Generator, before: dict[str, str]) -> dict[str, str]:
    """A day's tiers: most accounts keep theirs, some move, some leave, some come back."""
    tiers = {}
    for i in range(40):
        account = f"g{i:02d}"
        if rng.random() < 0.12:
            continue  # absent today (deleted, or not yet created)
        keep = account in before and rng.random() < 0.75
        tiers[account] = before[account] if keep else str(rng.choice(["A", "B", "C", "P"]))
    return tiers


@pytest.mark.parametrize("seed", [3, 17])
def test_each_days_extension_equals_the_rebuild_from_every_snapshot(seed, tmp_path):
    rng = np.random.default_rng(seed)
    serving = tmp_path / "serving"
    con = duckdb.connect(str(tmp_path / "warehouse.duckdb"))
    # (day, run): day 4 is skipped and backfilled after day 6; day 6 is published twice.
    plan = [(d, f"r{d}") for d in (0, 1, 2, 3, 5, 6)] + [(6, "r6b"), (4, "r4"), (7, "r7")]
    expected_how = ["rebuilt", *["extended"] * 5, "rebuilt", "rebuilt", "extended"]
    tiers: dict[str, str] = {}
    hows = []
    for (day, run), how in zip(plan, expected_how, strict=True):
        as_of = START + timedelta(days=day)
        tiers = _day(rng, tiers)
        ctx = run_context(as_of, run_id=run)
        stage_upstream(con, tiers, ctx.snapshot_id, as_of)
        _, _, built = publish(con, serving, serving / "serving.duckdb", ctx)
        hows.append(built)
        live = _history(serving / "serving.duckdb")
        assert live == _rebuilt(con, serving, tmp_path), f"{run}: {how}"
    con.close()
    assert hows == expected_how
    # The extension really carried intervals across days (not one row per day and account).
    assert len(live) < 40 * len(plan) / 2
    with duckdb.connect(str(serving / "serving.duckdb"), read_only=True) as served:
        comment = served.execute(
            "select comment from duckdb_tables() where table_name = 'customer_tier_history'"
        ).fetchone()
    assert comment == (HISTORY_VERSION,)


def test_a_history_of_another_definition_is_rebuilt_not_extended(tmp_path):
    serving = tmp_path / "serving"
    con = duckdb.connect(str(tmp_path / "warehouse.duckdb"))
    hows = []
    for day, tiers in enumerate([{"g1": "A", "g2": "B"}, {"g1": "B", "g2": "B"}]):
        as_of = START + timedelta(days=day)
        ctx = run_context(as_of, run_id=f"r{day}")
        stage_upstream(con, tiers, ctx.snapshot_id, as_of)
        if day == 1:  # the live file as an older release built it: no version comment
            live = serving / "serving.duckdb"
            live.chmod(0o644)
            with duckdb.connect(str(live)) as old:
                old.execute("comment on table customer_tier_history is null")
        hows.append(publish(con, serving, serving / "serving.duckdb", ctx)[2])
    assert hows == ["rebuilt", "rebuilt"]
    assert _history(serving / "serving.duckdb") == _rebuilt(con, serving, tmp_path)
    con.close()
