"""The one masking helper: names keep their first character, emails and phones their shape."""

from __future__ import annotations

import pytest

from pipelines.privacy.masking import (
    contact_kind,
    mask_contact,
    mask_name,
    mask_shape,
    mask_sql,
    mask_value,
    mask_values,
    scrub_text,
)


@pytest.mark.parametrize(
    ("value", "masked"),
    [
        ("张三丰", "张**"),
        ("欧阳娜娜", "欧***"),
        ("Alice Wong", "A**** ****"),
        ("李", "李"),
        ("", ""),
    ],
)
def test_a_name_keeps_only_its_first_character(value: str, masked: str) -> None:
    assert mask_name(value) == masked


@pytest.mark.parametrize(
    ("value", "masked"),
    [
        ("alice.w@corp.cn", "xxxxx.x@xxxx.xx"),
        ("zhang.san+crm@163.com", "xxxxx.xxx+xxx@999.xxx"),
        ("no-at-sign.example.com", "xx-xx-xxxx.xxxxxxx.xxx"),  # why it failed stays visible
        ("13800138000", "99999999999"),
        ("+86 138-0013-8000", "+99 999-9999-9999"),
        ("021-6888 1234", "999-9999 9999"),
        ("王五@公司", "xx@xx"),
    ],
)
def test_emails_and_phones_keep_only_their_shape(value: str, masked: str) -> None:
    assert mask_shape(value) == masked


def test_columns_are_recognised_by_name_and_other_values_pass_through() -> None:
    assert [contact_kind(c) for c in ("full_name", "EMAIL", "phone", "job_title")] == [
        "name",
        "email",
        "phone",
        "name",
    ]
    assert contact_kind("account_id") is None and contact_kind(None) is None
    assert mask_value("account_id", "ACC-0001") == "ACC-0001"
    assert mask_value("amount_cny", -5.0) == -5.0
    assert mask_value("full_name", "王小明") == "王**"
    assert mask_value("phone", 13912345678) == "99999999999"  # numbers masked as text
    assert mask_value("email", None) is None
    nan = float("nan")
    assert mask_value("email", nan) is nan


def test_examples_of_compound_and_row_shaped_results_are_masked() -> None:
    assert mask_values("email", ["a@b.cn", None]) == ["x@x.xx", None]
    assert mask_values("contact_id+updated_at", [["C1", "2026-01-01"]]) == [["C1", "2026-01-01"]]
    assert mask_values("full_name+email", ["张三"]) == ["xx"]  # mixed kinds: shape only
    rows = mask_values(None, [{"contact_id": "C1", "full_name": "赵六", "phone": "13800138000"}])
    assert rows == [{"contact_id": "C1", "full_name": "赵*", "phone": "99999999999"}]


def test_free_text_is_scrubbed_of_emails_and_phone_numbers() -> None:
    text = (
        "crm_contacts line 7: formula-like value: email='=HYPERLINK(\"x\")'; "
        "contact zhang.san@corp.cn called from 13800138000 and +86 139-1234-5678; "
        "account ACC-2024-000123 owes 1,380,013.80 CNY"
    )
    scrubbed = scrub_text(text)
    assert "zhang.san@corp.cn" not in scrubbed and "xxxxx.xxx@xxxx.xx" in scrubbed
    assert "13800138000" not in scrubbed and "99999999999" in scrubbed
    assert "+99 999-9999-9999" in scrubbed
    # ids, amounts and dates are not phone numbers
    assert "ACC-2024-000123" in scrubbed and "1,380,013.80" in scrubbed


@pytest.mark.parametrize("kind", ["name", "email", "phone", "text"])
@pytest.mark.parametrize(
    "value",
    ["张三丰", "Alice Wong", "alice.w@corp.cn", "+86 138-0013-8000", "１３８ ００１３", "王五@公司",
     "李", "", "tab\there　ideographic", "=HYPERLINK(\"x\")"],
)  # fmt: skip
def test_sql_masking_is_the_python_masking(kind, value) -> None:
    """Quarantine reasons are built in DuckDB: the same masking there as in Python."""
    import duckdb

    got = duckdb.connect().execute(f"select {mask_sql(kind, '$v')}", {"v": value}).fetchone()[0]
    assert got == mask_contact(kind, value)


def test_survey_comments_are_masked_like_names() -> None:
    assert contact_kind("comment") == "text"
    assert mask_value("comment", "张经理很负责") == "张*****"
    assert mask_values("comment", ["好", None]) == ["好", None]
