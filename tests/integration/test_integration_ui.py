"""The Dagster UI an analyst audits: the code location loads, and runs, checks and metadata of the
integration session are there (served by dagster-webserver from the session's instance)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.conftest import dagster_webserver, graphql

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def webserver(world, first_run, instance):
    env = {**os.environ, **world.env(), "DAGSTER_HOME": str(Path(instance.root_directory))}
    with dagster_webserver(env) as port:
        yield port


def test_code_location_loads_without_errors(webserver):
    data = graphql(
        webserver,
        "{ workspaceOrError { ... on Workspace { locationEntries { name "
        "locationOrLoadError { __typename ... on PythonError { message } } } } } }",
    )
    (entry,) = data["workspaceOrError"]["locationEntries"]
    assert entry["name"] == "stratum"
    assert entry["locationOrLoadError"]["__typename"] == "RepositoryLocation", entry


def test_run_history_checks_and_metadata_are_auditable(webserver, first_run):
    runs = graphql(
        webserver,
        "{ runsOrError { ... on Runs { results { runId status jobName } } } }",
    )["runsOrError"]["results"]
    assert first_run["result"].run_id in {r["runId"] for r in runs}
    assert {r["jobName"] for r in runs} == {"stratum_daily"}

    nodes = graphql(
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
    executions = graphql(
        webserver,
        '{ assetCheckExecutions(assetKey: {path: ["customer_360"]}, checkName: "gx_customer_360", '
        "limit: 50) { runId status } }",
    )["assetCheckExecutions"]
    by_run = {e["runId"]: e["status"] for e in executions}
    assert by_run[first_run["result"].run_id] == "SUCCEEDED"
