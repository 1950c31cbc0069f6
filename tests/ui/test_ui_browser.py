"""The Dagster UI in a real (headless) browser, over runs made by the real launcher: what an
analyst auditing a day or an account sees. Screenshots land in data/ui_screenshots/."""

from __future__ import annotations

import subprocess
import sys

import duckdb
import pytest

from pipelines.settings import REPO_ROOT
from tests.ui.chromium import Chromium
from tests.ui.conftest import BACKFILL, BLOCKED_DATE, RUN_DATE, History

pytestmark = pytest.mark.integration
SHOTS = REPO_ROOT / "data" / "ui_screenshots"
# Clicks the last element whose own text is exactly the given label (buttons, tags, tabs).
CLICK = """(() => {
  const hits = [...document.querySelectorAll('button, a, span, div')]
    .filter(e => e.innerText && e.innerText.trim() === %r);
  if (!hits.length) return false;
  hits[hits.length - 1].click();
  return true;
})()"""

SCROLL_TO = """(() => {
  const hit = [...document.querySelectorAll('div, span, h1, h2, h3')]
    .find(e => e.innerText && e.innerText.trim() === %r);
  if (!hit) return false;
  hit.scrollIntoView();
  return true;
})()"""


@pytest.fixture(scope="module")
def browser(chromium, webserver):
    with Chromium(chromium) as page:
        yield page


def test_both_runs_are_in_the_jobs_runs_tab(browser, webserver, history: History) -> None:
    browser.goto(f"{webserver}/locations/stratum/jobs/stratum_daily/runs")
    text = browser.wait_for_text(
        history.success_run[:8], history.blocked_run[:8], *[r[:8] for r in history.backfill_runs]
    )
    assert "Success" in text and "Failure" in text
    assert f"stratum/as_of: {RUN_DATE}" in text
    browser.screenshot(SHOTS / "job_runs.png")


def test_the_partition_view_shows_the_backfilled_dates(browser, webserver, history) -> None:
    browser.goto(f"{webserver}/locations/stratum/jobs/stratum_daily/partitions")
    browser.wait_for_text("Backfill history", history.backfill_id, "2 partitions")
    assert browser.evaluate(CLICK % "2 partitions")
    browser.wait_for_text(
        f"Partitions requested for backfill: {history.backfill_id}",
        *[d.isoformat() for d in BACKFILL],
    )
    browser.screenshot(SHOTS / "job_partitions_backfill.png")


def test_the_tier_assets_plots_exist(browser, webserver, history) -> None:
    browser.goto(f"{webserver}/assets/tiers/customer_tier?view=overview")
    browser.wait_for_text("Metadata", "Plots")
    assert browser.evaluate(CLICK % "Plots")
    text = browser.wait_for_text(
        "accounts_A", "revenue_share_A", "accounts_P", "promotion", "demotion", "movers_total"
    )
    assert "When graphing values by partition" in text
    assert browser.wait_for("document.querySelectorAll('canvas').length >= 4")
    assert browser.evaluate(SCROLL_TO % "Metadata")
    browser.screenshot(SHOTS / "tier_plots.png")


def test_the_blocked_runs_reason_is_visible(browser, webserver, history) -> None:
    # The sentence is the checks' own (stratum/blocked) or the alert's: either names the gate.
    assert "orders" in history.blocked_reason and "quarantine" in history.blocked_reason
    browser.goto(f"{webserver}/runs/{history.blocked_run}")
    # The alert closes the run's event log with the sentence, in full.
    browser.wait_for_text(history.blocked_reason, "raw__orders_quarantine_rate")
    browser.screenshot(SHOTS / "blocked_run.png")
    assert browser.evaluate(CLICK % "View tags and config")
    text = browser.wait_for_text(f"partition: {BLOCKED_DATE}")
    assert f"stratum/failure: {history.blocked_reason}" in text or (
        f"stratum/blocked: {history.blocked_reason}" in text
    )
    browser.screenshot(SHOTS / "blocked_run_tags.png")


def test_the_alert_is_recorded_for_the_blocked_run_only(history) -> None:
    con = duckdb.connect(
        str(history.world.data_dir / "warehouse" / "stratum.duckdb"), read_only=True
    )
    try:
        rows = con.execute(
            "select run_id, as_of_date, trigger, failure_kind, reason from quality.run_alerts"
        ).fetchall()
    finally:
        con.close()
    assert rows == [
        (history.blocked_run, BLOCKED_DATE, "make run", "blocked", history.blocked_reason)
    ]


def test_explain_prints_one_account_across_the_snapshots(history) -> None:
    con = duckdb.connect(
        str(history.world.data_dir / "serving" / "stratum_serving.duckdb"), read_only=True
    )
    try:
        account, tier = con.execute(
            "select golden_account_id, tier from customer_tier_current "
            "order by net_revenue_365d desc limit 1"
        ).fetchone()
    finally:
        con.close()
    out = subprocess.run(
        [sys.executable, "-m", "pipelines.explain", account],
        cwd=REPO_ROOT, env=history.env, capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    assert out.startswith(f"Account {account}: ")
    assert f"In 3 of 3 published snapshots; latest tier {tier} as of {RUN_DATE}" in out
    for day in (*BACKFILL, RUN_DATE):
        assert f"{day} {day:%Y%m%d}-" in out
