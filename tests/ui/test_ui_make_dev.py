"""`make dev` serves the launcher's runs (UI, daemon, code location), and stops by PID.

Started in the background the way a script would, with SIGINT restored: a background job of a
non-interactive shell inherits SIGINT as *ignored*, and dagster dev maps SIGTERM onto its
SIGINT handler, so such a dagster dev ignores both and outlives the script.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time

import pytest

from tests.conftest import REPO_ROOT, free_port, graphql, wait_for_ui
from tests.ui.conftest import History

pytestmark = pytest.mark.integration


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


def test_make_dev_serves_the_runs_and_stops_on_sigint(history: History) -> None:
    port = free_port()
    proc = subprocess.Popen(
        ["make", "--no-print-directory", "dev", f"DEV_PORT={port}"],
        cwd=REPO_ROOT, env=history.env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        start_new_session=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )  # fmt: skip
    try:
        wait_for_ui(port, proc, timeout_s=180)
        runs = graphql(
            port, "{ runsOrError { ... on Runs { results { runId status tags { key value } } } } }"
        )["runsOrError"]["results"]
        served = {r["runId"]: r for r in runs}
        assert set(served) == {
            *history.backfill_runs, history.success_run, history.blocked_run
        }  # fmt: skip
        tags = {t["key"]: t["value"] for t in served[history.success_run]["tags"]}
        assert tags["dagster/code_location"] == "stratum"
        assert served[history.blocked_run]["status"] == "FAILURE"
        # The daemon is part of it: the schedule, the sensors and the freshness policy run.
        health = graphql(
            port,
            "{ instance { daemonHealth { allDaemonStatuses { daemonType required healthy } } } }",
        )["instance"]["daemonHealth"]["allDaemonStatuses"]
        required = {d["daemonType"] for d in health if d["required"]}
        assert {"SENSOR", "SCHEDULER", "FRESHNESS_DAEMON"} <= required
    finally:
        os.killpg(proc.pid, signal.SIGINT)  # Ctrl-C, by process group id
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            proc.poll()  # reap make, or its zombie keeps the group "alive"
            if not _group_alive(proc.pid):
                break
            time.sleep(1)
        stopped = not _group_alive(proc.pid)
        if not stopped:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    assert stopped, "dagster dev did not stop on SIGINT"
