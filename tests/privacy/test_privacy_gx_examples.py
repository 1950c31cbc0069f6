"""Great Expectations failure examples of contact columns are masked before they reach Dagster
metadata or quality.validation_results (the raw values stay in raw.crm_contacts only)."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pytest

from pipelines.config import load_stratum_config
from pipelines.privacy import gx_results
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


def _validate_bad_contacts(run_name: str):
    frame = contacts_frame(20)
    frame.loc[[1, 2, 3], "email"] = BAD_EMAILS
    frame.loc[[4, 5, 6], "phone"] = BAD_PHONES
    params = freshness_parameters(AS_OF, CONFIG.policy("crm_contacts"))
    return validate_frame(frame, "crm_contacts", params, run_name=run_name, config=CONFIG)


def _gx_files(quality_dir: Path) -> dict[str, str]:
    """Every stored result and rendered page, by path (text)."""
    files = [*quality_dir.glob("gx/uncommitted/validations/**/*.json"),
             *quality_dir.glob("data_docs/validations/**/*.html")]  # fmt: skip
    return {p.relative_to(quality_dir).as_posix(): p.read_text(encoding="utf-8") for p in files}


def test_stored_results_and_data_docs_hold_masked_examples_only(tmp_path) -> None:
    _validate_bad_contacts("stored")
    files = _gx_files(tmp_path / "quality")
    assert {Path(p).suffix for p in files} == {".json", ".html"}
    text = "\n".join(files.values())
    for original in [*BAD_EMAILS, *BAD_PHONES, "13912345678"]:
        assert original not in text and json.dumps(original)[1:-1] not in text, original
    assert "xxxx.xxxx@@xxxx.xx" in text  # masked examples are kept, in the JSON and the page
    assert any("xxxx.xxxx@@xxxx.xx" in t for p, t in files.items() if p.endswith(".html"))


def test_erasure_scrubs_results_stored_before_masking(tmp_path, monkeypatch) -> None:
    """A store written by a version that did not mask yet: an erased person's values are
    replaced in the stored result and its Data Docs page is rendered again."""
    with monkeypatch.context() as m:
        m.setattr(gx_results, "mask_result", lambda column, result: dict(result or {}))
        _validate_bad_contacts("legacy")
    quality = tmp_path / "quality"
    before = "\n".join(_gx_files(quality).values())
    assert "wang.fang@@corp.cn" in before and "1380013800" in before

    changed = gx_results.scrub_stored_results(
        quality, {"wang.fang@@corp.cn": "xxxx.xxxx@@xxxx.xx"}, {}, "stratum"
    )

    assert list(changed) == [p for p in _gx_files(quality) if p.endswith(".json")]
    assert list(changed.values()) == [2]  # partial_unexpected_list and _counts
    after = "\n".join(_gx_files(quality).values())
    assert "wang.fang@@corp.cn" not in after
    assert after.count("xxxx.xxxx@@xxxx.xx") >= 3  # JSON twice, the page at least once
    assert "1380013800" in after  # nobody asked to erase that one: left alone
    assert gx_results.scrub_stored_results(quality, {"nobody@x.cn": "x"}, {}, "stratum") == {}


def test_a_page_left_unrendered_by_a_killed_run_is_rendered_on_the_next_scrub(
    tmp_path, monkeypatch
) -> None:
    """Killed after a result was scrubbed, before its Data Docs page was rendered again: the
    next scrub finds nothing to change in the results but renders the page that still shows
    the value."""
    with monkeypatch.context() as m:
        m.setattr(gx_results, "mask_result", lambda column, result: dict(result or {}))
        _validate_bad_contacts("legacy")
    quality = tmp_path / "quality"
    values = {"wang.fang@@corp.cn": "xxxx.xxxx@@xxxx.xx"}

    def killed(*args, **kwargs):
        raise KeyboardInterrupt("killed before rendering")

    with monkeypatch.context() as m:
        m.setattr(gx_results, "_rebuild_docs", killed)
        with pytest.raises(KeyboardInterrupt):
            gx_results.scrub_stored_results(quality, values, {}, "stratum")
    files = _gx_files(quality)
    assert not any("wang.fang@@corp.cn" in t for p, t in files.items() if p.endswith(".json"))
    assert any("wang.fang@@corp.cn" in t for p, t in files.items() if p.endswith(".html"))

    assert gx_results.scrub_stored_results(quality, values, {}, "stratum") == {}

    assert "wang.fang@@corp.cn" not in "\n".join(_gx_files(quality).values())
    assert not list(quality.rglob(".*.scrubbing"))  # written whole, then renamed
