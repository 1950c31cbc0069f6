"""The published tier history follows identity merges: each snapshot folder carries the
golden-id redirects in force when it was published, and the serving build re-keys
``customer_tier_history`` to the survivors of the current snapshot's redirects.

The merges are made by the real registry (pipelines.identity.registry + store, as the matching
asset persists them) and published by the real publish path (pipelines.publish.snapshot).
"""

from __future__ import annotations

import shutil
from datetime import date, timedelta
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from pipelines import explain
from pipelines import warehouse as wh
from pipelines.identity import store
from pipelines.identity.registry import assign_golden_ids
from pipelines.publish.contract import SERVING_TIER_TABLES
from pipelines.publish.serving import rebuild_serving
from pipelines.publish.snapshot import publish
from pipelines.recovery import recover
from pipelines.settings import get_paths
from pipelines.tiering.store import LEDGER, contract
from tests.config_files import run_context
from tests.publish.test_publish_snapshot import stage_upstream

D1 = date(2026, 3, 2)
D2, D3, D4, D5 = (D1 + timedelta(days=k) for k in range(1, 5))
CREATED = {
    "X1": "2019-01-01", "X2": "2022-05-01",  # one company: X1 deleted for a day, X2 keyed anew
    "Y1": "2020-01-01", "Z1": "2021-01-01",  # one company under two ids until a reviewer links them
    "S1": "2018-01-01", "M1": "2019-06-01", "L1": "2021-06-01",  # merged in a chain
    "W1": "2020-02-02",  # an unrelated company
}  # fmt: skip
TABLES = ["customer_tier_current", "customer_tier_history", "tier_snapshots",
          *SERVING_TIER_TABLES]  # fmt: skip


class Estate:
    """A data dir whose identity registry and published snapshots are written run by run."""

    def __init__(self, root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv("STRATUM_DATA_DIR", str(root / "data"))
        self.paths = get_paths()
        self.paths.warehouse.parent.mkdir(parents=True)
        self.con = duckdb.connect(str(self.paths.warehouse))

    def run(
        self,
        as_of: date,
        groups: list[list[str]],
        tiers: dict[str, str],
        rules: dict[str, str] | None = None,
        tier_since: dict[str, date] | None = None,
    ) -> dict[str, str]:
        """One run: ``groups`` of CRM records (one company each) get golden ids from the
        registry, then ``tiers`` (golden id -> tier; must name exactly the active ids) are
        published. ``rules``: the rule of a merge, by a record of its group."""
        previous, registry = store.read_registry(self.con)
        clusters = pd.DataFrame(
            [(a, min(g), pd.Timestamp(CREATED[a])) for g in groups for a in g],
            columns=["account_id", "cluster", "created_at"],
        )
        rule_frame = pd.DataFrame(
            [(min(g), r) for g in groups for a, r in (rules or {}).items() if a in g],
            columns=["cluster", "rule"],
        )
        out = assign_golden_ids(clusters, previous, registry, as_of, rule_frame)
        current = out.records.assign(match_rule="probabilistic", cluster_size=1, is_anchor=True)
        events = out.events.assign(decision_id=None, decided_by=None, decided_at=None)
        run_id = f"r{as_of:%m%d}"
        with wh.transaction(self.con):
            store.write_registry(
                self.con, current.drop(columns="cluster"), out.registry, events,
                pd.DataFrame(columns=["decision_id", "decision"]), as_of, run_id,
            )  # fmt: skip
        ids = dict(zip(out.records["account_id"], out.records["golden_account_id"], strict=True))
        assert set(ids.values()) == set(tiers), (ids, tiers)
        ctx = run_context(as_of, run_id=run_id)
        stage_upstream(self.con, tiers, ctx.snapshot_id, as_of)
        self._ledger(tiers, ctx.snapshot_id, as_of)
        for golden, since in (tier_since or {}).items():
            self.con.execute(
                "update tiers.published_customer_tier set tier_since = ? "
                "where golden_account_id = ?",
                [since, golden],
            )
        publish(self.con, self.paths.serving_dir, self.paths.serving_db, ctx)
        return ids

    def _ledger(self, tiers: dict[str, str], snapshot_id: str, as_of: date) -> None:
        """A ledger event per id seen for the first time or whose tier changed (what the tier
        step records, without following merges: enough to see whose events they are)."""
        wh.create_table(self.con, LEDGER, contract("tier_ledger"))
        last = dict(self.con.execute(
            "select golden_account_id, arg_max(to_tier, effective_date) from tiers.tier_ledger "
            "group by 1"
        ).fetchall())  # fmt: skip
        events = pd.DataFrame(
            [(g, last.get(g), t, "new" if g not in last else "change", as_of, snapshot_id)
             for g, t in tiers.items() if last.get(g) != t],
            columns=["golden_account_id", "from_tier", "to_tier", "change_type",
                     "effective_date", "snapshot_id"],
        )  # fmt: skip
        wh.append_rows(self.con, LEDGER, events)

    def serving(self, sql: str, params: list | None = None) -> list[tuple]:
        with wh.connection(self.paths.serving_db, read_only=True) as con:
            return con.execute(sql, params).fetchall()

    def history(self, golden: str) -> list[tuple]:
        return self.serving(
            "select tier, valid_from, valid_to, is_current, published_golden_account_id "
            "from customer_tier_history where golden_account_id = ? order by valid_from",
            [golden],
        )

    def redirects(self) -> list[tuple]:
        return self.serving("select * from golden_id_redirects order by 1")

    def folder_redirects(self, snapshot_id: str) -> list[tuple]:
        path = self.paths.snapshots_dir / snapshot_id / "golden_id_redirects.parquet"
        return duckdb.sql(f"select * from read_parquet('{path}') order by 1").fetchall()

    def tables(self) -> dict[str, list[tuple]]:
        return {t: self.serving(f"select * from {t} order by all") for t in TABLES}


@pytest.fixture
def estate(tmp_path, monkeypatch):
    e = Estate(tmp_path, monkeypatch)
    yield e
    e.con.close()


def merged_estate(estate: Estate) -> Estate:
    """Three published days. X1's records are deleted on D2 and a new record X2 gets its own
    id; on D3 X1 is back and both are one company: G-X1 (issued first) survives, G-X2 retires.
    Y1 and Z1 are one company under two ids (tiers A and C) until a must-link joins them on D3."""
    estate.run(D1, [["X1"], ["Y1"], ["Z1"], ["W1"]],
               {"G-X1": "A", "G-Y1": "A", "G-Z1": "C", "G-W1": "B"})  # fmt: skip
    estate.run(D2, [["X2"], ["Y1"], ["Z1"], ["W1"]],
               {"G-X2": "B", "G-Y1": "A", "G-Z1": "C", "G-W1": "B"})  # fmt: skip
    estate.run(D3, [["X1", "X2"], ["Y1", "Z1"], ["W1"]],
               {"G-X1": "C", "G-Y1": "A", "G-W1": "C"}, rules={"Y1": "must_link:D-2026-0007"})  # fmt: skip
    return estate


def assert_intervals_well_formed(estate: Estate) -> None:
    """Per id: contiguous, non-overlapping intervals, only the last one may be open/current."""
    rows = estate.serving(
        "select golden_account_id, valid_from, valid_to, is_current "
        "from customer_tier_history order by 1, 2"
    )
    frame = pd.DataFrame(rows, columns=["id", "start", "end", "current"])
    for golden, group in frame.groupby("id"):
        starts, ends = group["start"].tolist(), group["end"].tolist()
        assert ends[:-1] == starts[1:], golden
        assert all(s < e for s, e in zip(starts, ends[:-1], strict=False)), golden
        assert group["current"].tolist() == [False] * (len(group) - 1) + [ends[-1] is None]


def test_merge_between_published_days_gives_one_survivor_carrying_both(estate):
    merged_estate(estate)
    assert estate.redirects() == [
        ("G-X2", "G-X1", "G-X1", D3, "probabilistic"),
        ("G-Z1", "G-Y1", "G-Y1", D3, "must_link:D-2026-0007"),
    ]
    # G-X1 had no row on D2 (its records were deleted): G-X2's row fills the day.
    assert estate.history("G-X1") == [
        ("A", D1, D2, False, "G-X1"),
        ("B", D2, D3, False, "G-X2"),
        ("C", D3, None, True, "G-X1"),
    ]
    # Y1 and Z1 both had rows (A and C) on D1 and D2: the survivor's own row wins.
    assert estate.history("G-Y1") == [("A", D1, None, True, "G-Y1")]
    assert estate.history("G-X2") == estate.history("G-Z1") == []
    assert estate.history("G-W1") == [("B", D1, D3, False, "G-W1"), ("C", D3, None, True, "G-W1")]
    assert estate.serving(
        "select golden_account_id from customer_tier_history where is_current order by 1"
    ) == [("G-W1",), ("G-X1",), ("G-Y1",)]
    assert_intervals_well_formed(estate)
    # Each folder carries the redirects in force when it was published, and stays as it was.
    assert estate.folder_redirects(f"{D2:%Y%m%d}-r{D2:%m%d}") == []
    assert estate.folder_redirects(f"{D3:%Y%m%d}-r{D3:%m%d}") == estate.redirects()


def test_a_chain_of_merges_resolves_to_the_last_survivor(estate):
    estate.run(D1, [["S1"], ["W1"]], {"G-S1": "A", "G-W1": "B"})
    estate.run(D2, [["S1"], ["M1"], ["W1"]], {"G-S1": "A", "G-M1": "B", "G-W1": "B"})
    estate.run(D3, [["S1"], ["M1"], ["L1"], ["W1"]],
               {"G-S1": "A", "G-M1": "B", "G-L1": "C", "G-W1": "B"})  # fmt: skip
    estate.run(D4, [["S1"], ["L1", "M1"], ["W1"]], {"G-S1": "A", "G-M1": "C", "G-W1": "B"})
    d4_redirects = estate.redirects()
    estate.run(D5, [["L1", "M1", "S1"], ["W1"]], {"G-S1": "B", "G-W1": "B"},
               rules={"S1": "uscc"})  # fmt: skip
    assert d4_redirects == [("G-L1", "G-M1", "G-M1", D4, "probabilistic")]
    assert estate.redirects() == [
        ("G-L1", "G-S1", "G-M1", D4, "probabilistic"),
        ("G-M1", "G-S1", "G-S1", D5, "uscc"),
    ]
    assert estate.folder_redirects(f"{D4:%Y%m%d}-r{D4:%m%d}") == d4_redirects
    assert estate.history("G-S1") == [("A", D1, D5, False, "G-S1"), ("B", D5, None, True, "G-S1")]
    ids = {r[0] for r in estate.serving("select golden_account_id from customer_tier_history")}
    assert ids == {"G-S1", "G-W1"}
    assert_intervals_well_formed(estate)


def test_rows_of_merged_ids_alone_on_a_day_go_to_the_tier_held_longest(estate):
    """Two ids merged into a survivor that had no row that day: the one whose tier was held
    longer (earlier tier_since) fills the day, as the tier step carries it on."""
    estate.run(D1, [["S1"], ["W1"]], {"G-S1": "A", "G-W1": "B"})
    estate.run(D2, [["M1"], ["L1"], ["W1"]], {"G-M1": "B", "G-L1": "C", "G-W1": "B"},
               tier_since={"G-M1": D2, "G-L1": D1})  # fmt: skip
    estate.run(D3, [["L1", "M1", "S1"], ["W1"]], {"G-S1": "P", "G-W1": "B"})
    assert estate.history("G-S1") == [
        ("A", D1, D2, False, "G-S1"),
        ("C", D2, D3, False, "G-L1"),
        ("P", D3, None, True, "G-S1"),
    ]


def test_snapshots_published_before_the_redirects_existed_read_as_no_redirects(estate):
    def drop_redirect_files(*days: date) -> None:
        for day in days:
            path = (
                estate.paths.snapshots_dir
                / f"{day:%Y%m%d}-r{day:%m%d}"
                / "golden_id_redirects.parquet"
            )
            path.unlink()

    estate.run(D1, [["Y1"], ["Z1"]], {"G-Y1": "A", "G-Z1": "C"})
    estate.run(D2, [["Y1"], ["Z1"]], {"G-Y1": "A", "G-Z1": "B"})
    drop_redirect_files(D1, D2)  # as an older release published them
    rebuild_serving(estate.paths.serving_dir, estate.paths.serving_db)
    assert estate.redirects() == []
    # The next run publishes its redirects: older folders' rows follow them.
    estate.run(D3, [["Y1", "Z1"]], {"G-Y1": "B"}, rules={"Y1": "must_link:D-2026-0008"})
    assert estate.history("G-Y1") == [("A", D1, D3, False, "G-Y1"), ("B", D3, None, True, "G-Y1")]
    assert estate.history("G-Z1") == []
    # Every folder without the file, and no serving file to fall back on: no redirect at all,
    # the retired id keeps its own intervals, closed when it left.
    drop_redirect_files(D3)
    estate.paths.serving_db.unlink()
    rebuild_serving(estate.paths.serving_dir, estate.paths.serving_db)
    assert estate.redirects() == []
    assert estate.history("G-Z1") == [("C", D1, D2, False, "G-Z1"), ("B", D2, D3, False, "G-Z1")]


def test_serving_rebuilt_from_the_folders_alone_is_the_same(estate):
    merged_estate(estate)
    before = estate.tables()
    assert before["golden_id_redirects"] and before["customer_tier_history"]
    estate.paths.serving_db.unlink()
    estate.con.close()
    shutil.rmtree(estate.paths.warehouse.parent)  # nothing but the folders to rebuild from
    report = recover(estate.paths)
    assert report.serving_rebuilt
    assert estate.tables() == before


def test_explain_follows_a_retired_id_to_its_survivor(estate, capsys):
    merged_estate(estate)
    history = explain.load_history(estate.paths.serving_dir, estate.paths.serving_db, "G-X2")
    assert history.account == "G-X1"
    assert history.redirected_from == explain.Merge("G-X2", "G-X1", "G-X1", D3, "probabilistic")
    assert history.intervals[["tier", "published_golden_account_id"]].values.tolist() == [
        ["A", "G-X1"], ["B", "G-X2"], ["C", "G-X1"],
    ]  # fmt: skip
    assert explain.main(["G-Z1"]) == 0
    out = capsys.readouterr().out
    assert out.startswith(
        f"Account G-Z1 was merged into G-Y1 on {D3} (rule: must_link:D-2026-0007); it has no "
        "history of its own: G-Y1's below carries it."
    )
    assert f"Ids merged into G-Y1: G-Z1 ({D3}, must_link:D-2026-0007)." in out
    assert "In 3 of 3 published snapshots; latest tier A as of" in out
    # the ledger keeps each event under the id it was recorded under
    assert history.ledger[["recorded_as", "to_tier", "change_type"]].values.tolist() == [
        ["G-X1", "A", "new"], ["G-X2", "B", "new"], ["G-X1", "C", "change"],
    ]  # fmt: skip
    # both ids' rows of D1 are shown, each under the id it was published under
    assert f"{D1} {D1:%Y%m%d}-r{D1:%m%d} [C] (published as G-Z1)" in out
    assert f"{D1} {D1:%Y%m%d}-r{D1:%m%d} [A] (published as G-Y1)" in out
