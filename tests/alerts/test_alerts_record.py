"""The alert of a failed run: its kind and one sentence, from the run's tags, checks and steps."""

from __future__ import annotations

from datetime import date, datetime

from pipelines.alerts.record import FailedCheck, FailedStep, describe_failure

FAILED_AT = datetime(2026, 11, 21, 6, 3, 12)
TAGS = {
    "dagster/partition": "2026-11-20",
    "stratum/snapshot_id": "20261120-abcdef12",
    "stratum/trigger": "schedule:stratum_daily_schedule",
}


def _alert(
    tags=TAGS, checks=(), steps=(), message=None, published=(), in_force="20261119-0000aaaa"
):
    return describe_failure(
        run_id="abcdef12-3456-7890-abcd-ef1234567890",
        job_name="stratum_daily",
        tags=tags,
        failed_at=FAILED_AT,
        trigger=tags.get("stratum/trigger", "manual"),
        failed_checks=list(checks),
        failed_steps=list(steps),
        run_message=message,
        published=list(published),
        in_force=in_force,
    )


def test_the_checks_own_sentence_is_used_when_the_run_carries_it() -> None:
    sentence = (
        "orders quarantine 50.0% > 5.0%: 120 negative amounts, 40 dates out of range; the "
        "published tiers are unchanged (snapshot 20261119-0000aaaa in force)"
    )
    alert = _alert(
        tags={**TAGS, "stratum/blocked": sentence},
        checks=[FailedCheck("raw/orders", "quarantine_rate", None, {"quarantine_rate": 0.5})],
        steps=[FailedStep("raw__orders_quarantine_rate", "1 blocking check failed", True)],
    )
    assert (alert.failure_kind, alert.reason) == ("blocked", sentence)
    assert alert.as_of_date == date(2026, 11, 20)
    assert alert.snapshot_id == "20261120-abcdef12"
    assert alert.failed_steps == "raw__orders_quarantine_rate"


def test_without_the_tag_the_sentence_is_built_from_the_failed_checks() -> None:
    alert = _alert(
        checks=[
            FailedCheck(
                "raw/orders",
                "quarantine_rate",
                None,
                {"evaluated_run": "r1", "quarantine_rate": 0.5, "threshold": 0.05, "ok": True},
            ),
            FailedCheck("customer_360", "gx_customer_360", "3 ERROR expectations failed", {}),
        ],
        steps=[FailedStep("raw__orders_quarantine_rate", "DagsterAssetCheckFailedError", True)],
    )
    assert alert.failure_kind == "blocked"
    assert alert.reason == (
        "Blocked by raw/orders quarantine_rate (quarantine_rate 0.5, threshold 0.05); "
        "customer_360 gx_customer_360 (3 ERROR expectations failed): nothing downstream ran, "
        "so the published tiers are unchanged (snapshot 20261119-0000aaaa is still in force)."
    )


def test_a_failed_step_is_named_with_the_first_line_of_its_error() -> None:
    alert = _alert(
        steps=[
            FailedStep(
                "raw__crm_accounts",
                "1 unreadable file(s) in landing/crm_accounts: crm_accounts/a.xlsx: not a valid "
                "XLSX file\nTraceback (most recent call last): ...",
            ),
            FailedStep("dbt_models", "dbt exited with code 1"),
        ],
        in_force=None,
    )
    assert alert.failure_kind == "step_failure"
    assert alert.reason == (
        "Step raw__crm_accounts failed (and 1 more step(s)): 1 unreadable file(s) in "
        "landing/crm_accounts: crm_accounts/a.xlsx: not a valid XLSX file; nothing has been "
        "published yet."
    )
    assert alert.failed_steps == "raw__crm_accounts, dbt_models"


def test_a_run_that_died_says_so_and_whether_its_snapshot_was_published() -> None:
    alert = _alert(
        message="Run worker process 4242 on vm is gone (killed?); marked failed.",
        published=["20261119-0000aaaa", "20261120-abcdef12"],
        in_force="20261120-abcdef12",
    )
    assert alert.failure_kind == "run_failure"
    assert alert.reason == (
        "Run worker process 4242 on vm is gone (killed?); marked failed; its snapshot "
        "20261120-abcdef12 was published before the failure."
    )


def test_personal_data_in_an_error_never_reaches_the_alert() -> None:
    alert = _alert(
        steps=[FailedStep("raw__crm_contacts", "bad row: email zhang.san@corp.cn 13800138000")]
    )
    assert "zhang.san@corp.cn" not in alert.reason and "13800138000" not in alert.reason
    assert "xxxxx.xxx@xxxx.xx 99999999999" in alert.reason
    payload = alert.as_json()
    assert payload["failed_at"] == "2026-11-21T06:03:12Z" and payload["as_of_date"] == "2026-11-20"
    assert payload["text"].startswith("Stratum run abcdef12 (2026-11-20, schedule:stratum_daily_")
