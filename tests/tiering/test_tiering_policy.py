"""Policy loading, versioning and validation errors that name the bad key."""

from __future__ import annotations

import re

import pytest
import yaml

from pipelines.config import ConfigError, load_stratum_config
from pipelines.tiering.policy import load_policy, parse_policy
from tests.config_files import CONFIG_DIR
from tests.tiering.tier_fixtures import policy_data

EXAMPLES = sorted((CONFIG_DIR / "tiers").glob("*.yaml"))


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_example_policies_load(path):
    policy = load_policy(path)
    assert re.fullmatch(r".+\+[0-9a-f]{12}", policy.policy_version)
    assert policy.fallback_tier in policy.codes
    assert policy.prospects.tier in policy.codes
    assert all(t.service_strategy.zh and t.name_zh for t in policy.tiers)


def test_both_shipped_policies_exist():
    names = {p.name for p in EXAMPLES}
    assert {"default.yaml", "vip_svip.yaml"} <= names
    assert load_policy(CONFIG_DIR / "tiers" / "default.yaml").codes == ["A", "B", "C", "P"]


def test_policy_from_environment(monkeypatch, tmp_path):
    data = policy_data(version="from-env")
    path = tmp_path / "p.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    monkeypatch.setenv("STRATUM_TIER_POLICY", str(path))
    config = load_stratum_config()
    assert config.policy.model.version == "from-env"
    assert config.policy_version.startswith("from-env+")
    # A policy named by the run (run config) wins over the environment.
    chosen = load_stratum_config(policy_path=CONFIG_DIR / "tiers" / "vip_svip.yaml")
    assert chosen.policy.path.name == "vip_svip.yaml"


def test_version_hash_ignores_formatting_but_not_content(tmp_path):
    data = policy_data()
    compact = tmp_path / "a.yaml"
    verbose = tmp_path / "b.yaml"
    compact.write_text(yaml.safe_dump(data, default_flow_style=True), encoding="utf-8")
    verbose.write_text("# a comment\n" + yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    assert load_policy(compact).policy_version == load_policy(verbose).policy_version

    changed = policy_data()
    changed["tiers"][1]["rules"][1]["when"]["gte"] = 4.5
    assert parse_policy(changed).content_hash != parse_policy(data).content_hash


def _error(data) -> str:
    with pytest.raises(ConfigError) as info:
        parse_policy(data)
    return str(info.value)


def test_unknown_score_names_the_key():
    data = policy_data()
    data["tiers"][1]["rules"][0]["when"] = {"score": "clvv", "gte": 0.9}
    assert "tiers[1].rules[0].when: unknown score 'clvv'" in _error(data)


def test_nested_unknown_operator_names_the_path():
    data = policy_data()
    data["tiers"][0]["rules"][0]["when"]["all"][1] = {"score": "p_alive", "gtee": 0.5}
    assert "tiers[0].rules[0].when.all[1].gtee: unknown operator 'gtee'" in _error(data)


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        (lambda d: d["tiers"][0].update(rulez=[]), "tiers[0].rulez: unknown key"),
        (lambda d: d.update(fallback_tier="Z"), "fallback_tier: unknown tier 'Z'"),
        (
            lambda d: d.update(
                risk_gates=[
                    {
                        "id": "g",
                        "when": {"score": "risk_level", "eq": "high"},
                        "mode": "cap",
                        "cap_at": "Q",
                    }
                ]
            ),
            "risk_gates[0].cap_at: unknown tier 'Q'",
        ),
        (
            lambda d: d["tiers"][0]["rules"][1].update(when={"score": "abc_class", "gte": 1}),
            "tiers[0].rules[1].when.gte: operator 'gte' needs a numeric score",
        ),
        (
            lambda d: d["tiers"][0]["rules"][1].update(
                when={"score": "p_alive", "between": [0.9, 0.1]}
            ),
            "tiers[0].rules[1].when.between: low 0.9 is above high 0.1",
        ),
        (lambda d: d["tiers"][1].update(code="A"), "tiers[1].code: duplicate tier code 'A'"),
        (
            lambda d: d["tiers"][0].update(
                quota={"max_accounts": 1, "max_share": 0.1, "rank_by": "clv_12m"}
            ),
            "tiers[0].quota: give exactly one of max_accounts or max_share",
        ),
        (
            lambda d: d["hysteresis"]["margins"].update(clvv=0.1),
            "hysteresis.margins.clvv: unknown numeric score 'clvv'",
        ),
        (
            lambda d: d.update(overrides=[{"golden_account_id": "G1", "tier": "X", "reason": "r"}]),
            "overrides[0].tier: unknown tier 'X'",
        ),
        (lambda d: d.pop("prospects"), "prospects: required key missing"),
    ],
)
def test_validation_errors_name_the_bad_key(mutate, expected):
    data = policy_data()
    mutate(data)
    assert expected in _error(data)


def test_an_upper_tier_may_not_be_planned_larger_than_the_one_below():
    data = policy_data()
    data["tiers"][0]["quota"] = {"max_share": 0.3, "rank_by": "clv_12m", "population": "paying"}
    data["tiers"][1]["quota"] = {"max_share": 0.2, "rank_by": "clv_12m", "population": "paying"}
    assert _error(data).endswith(
        "tiers[0].quota.max_share: 0.3 is larger than tiers[1]'s 0.2: an upper tier may not be "
        "larger than the one below it (set allow_larger_upper_tiers: true to allow it)"
    )
    # The last capped tier against what is left for the tiers below it.
    data["tiers"][0]["quota"]["max_share"] = 0.2
    data["tiers"][1]["quota"]["max_share"] = 0.5
    assert "tiers[1].quota.max_share: 0.5 leaves the tiers below only 0.30" in _error(data)
    data["allow_larger_upper_tiers"] = True
    assert parse_policy(data).tier("B").quota.max_share == 0.5


def test_default_policy_ranks_one_expected_value_with_bounded_tiers():
    policy = load_policy(CONFIG_DIR / "tiers" / "default.yaml")
    a, b = policy.tier("A"), policy.tier("B")
    assert {leaf.score for r in a.rules + b.rules for leaf in r.when.leaves()} == {
        "expected_value_12m"
    }
    assert a.quota.rank_by == b.quota.rank_by == "expected_value_12m"
    assert a.quota.population == b.quota.population == "paying"
    assert a.quota.max_share <= b.quota.max_share <= 1 - a.quota.max_share - b.quota.max_share
