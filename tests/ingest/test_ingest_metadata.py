"""Plottable load numbers of the raw assets: rows read/loaded/quarantined and quarantine by rule
family, under keys that stay the same from run to run."""

from __future__ import annotations

from dagster import FloatMetadataValue, IntMetadataValue

from pipelines.ingest.metadata import FAMILIES, family_counts, rule_family
from tests.ingest.test_ingest_assets import _drop, _materialize, data_dir  # noqa: F401

# Every rule as validation names it (pipelines/ingest/validation.py) and its family.
RULES = {
    "field too long: account_name": "field_too_long",
    "control character: account_name": "control_character",
    "missing required value: account_id": "missing_required",
    "invalid date: order_date": "invalid_type",
    "invalid decimal: amount_cny": "invalid_type",
    "not an allowed value: credit_rating": "not_allowed",
    "formula-like value: account_name": "formula_like",
    "negative amount: amount_cny": "negative_value",
    "negative value: lawsuit_count": "negative_value",
    "out of range (0 to 10): nps": "out_of_range",
    "date out of range: order_date": "date_out_of_range",
    "in the future: updated_at": "in_the_future",
    "refund exceeds amount": "refund_exceeds_amount",
    "unknown account": "unknown_account",
    "duplicate key in file: uscc/as_of_date": "duplicate_key",
}


def test_every_loader_rule_has_its_family() -> None:
    assert {rule: rule_family(rule) for rule in RULES} == RULES
    assert rule_family("something new: x") == "other"
    assert set(RULES.values()) | {"other"} == set(FAMILIES)


def test_family_counts_add_up_and_list_every_family() -> None:
    counts = family_counts(
        {"invalid date: order_date": 3, "invalid decimal: amount_cny": 2, "x": 1}
    )
    assert counts["invalid_type"] == 5 and counts["other"] == 1
    assert set(counts) == set(FAMILIES) and sum(counts.values()) == 6


def test_raw_assets_report_plottable_numbers(data_dir) -> None:  # noqa: F811
    _drop("risk_gbk.csv", "risk")  # 3 rows: one not-allowed rating, one duplicate key
    _drop("accounts_utf8_bom.csv", "crm_accounts")
    result = _materialize()
    events = {
        e.asset_key.path[-1]: e.materialization.metadata
        for e in result.get_asset_materialization_events()
    }
    risk = events["risk"]
    assert isinstance(risk["rows_read"], IntMetadataValue)
    assert isinstance(risk["quarantine_rate"], FloatMetadataValue)
    numbers = {k: v.value for k, v in risk.items() if k.startswith(("rows_", "quarantine"))}
    assert numbers["rows_read"] == 3 and numbers["rows_loaded"] == 1
    assert numbers["rows_quarantined"] == 2
    assert numbers["quarantine_rate"] == 2 / 3
    assert numbers["quarantined_not_allowed"] == 1 and numbers["quarantined_duplicate_key"] == 1
    assert sum(numbers[f"quarantined_{f}"] for f in FAMILIES) == 2
    # An entity with nothing delivered still reports every key, as zeros.
    surveys = {k: v.value for k, v in events["surveys"].items()}
    assert surveys["rows_read"] == 0 and surveys["quarantine_rate"] == 0.0
    assert all(surveys[f"quarantined_{f}"] == 0 for f in FAMILIES)
