"""A reviewer's must-link between two published golden accounts, through the whole job on the
generator's world: the next run merges them, publishes the redirect with its snapshot, and the
published history, the serving rebuild and ``pipelines.explain`` follow the survivor."""

from __future__ import annotations

import shutil
from datetime import timedelta

import pandas as pd
import pytest
import yaml

from pipelines import explain
from pipelines.recovery import recover
from pipelines.settings import REPO_ROOT, get_paths
from tests.conftest import run_pipeline
from tests.integration.conftest import failures, serving, snapshot_frame, warehouse

DECISION = "D-2026-0042"


def _two_published_companies(world, snapshot_id: str) -> tuple[str, str]:
    """Two single-record golden accounts without a valid credit code (so a must-link cannot
    join two codes), published with different tiers."""
    con = warehouse(world)
    try:
        loners = con.execute(
            "select i.account_id, i.golden_account_id from identity.account_identity as i "
            "join staging.stg_crm__accounts as s using (account_id) "
            "where i.cluster_size = 1 and not coalesce(s.uscc_is_valid, false) order by 1"
        ).fetchall()
    finally:
        con.close()
    tiers = snapshot_frame(world, snapshot_id)["tier"]
    first = next((a, g) for a, g in loners if g in tiers.index)
    second = next((a, g) for a, g in loners if g in tiers.index and tiers[g] != tiers[first[1]])
    return first[0], second[0]


@pytest.fixture(scope="module")
def merged(world, first_run, instance, tmp_path_factory):
    """The first run's world copied, a must-link decision added, and the next day run."""
    from tests.integration.conftest import copy_world

    mine = copy_world(world, tmp_path_factory.mktemp("identity_history"))
    a, b = _two_published_companies(mine, first_run["snapshot_id"])
    config = tmp_path_factory.mktemp("config") / "config"
    shutil.copytree(REPO_ROOT / "config", config)
    (config / "identity_decisions.yaml").write_text(
        yaml.safe_dump(
            {
                "version": "1",
                "decisions": [
                    {
                        "id": DECISION,
                        "decision": "must_link",
                        "account_ids": [a, b],
                        "decided_by": "analyst.li",
                        "decided_at": str(world.as_of),
                        "reason": "one company, confirmed with the account team",
                    }
                ],
            }
        ),  # fmt: skip
        encoding="utf-8",
    )
    next_day = world.as_of + timedelta(days=1)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("STRATUM_CONFIG_DIR", str(config))
        result = run_pipeline(mine, instance, next_day)
    assert result.success, failures(result)
    ids = (f"G-{a}", f"G-{b}")  # issued by the first run: G- + the record
    return {"world": mine, "survivor": min(ids), "retired": max(ids), "day": next_day}


def test_the_survivor_carries_the_published_history_and_the_retired_id_resolves(merged, first_run):
    world, survivor, retired, day = (merged[k] for k in ("world", "survivor", "retired", "day"))
    con = serving(world)
    try:
        redirects = con.execute("select * from golden_id_redirects").fetchall()
        mine = con.execute(
            "select published_golden_account_id, valid_from, valid_to, is_current "
            "from customer_tier_history where golden_account_id = ? order by valid_from",
            [survivor],
        ).fetchall()
        leftovers = con.execute(
            "select count(*) from customer_tier_history where golden_account_id = ?", [retired]
        ).fetchone()[0]
        current = con.execute(
            "select golden_account_id, count(*) from customer_tier_history where is_current "
            "group by 1 having count(*) > 1"
        ).fetchall()
        (new_snapshot,) = con.execute(
            "select snapshot_id from tier_snapshots where as_of_date = ?", [day]
        ).fetchone()
        new_events = con.execute(
            "select change_type from tier_ledger where golden_account_id = ? and snapshot_id = ?",
            [survivor, new_snapshot],
        ).fetchall()
    finally:
        con.close()
    assert redirects == [(retired, survivor, survivor, day, f"must_link:{DECISION}")]
    # Both had a row on the first day: the survivor's own wins; one id, one open interval.
    assert {r[0] for r in mine} == {survivor} and leftovers == 0
    assert mine[-1][2:] == (None, True) and current == []
    assert all(r[2] == n[1] for r, n in zip(mine, mine[1:], strict=False))
    assert ("new",) not in new_events  # the tier step carried the survivor on
    # Each folder carries the redirects in force when it was published.
    folders = world.data_dir / "serving" / "snapshots"
    published = {
        s: pd.read_parquet(folders / s / "golden_id_redirects.parquet")
        for s in (first_run["snapshot_id"], new_snapshot)
    }
    assert published[first_run["snapshot_id"]].empty
    assert published[new_snapshot]["retired_golden_account_id"].tolist() == [retired]


def test_explain_and_a_rebuild_from_the_folders_follow_the_merge(merged, capsys, monkeypatch):
    world, survivor, retired = merged["world"], merged["survivor"], merged["retired"]
    monkeypatch.setenv("STRATUM_DATA_DIR", str(world.data_dir))
    assert explain.main([retired]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"Account {retired} was merged into {survivor} on {merged['day']}")
    assert f"Ids merged into {survivor}: {retired}" in out

    def tables() -> dict[str, list]:
        con = serving(world)
        try:
            names = [r[0] for r in con.execute("show tables").fetchall()]
            return {t: con.execute(f"select * from {t} order by all").fetchall() for t in names}
        finally:
            con.close()

    before = tables()
    paths = get_paths()
    paths.serving_db.unlink()
    assert recover(paths).serving_rebuilt
    assert tables() == before
