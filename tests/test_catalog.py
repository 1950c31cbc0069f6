"""The catalog: owners and tags from config/pipeline.yaml on every asset, where each table
lives and its columns, code versions, the published snapshot's freshness policy, links to the
dbt docs and Data Docs, and every dbt test mapped to a check of a defined asset."""

from __future__ import annotations

import shutil
from datetime import timedelta

import pytest
from dagster import AssetKey
from dagster_dbt.asset_utils import get_asset_check_key_for_test

from pipelines.catalog import PUBLISHED_KEY, stage_code_versions
from pipelines.config.loader import load_model
from pipelines.config.pipeline import PipelineConfig
from pipelines.publish.contract import CUSTOMER_TIER_COLUMNS
from tests.config_files import CONFIG_DIR

CONFIG = load_model(PipelineConfig, CONFIG_DIR / "pipeline.yaml").model


@pytest.fixture(scope="module")
def graph(dbt_manifest):
    from pipelines.definitions import defs

    return defs.get_repository_def().asset_graph


def test_every_asset_carries_its_groups_owners_and_tags(graph) -> None:
    keys = list(graph.get_all_asset_keys())
    assert len(keys) > 40
    for key in keys:
        node = graph.get(key)
        entry = CONFIG.catalog.groups[node.group_name]
        assert set(entry.owners) <= set(node.owners), key
        assert entry.tags.items() <= node.tags.items(), key
        assert node.code_version, key
    assert graph.get(AssetKey(["tiers", "customer_tier"])).owners == ["team:sales-operations"]
    assert graph.get(AssetKey(["customer_360"])).tags["layer"] == "profile"


def test_python_assets_say_where_their_table_lives_and_what_it_holds(graph) -> None:
    orders = graph.get(AssetKey(["raw", "orders"])).metadata
    assert orders["dagster/table_name"] == "stratum.raw.orders"
    columns = [c.name for c in orders["dagster/column_schema"].columns]
    assert columns[:2] == ["order_id", "account_id"] and columns[-1] == "_run_id"
    assert graph.get(AssetKey(["scores", "rfm"])).metadata["dagster/table_name"] == (
        "stratum.scores.rfm"
    )
    published = graph.get(PUBLISHED_KEY).metadata
    assert published["dagster/table_name"] == "stratum_serving.main.customer_tier_current"
    schema = published["dagster/column_schema"]
    assert [(c.name, c.type, c.description) for c in schema.columns] == [
        (n, t.lower(), d) for n, t, d in CUSTOMER_TIER_COLUMNS
    ]


def test_the_published_snapshot_has_the_configured_freshness_policy(graph) -> None:
    policy = graph.get(PUBLISHED_KEY).freshness_policy
    hours = CONFIG.freshness.published_snapshot_max_lag_hours
    assert policy.fail_window.to_timedelta() == timedelta(hours=hours)
    assert policy.warn_window.to_timedelta() == timedelta(hours=hours * 0.8)
    assert graph.get(AssetKey(["scores", "rfm"])).freshness_policy is None


def test_assets_link_to_the_dbt_docs_and_the_data_docs(graph) -> None:
    c360 = graph.get(AssetKey(["customer_360"])).metadata
    assert c360["dbt_docs"].url == "http://localhost:8080/#!/model/model.stratum.customer_360"
    assert c360["data_docs"].url == "http://localhost:8081/index.html"
    seed = graph.get(AssetKey(["industry_map"])).metadata
    assert seed["dbt_docs"].url == "http://localhost:8080/#!/seed/seed.stratum.industry_map"
    assert "data_docs" not in seed
    assert (
        graph.get(AssetKey(["raw", "crm_contacts"]))
        .metadata["data_docs"]
        .url.endswith("/index.html")
    )


def test_code_versions_change_with_the_code_or_the_rules(tmp_path) -> None:
    config = tmp_path / "config"
    shutil.copytree(CONFIG_DIR, config)
    before = stage_code_versions(config)
    assert before == stage_code_versions(config)  # deterministic
    rfm = config / "scoring" / "rfm.yaml"
    rfm.write_text(rfm.read_text(encoding="utf-8") + "\n# reviewed\n", encoding="utf-8")
    after = stage_code_versions(config)
    assert after["scoring"] != before["scoring"]
    assert {k: v for k, v in after.items() if k != "scoring"} == {
        k: v for k, v in before.items() if k != "scoring"
    }


def test_every_dbt_test_is_a_check_of_an_asset_in_the_graph(graph, dbt_manifest) -> None:
    """A dbt test Dagster cannot attach becomes an observation of a key outside the graph (an
    orphan asset in the catalog): e.g. a singular test reading two models needs meta.dagster.ref."""
    import json

    from pipelines.transform.assets import StratumDbtTranslator
    from pipelines.transform.project import stratum_dbt_project

    manifest = json.loads(dbt_manifest.read_text())
    translator = StratumDbtTranslator()
    tests = [uid for uid in manifest["nodes"] if uid.startswith("test.")]
    assert len(tests) > 50
    keys = set(graph.get_all_asset_keys())
    for uid in tests:
        check = get_asset_check_key_for_test(manifest, translator, uid, stratum_dbt_project)
        assert check is not None, uid
        assert check.asset_key in keys and check in graph.asset_check_keys, uid
