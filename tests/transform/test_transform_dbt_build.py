"""The dbt project end to end on the hand-written scenario (one `dbt build` per session).

dbt's own unit tests (name normalisation, E.164, latest version, identity rules, cycles,
activity_tag) and data tests run inside that build; these tests check the built tables.
"""

from __future__ import annotations

import json
from datetime import date

import pytest
from dagster import AssetKey

from pipelines.contracts import model_columns
from tests.conftest import dbt_log_events
from tests.transform.scenario import BAD_USCC, U_HAINA_1, U_HAINA_2, U_YUNQI

CUSTOMER_360_COLUMNS = [c.name for c in model_columns("customer_360")]


@pytest.fixture(scope="module")
def c360(scenario_warehouse) -> dict[str, dict]:
    rows = scenario_warehouse.rows("select * from marts.customer_360")
    return {row["golden_account_id"]: row for row in rows}


def test_build_succeeds_with_all_dbt_tests(scenario_warehouse):
    result = scenario_warehouse.result
    assert result.success
    materialized = {e.asset_key for e in result.get_asset_materialization_events()}
    assert {AssetKey("customer_360"), AssetKey("group_360"), AssetKey("orders")} <= materialized
    # the SCD2 snapshot is built in the same invocation
    assert AssetKey("account_attributes_snapshot") in materialized
    checks = result.get_asset_check_evaluations()
    assert checks and all(c.passed for c in checks)


def test_the_scenario_build_runs_every_dbt_unit_test(scenario_warehouse, dbt_manifest):
    # Daily runs leave them out (pipelines.settings.dbt_unit_tests_in_runs); make test runs
    # them here, so each must have run and passed in this build's invocations.
    manifest = json.loads(dbt_manifest.read_text())
    declared = set(manifest["unit_tests"])
    finished = {
        event["data"]["node_info"]["unique_id"]: event["data"]["run_result"]["status"]
        for event in dbt_log_events(scenario_warehouse.result.run_id)
        if event["info"]["name"] == "NodeFinished"
        and event["data"]["node_info"]["resource_type"] == "unit_test"
    }
    assert len(declared) >= 15
    assert finished == dict.fromkeys(declared, "pass")


def test_customer_360_has_the_interface_columns(scenario_warehouse):
    # The contract (written once, in _marts__models.yml) is what dbt built, in order.
    names = [r[0] for r in scenario_warehouse.query("describe marts.customer_360")]
    assert names == CUSTOMER_360_COLUMNS
    assert {"golden_account_id", "net_revenue_365d", "activity_tag"} <= set(names)


def test_same_uscc_and_name_city_merge_into_one_golden_account(scenario_warehouse, c360):
    mapping = dict(
        scenario_warehouse.query(
            "select account_id, golden_account_id from intermediate.int_account_identity_map"
        )
    )
    assert mapping["A1"] == mapping["A2"] == mapping["A3"] == "G-A1"
    assert c360["G-A1"]["source_record_count"] == 3
    assert c360["G-A1"]["uscc"] == U_YUNQI
    # R1's parent is Q2, a duplicate of Q1: the link lands on the golden account G-Q1
    assert mapping["Q2"] == "G-Q1"
    assert c360["G-R1"]["parent_golden_account_id"] == "G-Q1"


def test_different_usccs_never_merge(c360):
    assert c360["G-H1"]["uscc"] == U_HAINA_1
    assert c360["G-H2"]["uscc"] == U_HAINA_2
    # H3 has no USCC and its name matches both: ambiguous, so it stays on its own
    assert c360["G-H3"]["source_record_count"] == 1
    assert c360["G-H1"]["source_record_count"] == c360["G-H2"]["source_record_count"] == 1


def test_invalid_uscc_is_dropped(c360):
    assert c360["G-D1"]["uscc"] is None
    assert BAD_USCC not in {row["uscc"] for row in c360.values()}


def test_deleted_records_are_gone(scenario_warehouse, c360):
    assert "G-E1" not in c360
    order_ids = {r[0] for r in scenario_warehouse.query("select order_id from marts.orders")}
    assert "O7" not in order_ids  # order of the deleted account cannot be attributed
    contact_ids = {
        r[0] for r in scenario_warehouse.query("select contact_id from staging.stg_crm__contacts")
    }
    assert contact_ids == {"C1", "C2"}
    assert c360["G-A1"]["contacts_total"] == 2
    assert c360["G-A1"]["contacts_opted_out"] == 1


def test_consent_counts_and_last_opt_out_date(c360):
    """C1 can be contacted, C2 opted out (2023-01-01); the unsubscribe of 2024-06-28 is later."""
    assert c360["G-A1"]["contacts_reachable"] == 1
    assert str(c360["G-A1"]["last_opt_out_date"]) == "2024-06-28"
    assert c360["G-H1"]["contacts_reachable"] == 0 and c360["G-H1"]["last_opt_out_date"] is None


def test_latest_version_wins(scenario_warehouse, c360):
    assert c360["G-F1"]["owner_team"] == "East-3"  # same updated_at, later load
    assert c360["G-F1"]["employee_count"] == 5000
    assert c360["G-F1"]["size_band"] == "large"
    assert c360["G-F1"]["industry"] == "logistics"
    (net,) = scenario_warehouse.query(
        "select net_amount_cny from marts.orders where order_id = 'O6'"
    )[0]
    assert net == 0  # the later version of O6 is fully refunded


def test_order_windows_net_revenue_and_late_orders(c360):
    yunqi = c360["G-A1"]
    # O1 1000 (June), O2 500-100 (May), O4 200 (April, arrived late); O3 cancelled; O5 future
    assert yunqi["orders_30d"] == 1
    assert yunqi["orders_90d"] == 3
    assert yunqi["orders_lifetime"] == 3
    assert yunqi["cancelled_orders_lifetime"] == 1
    assert float(yunqi["net_revenue_90d"]) == pytest.approx(1600)
    assert float(yunqi["net_revenue_lifetime"]) == pytest.approx(1600)
    assert float(yunqi["gross_revenue_lifetime"]) == pytest.approx(1700)
    assert yunqi["refund_rate"] == pytest.approx(100 / 1700)
    assert str(yunqi["last_order_date"]) == "2024-06-01"
    assert yunqi["days_since_last_order"] == 29


def test_engagement_risk_and_nps(c360):
    yunqi = c360["G-A1"]
    assert yunqi["activities_90d"] == 2  # web visit + meeting; deleted email_open, unsubscribe out
    assert yunqi["meeting_90d"] == 1
    assert yunqi["unsubscribes_365d"] == 1
    assert yunqi["credit_rating"] == "BB"  # latest on or before as_of, not the future one
    assert str(yunqi["risk_as_of_date"]) == "2024-06-01"
    assert yunqi["nps_latest"] == 7
    assert yunqi["nps_avg_365d"] == pytest.approx(8.0)
    assert yunqi["leads_total"] == 2 and yunqi["leads_open"] == 1


def test_activity_tags(c360):
    expected = {
        "G-A1": "active",
        "G-F1": "declining",
        "G-S1": "silent",
        "G-D1": "dormant",
        "G-V1": "never_active",
        "G-N1": "new",
    }
    assert {k: c360[k]["activity_tag"] for k in expected} == expected
    assert "activity:declining" in c360["G-F1"]["dynamic_tags"].split(",")
    assert c360["G-A1"]["static_tags"] == "industry:saas,size:medium,region:华东"


def test_tree_depth_roots_and_cycles(scenario_warehouse, c360):
    assert (c360["G-P1"]["group_depth"], c360["G-P1"]["root_golden_account_id"]) == (0, "G-P1")
    assert (c360["G-Q1"]["group_depth"], c360["G-Q1"]["root_golden_account_id"]) == (1, "G-P1")
    assert (c360["G-R1"]["group_depth"], c360["G-R1"]["root_golden_account_id"]) == (2, "G-P1")
    cycles = scenario_warehouse.rows(
        "select * from intermediate.int_account_hierarchy_cycles order by golden_account_id"
    )
    assert [(c["golden_account_id"], c["is_cycle_break"]) for c in cycles] == [
        ("G-X1", True),
        ("G-Y1", False),
    ]
    assert {c["cycle_id"] for c in cycles} == {"G-X1"}
    for account in ("G-X1", "G-Y1", "G-Z1"):
        assert c360[account]["root_golden_account_id"] == "G-X1"
    assert c360["G-Z1"]["group_depth"] == 1


def test_group_360_rolls_up_descendants(scenario_warehouse):
    groups = {
        g["root_golden_account_id"]: g
        for g in scenario_warehouse.rows("select * from marts.group_360")
    }
    huayuan = groups["G-P1"]
    assert huayuan["member_count"] == 3
    assert huayuan["max_group_depth"] == 2
    assert float(huayuan["net_revenue_365d"]) == pytest.approx(3000)  # Q1 2000 + R1 1000
    assert huayuan["worst_credit_rating"] == "CCC"  # P1 AAA, Q1 CCC
    assert huayuan["any_abnormal_operation"] is True
    assert groups["G-X1"]["has_broken_cycle"] is True
    assert "G-Q1" not in groups  # not a root
    # every account is in exactly one group
    total = scenario_warehouse.query("select count(*) from marts.customer_360")[0][0]
    assert sum(g["member_count"] for g in groups.values()) == total


def test_snapshot_records_current_versions(scenario_warehouse):
    rows = scenario_warehouse.rows(
        "select golden_account_id, industry, dbt_valid_to from snapshots.account_attributes_snapshot"
    )
    by_id = {r["golden_account_id"]: r for r in rows}
    assert by_id["G-F1"]["industry"] == "logistics"
    assert all(r["dbt_valid_to"] is None for r in rows)
    assert len(by_id) == len(rows)


def test_profile_summary_metadata(scenario_warehouse):
    observations = [
        e.event_specific_data.asset_observation
        for e in scenario_warehouse.result.all_events
        if e.event_type_value == "ASSET_OBSERVATION"
    ]
    c360_obs = [o for o in observations if o.asset_key == AssetKey("customer_360")]
    assert c360_obs
    metadata = c360_obs[0].metadata
    count = scenario_warehouse.query("select count(*) from marts.customer_360")[0][0]
    assert metadata["dagster/row_count"].value == count
    assert metadata["golden_accounts"].value == count
    assert metadata["source_records"].value == count + 3  # A2, A3 and Q2 merged


def test_docs_generate(scenario_warehouse, tmp_path):
    from pipelines.run_context import dbt_vars_for
    from tests.conftest import dbt_cli

    target = tmp_path / "docs_target"
    dbt_cli(
        "docs",
        "generate",
        "--target-path",
        str(target),
        "--log-path",
        str(tmp_path / "logs"),
        "--vars",
        json.dumps(dbt_vars_for(date(2024, 6, 30))),
        env={"STRATUM_WAREHOUSE": str(scenario_warehouse.path)},
    )
    catalog = json.loads((target / "catalog.json").read_text())
    nodes = {node["metadata"]["name"] for node in catalog["nodes"].values()}
    assert {"customer_360", "group_360", "int_account_identity_map", "account_features"} <= nodes
