"""BI readers during publishing: never an error, never a partial or mixed snapshot.

A child process publishes a series of snapshots (new dates, a same-day rerun, a backfill of
an older date) with the real publish step, while readers in this process keep reading the
serving database and the snapshot Parquet files, one by one and through a glob over
``snapshots/*/customer_tier.parquet`` (which also matches hidden folders, so a snapshot being
staged there would be read half-written).
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import threading
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import duckdb
import pytest

from pipelines.settings import REPO_ROOT

# (run id, as-of date, accounts): each snapshot's size differs, so a partial read shows.
PLAN = [
    ("run01", date(2026, 1, 1), 300),
    ("run02", date(2026, 1, 2), 310),
    ("run03", date(2026, 1, 3), 320),
    ("run04", date(2026, 1, 3), 330),  # a rerun of the same date: run04 in force
    ("run05", date(2026, 1, 5), 340),
    ("run06", date(2026, 1, 4), 350),  # a backfill: never current
    ("run07", date(2026, 1, 6), 360),
    ("run08", date(2026, 1, 7), 370),
]
SIZES = {f"{d:%Y%m%d}-{run}": n for run, d, n in PLAN}
ONE_THREAD = {"threads": 1}


@dataclass
class Seen:
    reads: int = 0
    states: set = field(default_factory=set)
    errors: list = field(default_factory=list)
    wrong: list = field(default_factory=list)


def _read_serving(path: Path, seen: Seen) -> None:
    with duckdb.connect(str(path), read_only=True, config=ONE_THREAD) as con:
        current = con.execute(
            "select snapshot_id, count(*) from customer_tier_current group by 1"
        ).fetchall()
        in_force = con.execute(
            "select snapshot_id from tier_snapshots where in_force order by as_of_date desc limit 1"
        ).fetchone()[0]
        listed = {r[0] for r in con.execute("select snapshot_id from tier_snapshots").fetchall()}
        history = con.execute(
            "select count(*) from customer_tier_history where is_current"
        ).fetchone()[0]
    (snapshot_id, rows), *more = current
    if more or snapshot_id != in_force or rows != SIZES[snapshot_id] or history != rows:
        seen.wrong.append(("serving", current, in_force, history))
    if not listed <= set(SIZES):
        seen.wrong.append(("serving lists unknown snapshots", listed))
    seen.states.add(("serving", snapshot_id, len(listed)))


def _read_glob(snapshots: Path, seen: Seen) -> None:
    pattern = (snapshots / "*" / "customer_tier.parquet").as_posix()
    with duckdb.connect(config=ONE_THREAD) as con:
        counts = con.execute(
            f"select snapshot_id, count(*) from read_parquet('{pattern}') group by 1"
        ).fetchall()
    for snapshot_id, rows in counts:
        if rows != SIZES.get(snapshot_id):
            seen.wrong.append(("glob", snapshot_id, rows))
    seen.states.add(("glob", len(counts)))


def _read_files(snapshots: Path, seen: Seen) -> None:
    with duckdb.connect(config=ONE_THREAD) as con:
        for folder in sorted(snapshots.glob("*")):
            table = (folder / "customer_tier.parquet").as_posix()
            ledger = (folder / "tier_ledger.parquet").as_posix()
            rows = con.execute(f"select count(*) from read_parquet('{table}')").fetchone()[0]
            con.execute(f"select count(*) from read_parquet('{ledger}')").fetchone()
            if rows != SIZES.get(folder.name):
                seen.wrong.append(("file", folder.name, rows))


def _reader(read, done: threading.Event, seen: Seen) -> None:
    while not done.is_set():
        try:
            read(seen)
        except Exception as exc:  # noqa: BLE001 - every error is a finding
            seen.errors.append(repr(exc)[:300])
        seen.reads += 1
        done.wait(0.01)  # leave the publisher some CPU on a small machine


PUBLISHER = textwrap.dedent(
    """
    import json
    import sys
    from datetime import date
    from pathlib import Path
    import duckdb
    from pipelines.publish.snapshot import publish
    from tests.config_files import run_context
    from tests.publish.test_publish_snapshot import stage_upstream

    root, plan = Path(sys.argv[1]), json.loads(sys.argv[2])
    serving = root / "serving"
    con = duckdb.connect(str(root / "warehouse.duckdb"))
    print("ready", flush=True)
    sys.stdin.readline()  # the readers are running
    for run, day, n in plan:
        as_of = date.fromisoformat(day)
        ctx = run_context(as_of, run_id=run)
        tiers = {f"g{i:04d}": "ABCP"[(i + n) % 4] for i in range(n)}
        stage_upstream(con, tiers, ctx.snapshot_id, as_of)
        publish(con, serving, serving / "stratum_serving.duckdb", ctx)
    print("done", flush=True)
    """
)


def _plan(plan: list) -> str:
    return json.dumps([(run, day.isoformat(), n) for run, day, n in plan])


@pytest.fixture(scope="module")
def published_while_read(tmp_path_factory):
    root = tmp_path_factory.mktemp("concurrency")
    serving = root / "serving"
    proc = subprocess.Popen(
        [sys.executable, "-c", PUBLISHER, str(root), _plan(PLAN[:1])],
        cwd=REPO_ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert proc.stdout.readline().strip() == "ready"
    proc.communicate("go\n", timeout=300)  # a first snapshot, so readers have something
    readers = {
        "serving": lambda seen: _read_serving(serving / "stratum_serving.duckdb", seen),
        "glob": lambda seen: _read_glob(serving / "snapshots", seen),
        "files": lambda seen: _read_files(serving / "snapshots", seen),
    }
    seen = {name: Seen() for name in readers}
    done = threading.Event()
    threads = [
        threading.Thread(target=_reader, args=(read, done, seen[name]), daemon=True)
        for name, read in readers.items()
    ]
    proc = subprocess.Popen(
        [sys.executable, "-c", PUBLISHER, str(root), _plan(PLAN[1:])],
        cwd=REPO_ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert proc.stdout.readline().strip() == "ready"
    for thread in threads:
        thread.start()
    out, _ = proc.communicate("go\n", timeout=600)
    done.set()
    for thread in threads:
        thread.join(timeout=60)
    assert proc.returncode == 0 and out.strip() == "done"
    return seen


def test_readers_never_fail_and_never_see_a_partial_or_mixed_snapshot(published_while_read):
    for name, seen in published_while_read.items():
        assert seen.errors == [], name
        assert seen.wrong == [], name
        assert seen.reads > 0, name


def test_readers_saw_publishing_happen(published_while_read):
    # The readers overlapped the publishing: they saw more than one state go by.
    assert len(published_while_read["serving"].states) >= 2
    assert len(published_while_read["glob"].states) >= 2
