"""Great Expectations failure examples of contact columns are masked before they reach Dagster
metadata or quality.validation_results (the raw values stay in raw.crm_contacts only)."""

from __future__ import annotations

import json

import duckdb
import pytest

from pipelines.config import load_stratum_config
from pipelines.quality.config import freshness_parameters
from pipelines.quality.gx_runner import validate_frame
from pipelines.quality.results import RESULTS_TABLE, outcome_markdown, write_validation_results
from tests.quality.conftest import AS_OF, contacts_frame

CONFIG = load_stratum_config().quality.model
BAD_EMAILS = ["wang.fang@@corp.cn", "li.lei at corp.cn", "zhaoliu@corp"]
BAD_PHONES = ["1380013800", "call 13912345678", "0571-88886666x"]


@pytest.fixture(autouse=True)
def _quality_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("STRATUM_QUALITY_DIR", str(tmp_path / "quality"))


def test_failed_contact_expectations_show_masked_examples_only() -> None:
    frame = contacts_frame(20)
    frame.loc[[1, 2, 3], "email"] = BAD_EMAILS
    frame.loc[[4, 5, 6], "phone"] = BAD_PHONES
    params = freshness_parameters(AS_OF, CONFIG.policy("crm_contacts"))
    outcome = validate_frame(frame, "crm_contacts", params, run_name="pii", config=CONFIG)

    email = outcome.result("expect_column_values_to_match_regex", "email")
    phone = outcome.result("expect_column_values_to_match_regex", "phone")
    assert (email.success, email.unexpected_count) == (False, 3)
    assert sorted(email.examples) == sorted(
        ["xxxx.xxxx@@xxxx.xx", "xx.xxx xx xxxx.xx", "xxxxxxx@xxxx"]
    )
    assert sorted(phone.examples) == sorted(["9999999999", "xxxx 99999999999", "9999-99999999x"])

    con = duckdb.connect()
    write_validation_results(con, outcome, run_id="pii", asset_key="raw/crm_contacts")
    stored = [
        json.loads(r[0])
        for r in con.execute(f"select examples from {RESULTS_TABLE} where not success").fetchall()
    ]
    shown = outcome_markdown(outcome) + json.dumps(stored, ensure_ascii=False)
    for original in [*BAD_EMAILS, *BAD_PHONES, "13912345678", "wang.fang"]:
        assert original not in shown, original
    assert "xxxx.xxxx@@xxxx.xx" in shown  # the reason a reviewer needs stays visible
