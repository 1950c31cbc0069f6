"""kill -9 at every stage, rerun, and publish exactly what an uninterrupted run publishes.

One world (the session template at ``mid``: D0 published, D's delivery waiting, with three
erasure requests) goes through a chain of real runs of the job in child processes, each
SIGKILLed at a chosen point:

1. ingest — two runs started at the same moment: one is refused, naming the other; the other
   is killed inside the transaction loading D's orders file, its rows inserted and its
   manifest row not;
2. privacy — a new run: the erasure committed, the warehouse rewrite's fresh copy written but
   not renamed into place (the blanked values' old bytes are still in the file);
3. identity — a new run: the matching step's registry committed, the step not finished;
4. dbt — a new run: after a few models were built (the sensor's way of redoing it);
5. checks — re-execution from failure (the UI's way): inside the Great Expectations check of
   the profile; while it hangs there, a second run is started and must be refused, naming it;
6. scoring — between two score tables (re-execution);
7. tiering — after the tier step wrote its tiers and change tables, before the KPIs;
8. publish — after the snapshot folder was committed, before the serving file was swapped;

then a last re-execution runs to the end. After every kill the dead run is still STARTED in
the instance (a zombie) until the landing sensor reaps it and asks for its partition again.
The result is compared with the template's uninterrupted run for D: same snapshot (minus its
id), same ledger, notices, migration matrix, KPIs and review queue, same raw rows, same golden
ids, the same erasure audit and nothing of the erased people left in any file; no stray files,
no zombie runs.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import pytest
from dagster import DagsterEventType, DagsterRunStatus, build_sensor_context

from pipelines.history import list_snapshots
from pipelines.recovery import leftovers
from pipelines.runs import REAPED_TAG, REFUSED_TAG
from pipelines.settings import ENTITIES, get_paths
from tests.reliability.conftest import D, Env, change_tables, clone, in_force

pytestmark = pytest.mark.integration

WAIT_SECONDS = 900  # a generous bound for a child to reach its pause point on a busy machine


@dataclass
class Kill:
    point: str
    run_id: str
    status_before_reaping: DagsterRunStatus
    orphans_left: list[int]
    sensor_requests: list = field(default_factory=list)
    reaped_status: DagsterRunStatus | None = None
    published: list[str] = field(default_factory=list)
    served: set[str] | None = None


def _launch(env: Env, pause: str | None, reexecute: str | None) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "tests.reliability.harness", "--as-of", D.isoformat()]
    if pause:
        cmd += ["--pause-at", pause, "--marker", str(env.root / f"{pause}.marker")]
    if reexecute:
        cmd += ["--reexecute", reexecute]
    log = (env.root / f"{pause or 'final'}-{time.monotonic_ns()}.log").open("w")
    proc = subprocess.Popen(cmd, env=env.env(), stdout=log, stderr=subprocess.STDOUT)
    proc.log_path = Path(log.name)  # type: ignore[attr-defined]
    return proc


def _wait(proc: subprocess.Popen, env: Env, what: str, ready) -> None:
    deadline = time.monotonic() + WAIT_SECONDS
    while not ready():
        if proc.poll() is not None:
            log = proc.log_path.read_text()[-4000:]  # type: ignore[attr-defined]
            raise AssertionError(f"the run ended before {what}:\n{log}")
        if time.monotonic() > deadline:
            proc.kill()
            raise AssertionError(f"the run never reached {what}")
        time.sleep(0.5)


def _children(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").glob("*/children"):
        found += [int(c) for c in task.read_text().split()]
    return found


def _alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.split(")")[-1].split()[0] != "Z"


def _dbt_models_built(instance, run_id: str) -> int:
    records = instance.get_records_for_run(
        run_id, of_type=DagsterEventType.ASSET_MATERIALIZATION
    ).records
    return sum(1 for r in records if r.event_log_entry.step_key == "dbt_models")


def kill_at(env: Env, instance, point: str, reexecute: str | None = None) -> Kill:
    """Start a run (or re-execute ``reexecute``), SIGKILL it at ``point``."""
    before = {r.run_id for r in instance.get_runs()}
    proc = _launch(env, None if point == "dbt" else point, reexecute)

    def new_run():
        runs = [r for r in instance.get_runs() if r.run_id not in before]
        return runs[0] if runs else None

    if point == "dbt":
        _wait(
            proc,
            env,
            "dbt",
            lambda: new_run() and _dbt_models_built(instance, new_run().run_id) >= 3,
        )
    else:
        _wait(proc, env, point, (env.root / f"{point}.marker").exists)
    children = _children(proc.pid)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    # A child of the killed worker (dbt) must not keep writing to the warehouse.
    deadline = time.monotonic() + 120
    while any(_alive(c) for c in children) and time.monotonic() < deadline:
        time.sleep(0.5)
    run = instance.get_run_by_id(new_run().run_id)
    return Kill(point, run.run_id, run.status, [c for c in children if _alive(c)])


def _sensor_tick(instance) -> list:
    from pipelines.ingest.sensors import build_landing_sensor
    from pipelines.jobs import stratum_job
    from pipelines.resources import Warehouse

    sensor = build_landing_sensor(stratum_job)
    result = sensor(build_sensor_context(instance=instance, resources={"warehouse": Warehouse()}))
    return result if isinstance(result, list) else [result]


def _observe(env: Env, instance, kill: Kill) -> Kill:
    """What a killed run left: the sensor's view, and what is published."""
    from pipelines.publish.serving import served_snapshot_ids

    paths = get_paths()
    kill.sensor_requests = [
        (r.run_key, r.partition_key) for r in _sensor_tick(instance) if hasattr(r, "run_key")
    ]
    kill.reaped_status = instance.get_run_by_id(kill.run_id).status
    kill.published = [s.snapshot_id for s in list_snapshots(paths.snapshots_dir)]
    kill.served = served_snapshot_ids(paths.serving_db)
    return kill


def _refused_second_run(env: Env, instance) -> str:
    """Start another run while one holds the data dir; return why it was refused."""
    before = {r.run_id for r in instance.get_runs()}
    proc = subprocess.run(
        [sys.executable, "-m", "tests.reliability.harness", "--as-of", D.isoformat()],
        env=env.env(), capture_output=True, text=True, timeout=WAIT_SECONDS,
    )  # fmt: skip
    assert proc.returncode == 1, proc.stdout[-2000:]
    (refused,) = [r for r in instance.get_runs() if r.run_id not in before]
    assert refused.status == DagsterRunStatus.FAILURE
    return refused.tags[REFUSED_TAG]


@pytest.fixture(scope="module")
def chain(template, tmp_path_factory):
    env = clone(template["mid"], tmp_path_factory.mktemp("faults") / "chain")
    kills: dict[str, Kill] = {}
    with pytest.MonkeyPatch.context() as mp, env.instance() as instance:
        env.isolate(mp)
        baseline_zero = [s.snapshot_id for s in list_snapshots(get_paths().snapshots_dir)]
        kill, at_once = _two_at_once(env, instance)
        kills["ingest"] = _observe(env, instance, kill)
        compacting = _observe(env, instance, kill_at(env, instance, "privacy"))
        kills["privacy"], left_by_privacy = compacting, leftovers(get_paths())
        for point in ("identity", "dbt"):
            kills[point] = _observe(env, instance, kill_at(env, instance, point))
        kill, refusal = _kill_checks_with_a_second_run(env, instance, kills["dbt"].run_id)
        kills["checks"] = _observe(env, instance, kill)
        last = kills["checks"].run_id
        for point in ("scoring", "tiering", "publish_committed"):
            kills[point] = _observe(env, instance, kill_at(env, instance, point, reexecute=last))
            last = kills[point].run_id
        proc = _launch(env, None, last)
        assert proc.wait(timeout=WAIT_SECONDS) == 0, proc.log_path.read_text()[-4000:]
        final = instance.get_runs(limit=1)[0]
        yield {
            "env": env,
            "kills": kills,
            "at_once": at_once,
            "left_by_privacy": left_by_privacy,
            "refusal": refusal,
            "final": final,
            "published_before": baseline_zero,
            "runs": list(instance.get_runs()),
            "leftovers": leftovers(get_paths()),
        }


def _two_at_once(env: Env, instance) -> tuple[Kill, dict]:
    """Two runs of D started at the same moment: one takes the data dir and is killed while
    loading D's orders; the other must be refused before it does anything, naming it."""
    before = {r.run_id for r in instance.get_runs()}
    procs = [_launch(env, "ingest", None), _launch(env, "ingest", None)]
    marker = env.root / "ingest.marker"
    deadline = time.monotonic() + WAIT_SECONDS
    while not (marker.exists() and sum(p.poll() is not None for p in procs) == 1):
        ended = [p for p in procs if p.poll() is not None]
        assert len(ended) < 2, [p.log_path.read_text()[-3000:] for p in ended]  # type: ignore[attr-defined]
        assert time.monotonic() < deadline, "neither run reached the orders load"
        time.sleep(0.5)
    holder = next(p for p in procs if p.poll() is None)
    loser = next(p for p in procs if p is not holder)
    os.kill(holder.pid, signal.SIGKILL)
    holder.wait()
    started = [r for r in instance.get_runs() if r.run_id not in before]
    (refused,) = [r for r in started if REFUSED_TAG in r.tags]
    (killed,) = [r for r in started if r.run_id != refused.run_id]
    at_once = {
        "refused": instance.get_run_by_id(refused.run_id),
        "loser_exit": loser.returncode,
        "holder": killed.run_id,
    }
    return Kill("ingest", killed.run_id, killed.status, []), at_once


def _kill_checks_with_a_second_run(env: Env, instance, reexecute: str) -> tuple[Kill, str]:
    """Kill at the profile's GX check; while the run hangs there, a second run is refused."""
    before = {r.run_id for r in instance.get_runs()}
    proc = _launch(env, "checks", reexecute)
    _wait(proc, env, "checks", (env.root / "checks.marker").exists)
    holder = next(r for r in instance.get_runs() if r.run_id not in before)
    refusal = _refused_second_run(env, instance)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    run = instance.get_run_by_id(holder.run_id)
    return Kill("checks", run.run_id, run.status, []), refusal


@pytest.fixture(scope="module")
def baseline(template, tmp_path_factory) -> Env:
    return clone(template["full"], tmp_path_factory.mktemp("faults") / "baseline")


def test_killed_runs_stay_started_until_the_sensor_reaps_them_and_asks_again(chain):
    for point, kill in chain["kills"].items():
        assert kill.status_before_reaping == DagsterRunStatus.STARTED, point
        assert kill.reaped_status == DagsterRunStatus.FAILURE, point
        assert (f"redo-{kill.run_id}", D.isoformat()) in kill.sensor_requests, point
        assert kill.orphans_left == [], f"{point}: processes outlived their killed run"


def test_two_runs_started_at_once_one_is_refused_naming_the_other(chain):
    at_once = chain["at_once"]
    assert at_once["loser_exit"] == 1
    refused = at_once["refused"]
    assert refused.status == DagsterRunStatus.FAILURE
    assert (
        f"another pipeline run is in progress on {chain['env'].data_dir}: run {at_once['holder']}"
        in refused.tags[REFUSED_TAG]
    )
    # Refused before any step: nothing of it in the event log but its start and failure.
    assert chain["kills"]["ingest"].run_id == at_once["holder"]


def test_nothing_is_published_by_a_killed_run_before_its_commit(chain):
    before = chain["published_before"]
    for point in ("ingest", "privacy", "identity", "dbt", "checks", "scoring", "tiering"):
        kill = chain["kills"][point]
        assert kill.published == before and kill.served == set(before), point
    # Killed between the commit and the swap: the snapshot is published (its folder is in
    # place), the serving file lags until the next run starts and rebuilds it.
    committed = chain["kills"]["publish_committed"]
    (new,) = set(committed.published) - set(before)
    assert committed.served == set(before)
    # The snapshot of the re-executed runs, named after their root (the run killed in dbt).
    assert new.endswith(chain["kills"]["dbt"].run_id[:8])


def test_a_second_run_is_refused_naming_the_running_one(chain):
    holder = chain["kills"]["checks"].run_id
    assert (
        f"another pipeline run is in progress on {chain['env'].data_dir}: run {holder}"
        in (chain["refusal"])
    )


def test_the_rerun_publishes_what_an_uninterrupted_run_publishes(chain, baseline):
    env = chain["env"]
    assert chain["final"].status == DagsterRunStatus.SUCCESS
    got_id, got = in_force(env, D)
    want_id, want = in_force(baseline, D)
    pd.testing.assert_frame_equal(got, want, check_exact=False, rtol=1e-9)
    got_changes, want_changes = change_tables(env, got_id), change_tables(baseline, want_id)
    # Tied to the published snapshots: movers and notices against D0 survive every kill.
    assert len(want_changes["tier_ledger"]) > 0 and len(want_changes["downgrade_notices"]) > 0
    assert (
        want_changes["migration_matrix"]["from_tier"] != want_changes["migration_matrix"]["to_tier"]
    ).any()
    for table in want_changes:
        pd.testing.assert_frame_equal(
            got_changes[table], want_changes[table], check_exact=False, rtol=1e-9
        )


def test_history_current_rows_agree_with_the_current_tiers(chain):
    with chain["env"].serving() as con:
        differ = con.execute(
            """
            select count(*) from (
                (select golden_account_id, tier from customer_tier_history where is_current
                 except select golden_account_id, tier from customer_tier_current)
                union all
                (select golden_account_id, tier from customer_tier_current
                 except select golden_account_id, tier from customer_tier_history where is_current)
            )
            """
        ).fetchone()[0]
        snapshots = con.execute("select count(*) from tier_snapshots where in_force").fetchone()[0]
    assert (differ, snapshots) == (0, 2)


def test_every_row_was_loaded_once(chain, baseline):
    def counts(env: Env) -> dict:
        with env.warehouse() as con:
            raw = {
                e: con.execute(f'select count(*) from raw."{e}"').fetchone()[0] for e in ENTITIES
            }
            files = con.execute(
                "select entity, path, sha256, rows_read, rows_loaded, rows_quarantined "
                "from raw._file_manifest order by all"
            ).fetchall()
            quarantined = con.execute("select count(*) from raw._quarantine").fetchone()[0]
        return {"raw": raw, "files": files, "quarantined": quarantined}

    assert counts(chain["env"]) == counts(baseline)


def test_no_stray_files_and_no_zombie_runs(chain):
    assert chain["leftovers"] == []
    serving = chain["env"].data_dir / "serving"
    assert sorted(p.name for p in serving.iterdir()) == [
        ".staging",
        "snapshots",
        "stratum_serving.duckdb",
    ]
    assert list((serving / ".staging").iterdir()) == []
    alive = [
        r.run_id
        for r in chain["runs"]
        if r.status in (DagsterRunStatus.STARTED, DagsterRunStatus.STARTING)
    ]
    assert alive == []
    killed = {k.run_id for k in chain["kills"].values()}
    for run in chain["runs"]:
        if run.run_id in killed:
            assert run.status == DagsterRunStatus.FAILURE and REAPED_TAG in run.tags


def test_the_killed_rewrite_was_swept_and_done_again_nothing_of_the_erased_is_left(
    chain, baseline, template
):
    from tests.privacy.test_privacy_erasure_pipeline import (
        ERASED_VALUES,
        scan_bytes,
        scan_duckdb_files,
    )

    # The kill left the rewrite's fresh copy; the next run swept it and rewrote the file.
    left = chain["left_by_privacy"]
    assert any(p.name.endswith(".compacting") for p in left), left
    assert {p.parent.name for p in left} == {"warehouse"}, left
    before = template["mid"] / "data"
    assert scan_bytes(before, ERASED_VALUES) and scan_duckdb_files(before, ERASED_VALUES)
    for env in (chain["env"], baseline):
        assert scan_bytes(env.data_dir, ERASED_VALUES) == {}
        assert scan_duckdb_files(env.data_dir, ERASED_VALUES) == {}

    def privacy(env: Env) -> tuple:
        with env.warehouse() as con:
            audit = con.execute(
                "select request_id, identified_by, contacts, rows_purged, landing_files_removed, "
                "purged, note from privacy.erasure_log order by all"
            ).fetchall()
            rewrites = con.execute("select count(*) from privacy.rewrites").fetchone()[0]
            due = con.execute("select count(*) from privacy.rewrite_due").fetchone()[0]
        return audit, rewrites, due

    got, want = privacy(chain["env"]), privacy(baseline)
    assert [r[0] for r in want[0]] == ["DSAR-001", "DSAR-002", "DSAR-003"]
    assert got == want and want[1:] == (1, 0)


def test_golden_ids_and_the_review_queue_are_those_of_an_uninterrupted_run(chain, baseline):
    def identity(env: Env) -> dict:
        out = {}
        with env.warehouse() as con:
            for table in ("golden_ids", "record_assignments", "account_identity"):
                out[table] = con.execute(f"select * from identity.{table} order by all").fetchall()
            out["events"] = con.execute(
                "select * exclude (event_id, run_id) from identity.identity_events order by all"
            ).fetchall()
        with env.serving() as con:
            out["review"] = con.execute("select * from identity_review order by all").fetchall()
        return out

    got, want = identity(chain["env"]), identity(baseline)
    assert len(want["golden_ids"]) > 0 and len(want["events"]) > 0
    for key in want:
        assert got[key] == want[key], key
