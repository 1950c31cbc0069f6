"""The code location loads: every asset, check, job, schedule and sensor resolves."""

from __future__ import annotations

from dagster import AssetKey, Definitions


def test_definitions_load(dbt_manifest):
    from pipelines.definitions import defs

    Definitions.validate_loadable(defs)
    repo = defs.get_repository_def()
    keys = set(repo.asset_graph.get_all_asset_keys())
    for entity in (
        "crm_accounts",
        "crm_contacts",
        "crm_leads",
        "crm_activities",
        "orders",
        "risk",
        "surveys",
    ):
        assert AssetKey(["raw", entity]) in keys
    for key in (
        ["customer_360"],
        ["group_360"],
        ["scores", "account_scores"],
        ["tiers", "customer_tier"],
        ["publish", "tier_snapshot"],
    ):
        assert AssetKey(key) in keys
    assert repo.has_job("stratum_daily")
    assert [s.name for s in repo.schedule_defs] == ["stratum_daily_schedule"]
    assert sorted(s.name for s in repo.sensor_defs) == ["landing_sensor", "stratum_run_alerts"]


def test_everything_downstream_of_ingest_is_gated_by_blocking_checks(dbt_manifest):
    from pipelines.definitions import defs

    graph = defs.get_repository_def().asset_graph
    blocking = {
        spec.asset_key
        for checks in graph.asset_check_keys
        for spec in [graph.get_check_spec(checks)]
        if spec.blocking
    }
    assert AssetKey(["customer_360"]) in blocking
    assert AssetKey(["raw", "orders"]) in blocking
    assert AssetKey(["raw", "crm_accounts"]) in blocking


def test_warehouse_writers_never_run_in_parallel(dbt_manifest):
    from pipelines.definitions import defs

    job = defs.resolve_job_def("stratum_daily")
    assert job.executor_def.name == "in_process"
