"""The dbt assets load into Dagster with the agreed keys and dependencies."""

from __future__ import annotations

from dagster import AssetKey, Definitions
from dagster_dbt import get_asset_key_for_model


def test_dbt_asset_keys_and_source_deps(dbt_manifest):
    from pipelines.resources import Warehouse
    from pipelines.run_context import RunContextResource
    from pipelines.transform.assets import dbt_models, dbt_resource

    keys = set(dbt_models.keys)
    for model in ("customer_360", "group_360", "orders", "activities", "leads"):
        assert AssetKey(model) in keys
    assert AssetKey("account_attributes_snapshot") in keys
    assert get_asset_key_for_model([dbt_models], "customer_360") == AssetKey("customer_360")
    deps = {dep for deps in dbt_models.asset_deps.values() for dep in deps}
    for entity in ("crm_accounts", "crm_contacts", "orders", "risk", "surveys"):
        assert AssetKey(["raw", entity]) in deps
    assert dbt_models.group_names_by_key[AssetKey("customer_360")] == "transform"

    defs = Definitions(
        assets=[dbt_models],
        resources={"dbt": dbt_resource(), "warehouse": Warehouse(), "run": RunContextResource()},
    )
    assert defs.resolve_asset_graph().has(AssetKey("group_360"))
