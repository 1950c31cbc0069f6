"""The Dagster UI an analyst audits: the code location loads, and runs, checks and metadata of the
integration session are there (served by dagster-webserver from the session's instance)."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT

pytestmark = pytest.mark.integration


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _graphql(port: int, query: str) -> dict:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/graphql",
        data=json.dumps({"query": query}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        payload = json.loads(response.read())
    assert "errors" not in payload, payload
    return payload["data"]


@pytest.fixture(scope="module")
def webserver(world, first_run, instance):
    port = _free_port()
    env = {
        **os.environ,
        **world.env(),
        "DAGSTER_HOME": str(Path(instance.root_directory)),
    }
    webserver_bin = Path(sys.executable).parent / "dagster-webserver"
    proc = subprocess.Popen(
        [str(webserver_bin), "-w", "workspace.yaml", "-h", "127.0.0.1", "-p", str(port)],
        cwd=REPO_ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        deadline = time.time() + 120
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/server_info", timeout=2)
                break
            except OSError:
                if time.time() > deadline or proc.poll() is not None:
                    raise AssertionError("dagster-webserver did not start") from None
                time.sleep(1)
        yield port
    finally:
        # The webserver ignores SIGINT when backgrounded: end its whole session group.
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)


def test_code_location_loads_without_errors(webserver):
    data = _graphql(
        webserver,
        "{ workspaceOrError { ... on Workspace { locationEntries { name "
        "locationOrLoadError { __typename ... on PythonError { message } } } } } }",
    )
    (entry,) = data["workspaceOrError"]["locationEntries"]
    assert entry["name"] == "stratum"
    assert entry["locationOrLoadError"]["__typename"] == "RepositoryLocation", entry


def test_run_history_checks_and_metadata_are_auditable(webserver, first_run):
    runs = _graphql(
        webserver,
        "{ runsOrError { ... on Runs { results { runId status jobName } } } }",
    )["runsOrError"]["results"]
    assert first_run["result"].run_id in {r["runId"] for r in runs}
    assert {r["jobName"] for r in runs} == {"stratum_daily"}

    nodes = _graphql(
        webserver,
        '{ assetNodes(assetKeys: [{path: ["tiers", "customer_tier"]}, {path: ["customer_360"]}]) '
        "{ assetKey { path } assetMaterializations(limit: 1) { runId metadataEntries { label } } "
        "assetChecksOrError { ... on AssetChecks { checks { name blocking "
        "executionForLatestMaterialization { status } } } } } }",
    )["assetNodes"]
    by_key = {"/".join(n["assetKey"]["path"]): n for n in nodes}
    tier_labels = {
        m["label"]
        for m in by_key["tiers/customer_tier"]["assetMaterializations"][0]["metadataEntries"]
    }
    assert {"tier_summary", "migration_matrix", "policy_version"} <= tier_labels
    checks = {c["name"]: c for c in by_key["customer_360"]["assetChecksOrError"]["checks"]}
    assert checks["gx_customer_360"]["blocking"]
    executions = _graphql(
        webserver,
        '{ assetCheckExecutions(assetKey: {path: ["customer_360"]}, checkName: "gx_customer_360", '
        "limit: 50) { runId status } }",
    )["assetCheckExecutions"]
    by_run = {e["runId"]: e["status"] for e in executions}
    assert by_run[first_run["result"].run_id] == "SUCCEEDED"
