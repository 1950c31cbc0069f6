"""sources.yaml loading and the contract-as-data."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipelines.config import ConfigError, load_stratum_config
from pipelines.config.loader import read_yaml
from pipelines.ingest.contracts import CONTRACTS, DUCKDB_TYPES, raw_table_ddl
from pipelines.ingest.sources_config import parse_sources
from pipelines.settings import LANDING_ENTITIES


def load_sources_config(path: Path):
    return parse_sources(read_yaml(path), path)


def test_repository_sources_yaml_loads_for_every_entity():
    config = load_stratum_config().source_settings
    assert set(config) == set(LANDING_ENTITIES)
    assert all(0 <= c.quarantine_rate_threshold <= 1 for c in config.values())


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "sources:\n  orders:\n    severity: FATAL\n",
            "sources.orders.severity: Input should be 'ERROR' or 'WARN' (got 'FATAL')",
        ),
        (
            "sources:\n  orders:\n    encoding: latin-1\n",
            "sources.orders.encoding: Input should be",
        ),
        (
            "sources:\n  orders:\n    quarantine_rate_threshold: 1.5\n",
            "sources.orders.quarantine_rate_threshold: Input should be less than or equal to 1",
        ),
        ("sources:\n  ordres: {}\n", "sources.ordres: unknown entity"),
        (
            "sources:\n  orders:\n    colour: red\n",
            "sources.orders.colour: unknown key",
        ),
        ("defaults:\n  severity: info\n", "defaults.severity: Input should be"),
        ("sources: [\n", "not valid YAML"),
        ("sourcse:\n  orders: {}\n", "sourcse: unknown key"),
    ],
)
def test_bad_sources_yaml_fails_with_key_and_reason(tmp_path: Path, text: str, message: str):
    path = tmp_path / "sources.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_sources_config(path)
    assert message in str(info.value)
    assert str(path) in str(info.value)


def test_defaults_apply_to_unlisted_entities(tmp_path: Path):
    path = tmp_path / "sources.yaml"
    path.write_text("defaults:\n  encoding: gbk\nsources:\n  orders:\n    encoding: utf-8\n")
    config = load_sources_config(path)
    assert config["orders"].encoding == "utf-8"
    assert config["risk"].encoding == "gbk"


def test_contracts_cover_settings_entities_and_type_the_columns():
    assert tuple(CONTRACTS) == LANDING_ENTITIES
    ddl = raw_table_ddl("orders")
    assert '"amount_cny" DECIMAL(18,2)' in ddl and '"order_date" DATE' in ddl
    assert '"_source_line" BIGINT' in ddl
    for contract in CONTRACTS.values():
        assert set(contract.key) <= set(contract.required_columns)
        assert all(c.type in DUCKDB_TYPES for c in contract.columns)
    assert not CONTRACTS["risk"].references_account
    assert CONTRACTS["surveys"].references_account


def test_data_contract_documents_formats_encodings_and_reasons():
    """docs/data-contract.md and the code change together: every accepted or ignored file
    type, every declarable encoding and every quarantine reason is in the document."""
    from pipelines.ingest import validation
    from pipelines.ingest.encodings import ENCODINGS
    from pipelines.ingest.files import ACCEPTED_SUFFIXES, IGNORED_SUFFIXES
    from pipelines.settings import REPO_ROOT

    doc = (REPO_ROOT / "docs" / "data-contract.md").read_text(encoding="utf-8")
    for suffix in [*ACCEPTED_SUFFIXES, *IGNORED_SUFFIXES]:
        assert f"`{suffix}`" in doc or f"`{suffix.removesuffix('.gz')}`" in doc, suffix
    for encoding in ENCODINGS:
        assert f"`{encoding}`" in doc, encoding
    reasons = [
        line.split("``")[1].split(":")[0]
        for line in validation.__doc__.splitlines()
        if line.startswith("- ``")
    ]
    assert len(reasons) == 14
    for reason in reasons:
        assert f"| `{reason}" in doc, reason
    assert "`future_tolerance_hours`" in doc and "Asia/Shanghai" in doc
