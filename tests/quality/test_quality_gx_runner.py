"""validate_frame on clean and deliberately broken frames; results persisted and rendered."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from pipelines.config import load_stratum_config
from pipelines.quality import gx_runner
from pipelines.quality.config import QualityConfig, freshness_parameters
from pipelines.quality.gx_runner import data_docs_dir, validate_frame
from pipelines.quality.results import RESULTS_TABLE, outcome_markdown, write_validation_results
from tests.quality.conftest import AS_OF, contacts_frame, customer_360_frame, orders_frame

CONFIG = load_stratum_config().quality.model


def _params(suite: str, config: QualityConfig | None = None) -> dict:
    config = config or CONFIG
    return freshness_parameters(AS_OF, config.policy(suite))


def test_clean_frames_pass() -> None:
    for suite, frame in [
        ("orders", orders_frame()),
        ("crm_contacts", contacts_frame()),
        ("customer_360", customer_360_frame()),
    ]:
        outcome = validate_frame(frame, suite, _params(suite), run_name="clean", config=CONFIG)
        assert outcome.failures == [], (suite, outcome.to_frame().head())
        assert outcome.passed
        assert outcome.element_count == len(frame)
        assert all(r.error is None for r in outcome.results)


def test_bad_orders_report_each_broken_expectation() -> None:
    df = orders_frame(8)
    df.loc[[1, 6], "status"] = "shipped"
    df.loc[2, "amount_cny"] = -5.0
    df.loc[2, "refund_amount_cny"] = None  # pair check skips rows with a missing side
    df.loc[4, "order_id"] = None
    df.loc[5, "refund_amount_cny"] = 9999.0  # more than the amount
    outcome = validate_frame(df, "orders", _params("orders"), run_name="bad-orders", config=CONFIG)

    assert not outcome.passed
    assert outcome.severity == "ERROR"
    status = outcome.result("expect_column_values_to_be_in_set", "status")
    assert (status.success, status.unexpected_count, status.examples) == (
        False,
        2,
        ["shipped", "shipped"],
    )
    assert status.unexpected_percent == pytest.approx(25.0)
    amount = outcome.result("expect_column_values_to_be_between", "amount_cny")
    assert (amount.success, amount.unexpected_count, amount.examples) == (False, 1, [-5.0])
    not_null = outcome.result("expect_column_values_to_not_be_null", "order_id")
    assert (not_null.success, not_null.unexpected_count) == (False, 1)
    refund = outcome.result(
        "expect_column_pair_values_a_to_be_greater_than_b", "amount_cny+refund_amount_cny"
    )
    assert (refund.success, refund.unexpected_count) == (False, 1)
    assert refund.examples == [[105.0, 9999.0]]
    failed = {(r.expectation_type, r.column) for r in outcome.failures}
    assert failed == {
        ("expect_column_values_to_be_in_set", "status"),
        ("expect_column_values_to_be_between", "amount_cny"),
        ("expect_column_values_to_not_be_null", "order_id"),
        ("expect_column_pair_values_a_to_be_greater_than_b", "amount_cny+refund_amount_cny"),
    }
    markdown = outcome_markdown(outcome)
    assert "| ERROR | expect_column_values_to_be_in_set | status | 2 |" in markdown


def test_warn_failures_do_not_block_but_error_overrides_do() -> None:
    df = orders_frame()
    df.loc[1, ["order_id", "updated_at"]] = df.loc[0, ["order_id", "updated_at"]].to_numpy()
    outcome = validate_frame(df, "orders", _params("orders"), run_name="dupes", config=CONFIG)
    dupes = outcome.result("expect_compound_columns_to_be_unique")
    assert (dupes.success, dupes.severity, dupes.unexpected_count) == (False, "WARN", 2)
    assert outcome.passed  # only a WARN failure
    assert outcome.severity == "WARN"
    assert outcome.warnings == [dupes]

    strict = QualityConfig.model_validate({"suites": {"orders": {"severity": "ERROR"}}})
    outcome = validate_frame(df, "orders", _params("orders", strict), config=strict)
    assert outcome.result("expect_compound_columns_to_be_unique").severity == "ERROR"
    assert not outcome.passed

    lenient = QualityConfig.model_validate({"defaults": {"severity": "WARN"}})
    df.loc[2, "status"] = "shipped"
    outcome = validate_frame(df, "orders", _params("orders", lenient), config=lenient)
    assert len(outcome.failures) == 2
    assert outcome.passed


def test_mostly_tolerates_a_few_bad_emails_but_not_many() -> None:
    few = contacts_frame(20)
    few.loc[3, "email"] = "not-an-email"
    outcome = validate_frame(few, "crm_contacts", _params("crm_contacts"), config=CONFIG)
    email = outcome.result("expect_column_values_to_match_regex", "email")
    assert email.success and email.unexpected_count == 1

    many = contacts_frame(20)
    many.loc[[1, 2, 3], "email"] = ["a@", "bob at example.com", "x"]
    many.loc[[4, 5, 6], "phone"] = ["12", "call me", "555"]
    outcome = validate_frame(many, "crm_contacts", _params("crm_contacts"), config=CONFIG)
    email = outcome.result("expect_column_values_to_match_regex", "email")
    assert (email.success, email.severity, email.unexpected_count) == (False, "WARN", 3)
    # contact data is masked (shape kept): pipelines/privacy/masking.py
    assert sorted(email.examples) == sorted(["x@", "xxx xx xxxxxxx.xxx", "x"])
    phone = outcome.result("expect_column_values_to_match_regex", "phone")
    assert (phone.success, phone.unexpected_count) == (False, 3)
    assert outcome.passed  # email/phone format is WARN in config/quality.yaml


def test_freshness_fails_on_stale_data() -> None:
    stale = orders_frame()
    stale["order_date"] = pd.date_range("2026-01-01", periods=len(stale), freq="D")
    outcome = validate_frame(stale, "orders", _params("orders"), run_name="stale", config=CONFIG)
    fresh = outcome.result("expect_column_max_to_be_between", "order_date")
    assert not fresh.success
    assert fresh.observed_value.startswith("2026-01-06")
    assert "expected min_value=2026-10-24" in outcome_markdown(outcome)

    recent = validate_frame(orders_frame(), "orders", _params("orders"), config=CONFIG)
    assert recent.result("expect_column_max_to_be_between", "order_date").success

    # An order dated after the as-of date breaks the contract (ERROR).
    future = orders_frame()
    future.loc[0, "order_date"] = pd.Timestamp("2026-12-25")
    outcome = validate_frame(future, "orders", _params("orders"), config=CONFIG)
    late = outcome.result("expect_column_values_to_be_between", "order_date")
    assert (late.success, late.unexpected_count, late.severity) == (False, 1, "ERROR")


def test_missing_column_fails_schema_and_reports_error() -> None:
    df = orders_frame().drop(columns=["status"])
    outcome = validate_frame(df, "orders", _params("orders"), config=CONFIG)
    assert not outcome.result("expect_table_columns_to_match_set").success
    status = outcome.result("expect_column_values_to_be_in_set", "status")
    assert not status.success
    assert "status" in (status.error or "")
    assert not outcome.passed


def test_customer_360_bad_rows() -> None:
    df = customer_360_frame(6)
    df.loc[5, "golden_account_id"] = "G00001"
    df.loc[2, "refund_rate"] = 1.5
    df.loc[3, "activity_tag"] = "vip"
    df.loc[4, "region"] = "火星"
    outcome = validate_frame(df, "customer_360", _params("customer_360"), config=CONFIG)
    unique = outcome.result("expect_column_values_to_be_unique", "golden_account_id")
    assert (unique.success, unique.unexpected_count, unique.examples) == (
        False,
        2,
        ["G00001", "G00001"],
    )
    rate = outcome.result("expect_column_values_to_be_between", "refund_rate")
    assert (rate.success, rate.examples) == (False, [1.5])
    tag = outcome.result("expect_column_values_to_be_in_set", "activity_tag")
    assert (tag.success, tag.examples) == (False, ["vip"])
    region = outcome.result("expect_column_values_to_be_in_set", "region")
    assert (region.success, region.severity) == (False, "WARN")
    assert {r.column for r in outcome.errors} == {
        "golden_account_id",
        "refund_rate",
        "activity_tag",
    }

    empty = validate_frame(
        customer_360_frame().head(0), "customer_360", _params("customer_360"), config=CONFIG
    )
    assert not empty.result("expect_table_row_count_to_be_between").success


def test_results_are_appended_and_data_docs_built(tmp_path: Path) -> None:
    df = orders_frame()
    df.loc[0, "status"] = "shipped"
    outcome = validate_frame(df, "orders", _params("orders"), run_name="persist-run", config=CONFIG)
    index = data_docs_dir() / "index.html"
    assert outcome.data_docs_index == index and index.exists()
    pages = list((data_docs_dir() / "validations" / "orders" / "persist-run").rglob("*.html"))
    assert len(pages) == 1
    assert "persist-run" in index.read_text(encoding="utf-8")

    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    try:
        for _ in range(2):
            written = write_validation_results(
                con, outcome, run_id="persist-run", asset_key="raw/orders", batch_row_count=60
            )
            assert written == len(outcome.results)
        rows = con.execute(
            f"select suite, asset_key, expectation_type, column_name, success, severity, "
            f"unexpected_count, examples, kwargs, element_count, batch_row_count "
            f"from {RESULTS_TABLE} where not success"
        ).fetchall()
        total = con.execute(f"select count(*) from {RESULTS_TABLE}").fetchone()[0]
    finally:
        con.close()
    assert total == 2 * len(outcome.results)
    assert len(rows) == 2
    suite, key, etype, col, success, severity, count, examples, kwargs, n, batch_n = rows[0]
    assert (suite, key, etype, col, success, severity, count) == (
        "orders",
        "raw/orders",
        "expect_column_values_to_be_in_set",
        "status",
        False,
        "ERROR",
        1,
    )
    assert json.loads(examples) == ["shipped"]
    assert "partially_refunded" in json.loads(kwargs)["value_set"]
    assert (n, batch_n) == (len(df), 60)


def test_the_data_docs_index_lists_the_latest_results_and_every_result_keeps_its_page(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GX loads every result the index lists on each validation: unbounded, a validation's cost
    # grew with every result ever stored. A quality dir of its own, so its context is new and
    # reads the (lowered) limit.
    monkeypatch.setattr(gx_runner, "DOCS_INDEX_RESULTS", 3)
    quality_dir = tmp_path / "quality"
    runs = [f"index-run-{i}" for i in range(5)]
    for run in runs:
        validate_frame(
            orders_frame(), "orders", _params("orders"), run_name=run, config=CONFIG,
            quality_dir=quality_dir,
        )  # fmt: skip
    index = (data_docs_dir(quality_dir) / "index.html").read_text(encoding="utf-8")
    assert [run in index for run in runs] == [False, False, True, True, True]
    for run in runs:
        pages = list((data_docs_dir(quality_dir) / "validations" / "orders" / run).rglob("*.html"))
        assert len(pages) == 1, run
