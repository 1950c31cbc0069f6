"""The customer_tier asset against a temp DuckDB, materialised on two as-of dates."""

from __future__ import annotations

import pandas as pd
import yaml
from dagster import AssetKey, materialize

from pipelines.resources import Warehouse
from pipelines.run_context import RunContextResource
from pipelines.tiering.assets import customer_tier, tier_kpis, tiering_assets
from tests.tiering.tier_fixtures import (
    make_scores,
    policy_data,
    publish_tier_table,
    query,
    write_tables,
)


def test_asset_definition():
    assert customer_tier.key == AssetKey(["tiers", "customer_tier"])
    assert AssetKey(["scores", "account_scores"]) in customer_tier.dependency_keys
    assert customer_tier.group_names_by_key[customer_tier.key] == "tiering"
    assert tiering_assets == [customer_tier, tier_kpis]


def test_materialize_twice(tmp_path, monkeypatch):
    policy_file = tmp_path / "policy.yaml"
    data = policy_data(version="asset-test")
    data["hysteresis"].update(min_dwell_days=0, downgrade_grace_days=0)
    policy_file.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    monkeypatch.setenv("STRATUM_DATA_DIR", str(tmp_path / "data"))
    serving = tmp_path / "data" / "serving"
    db = tmp_path / "wh.duckdb"
    rows = [{"abc_class": "A", "p_alive": 0.9}, {"abc_class": "B"}, {}, {"has_paid_order": False}]
    write_tables(db, {"scores.account_scores": make_scores(rows)})
    # The policy is chosen by the run (run config), not by the environment.
    resources = {
        "warehouse": Warehouse(path=str(db)),
        "run": RunContextResource(tier_policy=str(policy_file)),
    }

    first = materialize([customer_tier], resources=resources, partition_key="2025-06-01")
    assert first.success
    mats = first.asset_materializations_for_node("tiers__customer_tier")
    meta = mats[0].metadata
    assert meta["policy_version"].value.startswith("asset-test+")
    assert meta["new"].value == 4
    assert "| A |" in meta["tier_summary"].value
    checks = first.get_asset_check_evaluations()
    assert checks and all(c.passed for c in checks)

    tiers = query(db, "select * from tiers.customer_tier order by golden_account_id")
    assert tiers["tier"].tolist() == ["A", "B", "C", "P"]
    snapshot_1 = tiers["snapshot_id"].iloc[0]
    assert snapshot_1.startswith("20250601-") and tiers["snapshot_id"].nunique() == 1
    assert {"reason_en", "reason_zh", "in_control_group", "clv_12m", "rules_version"} <= set(
        tiers.columns
    )
    assert str(tiers["tier_since"].dtype).startswith("datetime64")
    publish_tier_table(db, serving, first.run_id)

    # Day two: G001 loses A (grace 0 -> demoted now), G005 appears.
    rows2 = [
        {"abc_class": "A", "p_alive": 0.1},
        {"abc_class": "B"},
        {},
        {"has_paid_order": False},
        {"abc_class": "B"},
    ]
    write_tables(db, {"scores.account_scores": make_scores(rows2)})
    second = materialize([customer_tier], resources=resources, partition_key="2025-06-08")
    assert second.success
    meta2 = second.asset_materializations_for_node("tiers__customer_tier")[0].metadata
    assert (meta2["demotion"].value, meta2["new"].value, meta2["promotion"].value) == (1, 1, 0)

    ledger = query(db, "select * from tiers.tier_ledger order by effective_date, golden_account_id")
    assert len(ledger) == 6  # 4 new + 1 demotion + 1 new
    last = ledger[ledger["effective_date"] == pd.Timestamp("2025-06-08")]
    assert last[["golden_account_id", "change_type"]].values.tolist() == [
        ["G001", "demotion"],
        ["G005", "new"],
    ]
    assert last["snapshot_id"].str.startswith("20250608-").all()

    notices = query(db, "select * from tiers.downgrade_notices")
    assert notices["golden_account_id"].tolist() == ["G001"]
    assert "needs ≥ 0.50" in notices["regain_en"].iloc[0]

    tiers2 = query(db, "select * from tiers.customer_tier order by golden_account_id")
    assert tiers2["tier"].tolist() == ["C", "B", "C", "P", "B"]
    assert tiers2.loc[1, "tier_since"] == pd.Timestamp("2025-06-01")  # unchanged: kept
    assert tiers2.loc[0, "tier_since"] == pd.Timestamp("2025-06-08")  # demoted today
    assert tiers2["snapshot_id"].str.startswith("20250608-").all()

    matrix = query(db, "select * from tiers.migration_matrix")
    assert set(matrix["as_of_date"].dt.date.astype(str)) == {"2025-06-01", "2025-06-08"}
    assert matrix["accounts"].sum() == 9

    # A rerun of 2025-06-08 (e.g. after a killed run, or to pick up a late file) compares with
    # the published 2025-06-01 snapshot again, not with its own unpublished first attempt:
    # the same changes, recorded under the rerun's snapshot.
    third = materialize([customer_tier], resources=resources, partition_key="2025-06-08")
    meta3 = third.asset_materializations_for_node("tiers__customer_tier")[0].metadata
    assert (meta3["demotion"].value, meta3["new"].value) == (1, 1)
    assert meta3["previous_snapshot_id"].value == snapshot_1
    ledger = query(db, "select snapshot_id, count(*) as n from tiers.tier_ledger group by 1")
    assert sorted(ledger["n"]) == [2, 2, 4]


def test_definitions_load_with_tiering_assets():
    from dagster import Definitions

    defs = Definitions(
        assets=tiering_assets, resources={"warehouse": Warehouse(), "run": RunContextResource()}
    )
    Definitions.validate_loadable(defs)
    graph = defs.resolve_asset_graph()
    assert AssetKey(["tiers", "customer_tier"]) in graph.get_all_asset_keys()
