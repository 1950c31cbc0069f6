"""python -m pipelines.explain: one account across every published snapshot, read-only."""

from __future__ import annotations

from datetime import date

import duckdb
import pytest

from pipelines import explain
from pipelines.publish.snapshot import publish
from tests.config_files import run_context
from tests.publish.test_publish_snapshot import stage_upstream


@pytest.fixture()
def serving(tmp_path, monkeypatch):
    """g1: A, then B; the second date is rerun (its first snapshot superseded); g2 appears
    on the second date only."""
    monkeypatch.setenv("STRATUM_DATA_DIR", str(tmp_path / "data"))
    serving = tmp_path / "data" / "serving"
    con = duckdb.connect(str(tmp_path / "warehouse.duckdb"))
    for run, as_of, tiers in [
        ("run1", date(2026, 1, 1), {"g1": "A"}),
        ("run2", date(2026, 1, 2), {"g1": "C", "g2": "C"}),
        ("run3", date(2026, 1, 2), {"g1": "B", "g2": "C"}),
    ]:
        ctx = run_context(as_of, run_id=run)
        stage_upstream(con, tiers, ctx.snapshot_id, as_of)
        publish(con, serving, serving / "stratum_serving.duckdb", ctx)
    con.close()
    return serving


def test_history_lists_every_snapshot_with_its_status(serving) -> None:
    history = explain.load_history(serving, serving / "stratum_serving.duckdb", "g1")
    snaps = history.snapshots
    assert snaps[["snapshot_id", "tier", "in_force"]].values.tolist() == [
        ["20260101-run1", "A", True],
        ["20260102-run2", "C", False],
        ["20260102-run3", "B", True],
    ]
    assert snaps["superseded_by"].tolist()[1] == "20260102-run3"
    assert history.intervals[["tier", "valid_from"]].astype(str).values.tolist() == [
        ["A", "2026-01-01"],
        ["B", "2026-01-02"],
    ]


def test_the_report_names_tiers_scores_reasons_and_absences(serving, capsys) -> None:
    assert explain.main(["g2"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("Account g2: account_name-g2 (industry-g2, region-g2)")
    assert "In 2 of 3 published snapshots; latest tier C as of 2026-01-02 (20260102-run3)" in out
    lines = out.splitlines()
    first = next(line for line in lines if "20260101-run1" in line)
    assert "(absent)" in first and "in force" in first
    assert any("superseded by 20260102-run3" in line for line in lines)
    assert "2026-01-02 20260102-run3 [C] reason_en-g2" in out
    assert "rfm_score" in out and "Tier changes (tier_ledger" in out


def test_unknown_account_or_nothing_published_is_a_clear_error(serving, tmp_path, capsys):
    assert explain.main(["nobody"]) == 1
    assert "account nobody is in none of the 3 snapshots" in capsys.readouterr().err
    with pytest.raises(explain.ExplainError, match="nothing has been published yet"):
        explain.load_history(tmp_path / "x", tmp_path / "x" / "serving.duckdb", "g1")
