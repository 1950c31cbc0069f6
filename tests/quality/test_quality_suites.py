"""Suites load without GX silently dropping anything, and the policy matches them."""

from __future__ import annotations

import json
from pathlib import Path

import great_expectations as gx
import pytest

from pipelines.config import ConfigError, load_stratum_config
from pipelines.config.loader import load_model
from pipelines.quality.config import QualityConfig, cross_check
from pipelines.quality.gx_runner import (
    expectation_key,
    load_suite,
    suite_columns,
    suite_names,
)
from pipelines.settings import ENTITIES, EXPECTATIONS_DIR

# Exact expectation counts: GX drops invalid expectations without a word, so a typo in a
# type or kwarg shows up here as a smaller number.
EXPECTED_COUNTS = {
    "crm_accounts": 12,
    "crm_contacts": 9,
    "crm_leads": 11,
    "crm_activities": 9,
    "orders": 14,
    "risk": 9,
    "surveys": 9,
    "customer_360": 26,
}


def test_one_suite_per_entity_and_customer_360() -> None:
    assert set(suite_names()) == set(ENTITIES) | {"customer_360"}


@pytest.mark.parametrize("name", sorted(EXPECTED_COUNTS))
def test_suite_loads_with_exact_count(name: str) -> None:
    doc = json.loads((EXPECTATIONS_DIR / f"{name}.json").read_text(encoding="utf-8"))
    suite = gx.ExpectationSuite(**doc)
    assert suite.name == name
    assert len(doc["expectations"]) == EXPECTED_COUNTS[name]
    assert len(suite.expectations) == EXPECTED_COUNTS[name]
    keys = [
        expectation_key(e.configuration.type, dict(e.configuration.kwargs))
        for e in suite.expectations
    ]
    # Severity overrides are keyed by type:column, so each key must be unambiguous.
    assert len(keys) == len(set(keys))


def test_load_suite_rejects_a_suite_gx_would_shrink(tmp_path: Path, monkeypatch) -> None:
    doc = {
        "name": "broken",
        "expectations": [
            {"type": "expect_column_values_to_not_be_null", "kwargs": {"column": "a"}},
            {"type": "expect_column_values_to_be_nonsense", "kwargs": {"column": "a"}},
        ],
    }
    (tmp_path / "broken.json").write_text(json.dumps(doc), encoding="utf-8")
    monkeypatch.setattr("pipelines.quality.gx_runner.EXPECTATIONS_DIR", tmp_path)
    with pytest.raises(ValueError, match="kept 1 of 2"):
        load_suite("broken")


def test_raw_suites_check_contract_and_freshness() -> None:
    for entity in ENTITIES:
        suite = load_suite(entity)
        types = [e.configuration.type for e in suite.expectations]
        assert "expect_table_columns_to_match_set" in types
        assert "expect_column_max_to_be_between" in types, entity
        fresh = next(
            e
            for e in suite.expectations
            if e.configuration.type == "expect_column_max_to_be_between"
        )
        assert fresh.configuration.kwargs["min_value"] == {"$PARAMETER": "freshness_floor"}
        assert "_run_id" in suite_columns(entity)


def test_policy_overrides_match_suites() -> None:
    config = load_stratum_config().quality.model
    assert cross_check(config, EXPECTATIONS_DIR) == []
    assert set(config.suites) <= set(suite_names())
    policy = config.policy("crm_accounts")
    assert policy.severity_for("expect_column_values_to_not_be_null:industry", "x") == "WARN"
    assert policy.severity_for("expect_column_values_to_not_be_null:account_id", "x") == "ERROR"
    assert config.policy("risk").freshness_days == 120
    assert config.policy("orders").freshness_days == config.defaults.freshness_days


def test_override_typo_fails_naming_the_key() -> None:
    config = QualityConfig.model_validate(
        {"suites": {"orders": {"expectations": {"expect_column_values_to_be_in_set:stauts": "WARN"}},
                    "ordres": {}}}
    )  # fmt: skip
    problems = dict(cross_check(config, EXPECTATIONS_DIR))
    assert (
        "matches no expectation of orders.json"
        in (problems["suites.orders.expectations.expect_column_values_to_be_in_set:stauts"])
    )
    assert "no suite ordres.json" in problems["suites.ordres"]


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("suites:\n  orders:\n    severity: FATAL\n", "suites.orders.severity"),
        ("defaults:\n  max_rowz: 10\n", "defaults.max_rowz"),
        ("suites:\n  orders:\n    max_rows: 0\n", "suites.orders.max_rows"),
        ("suites:\n  orders:\n    expectations:\n      expect_x: BLOCK\n", "expect_x"),
    ],
)
def test_config_errors_name_the_bad_key(tmp_path: Path, text: str, needle: str) -> None:
    path = tmp_path / "quality.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError, match=needle.replace(".", r"\.")) as info:
        load_model(QualityConfig, path)
    assert str(path) in str(info.value)
