"""The dbt assets load into Dagster with the agreed keys and dependencies."""

from __future__ import annotations

from dagster import AssetKey, Definitions
from dagster_dbt import get_asset_key_for_model


def test_dbt_asset_keys_and_source_deps(dbt_manifest):
    from pipelines.identity.assets import account_matches
    from pipelines.resources import Warehouse
    from pipelines.run_context import RunContextResource
    from pipelines.transform.assets import dbt_models, dbt_resource, dbt_staging_models

    keys = set(dbt_models.keys)
    for model in ("customer_360", "group_360", "orders", "activities", "leads"):
        assert AssetKey(model) in keys
    assert AssetKey("account_attributes_snapshot") in keys
    assert get_asset_key_for_model([dbt_models], "customer_360") == AssetKey("customer_360")
    deps = {dep for d in dbt_staging_models.asset_deps.values() for dep in d}
    for entity in ("crm_accounts", "crm_contacts", "orders", "risk", "surveys"):
        assert AssetKey(["raw", entity]) in deps
    later = {dep for d in dbt_models.asset_deps.values() for dep in d}
    assert AssetKey(["identity", "account_matches"]) in later
    assert dbt_models.group_names_by_key[AssetKey("customer_360")] == "transform"

    defs = Definitions(
        assets=[dbt_staging_models, account_matches, dbt_models],
        resources={"dbt": dbt_resource(), "warehouse": Warehouse(), "run": RunContextResource()},
    )
    graph = defs.resolve_asset_graph()
    assert graph.has(AssetKey("group_360"))


def test_matching_runs_between_staging_and_the_identity_models(dbt_manifest):
    from dagster import Definitions

    from pipelines.identity.assets import ACCOUNT_MATCHES_KEY, account_matches
    from pipelines.resources import Warehouse
    from pipelines.run_context import RunContextResource
    from pipelines.transform.assets import dbt_models, dbt_resource, dbt_staging_models

    staging = set(dbt_staging_models.keys)
    assert {AssetKey("stg_crm__accounts"), AssetKey("china_regions")} <= staging
    assert not staging & set(dbt_models.keys)
    assert AssetKey("int_account_identity_map") in dbt_models.keys
    graph = Definitions(
        assets=[dbt_staging_models, account_matches, dbt_models],
        resources={"dbt": dbt_resource(), "warehouse": Warehouse(), "run": RunContextResource()},
    ).resolve_asset_graph()
    assert AssetKey("stg_crm__accounts") in graph.get(ACCOUNT_MATCHES_KEY).parent_keys
    assert ACCOUNT_MATCHES_KEY in graph.get(AssetKey("int_account_identity_map")).parent_keys
