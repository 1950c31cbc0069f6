"""The whole graph on a generated world: what its first run published (read only).

Reruns, the next day and a blocked bad delivery change a world, so they run on a copy of this
one, in test_integration_reruns.py.
"""

from __future__ import annotations

import nbformat
import pandas as pd
import pytest
from nbclient import NotebookClient

from pipelines.transform.assets import transform_assets
from tests.conftest import REPO_ROOT, dbt_log_events
from tests.integration.conftest import HAND_CASES, golden_ids, serving, snapshot_frame, warehouse

pytestmark = pytest.mark.integration


def test_every_account_has_exactly_one_tier(world, first_run):
    con = serving(world)
    n, distinct, tiers = con.execute(
        "select count(*), count(distinct golden_account_id), list(distinct tier order by tier) "
        "from customer_tier_current"
    ).fetchone()
    con.close()
    wh = warehouse(world)
    accounts = wh.execute("select count(*) from marts.customer_360").fetchone()[0]
    wh.close()
    assert n == distinct == accounts > 900
    assert set(tiers) == {"A", "B", "C", "P"}


def test_tier_kpis_published_for_the_snapshot(world, first_run):
    con = serving(world)
    rows, accounts, current = con.execute(
        "select count(*), sum(accounts), (select count(*) from customer_tier_current) "
        "from tier_kpis where snapshot_id = ?",
        [first_run["snapshot_id"]],
    ).fetchone()
    con.close()
    assert rows == 8 and accounts == current  # A/B/C/P x treated/control cover every account


def test_orders_for_buyers_missing_from_the_crm_are_quarantined_not_lost(world, first_run):
    unmatched = pd.read_csv(
        next((world.landing / "orders").glob("orders_unmatched_*.csv")), dtype=str
    )
    wh = warehouse(world)
    quarantined = wh.execute(
        "select source_file, source_line, reason from raw._quarantine "
        "where source_file like 'orders/orders_unmatched_%'"
    ).fetchall()
    read, loaded, held = wh.execute(
        "select sum(rows_read), sum(rows_loaded), sum(rows_quarantined) from raw._file_manifest "
        "where entity = 'orders'"
    ).fetchone()
    wh.close()
    assert sorted(reason for _, _, reason in quarantined) == sorted(
        f"unknown account: account_id='{a}'" for a in unmatched["account_id"]
    )
    assert sorted(line for _, line, _ in quarantined) == list(range(2, len(unmatched) + 2))
    assert read == loaded + held and held >= len(unmatched)


def test_hand_made_cases_land_in_the_documented_tier(world, first_run):
    snapshot = snapshot_frame(world, first_run["snapshot_id"])
    ids = golden_ids(world)
    got = {account: snapshot.loc[ids[account], "tier"] for account in HAND_CASES}
    assert got == HAND_CASES
    risky = snapshot.loc[ids["HAND-RISKY-WHALE"]]
    assert risky["risk_level"] == "high" and str(risky["risk_flag"]).startswith("cap")
    whale = snapshot.loc[ids["HAND-WHALE"]]
    assert whale["abc_class"] == "A" and whale["reason_en"] and whale["reason_zh"]


def test_published_tables_carry_no_personal_contact_data(world, first_run):
    con = serving(world)
    columns = {
        c for (c,) in con.execute("select column_name from information_schema.columns").fetchall()
    }
    values = con.execute("select * from customer_tier_current").df()
    con.close()
    assert not columns & {"email", "phone", "full_name", "contact_id", "job_title"}
    text = values.select_dtypes(include=["object", "string"]).astype(str)
    pii = text.apply(
        lambda s: s.str.contains(r"@[\w-]+\.\w+|\+?86[-\s]?1\d{10}|\b1[3-9]\d{9}\b", regex=True)
    )
    assert not pii.any().any()


def test_notebook_runs_against_published_tables(first_run_copy, monkeypatch):
    world = first_run_copy
    for key, value in world.env().items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("PYTHONPATH", str(REPO_ROOT))
    nb = nbformat.read(REPO_ROOT / "notebooks" / "tier_overview.ipynb", as_version=4)
    client = NotebookClient(
        nb, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(REPO_ROOT)}}
    )
    client.execute()
    assert (world.data_dir / "serving" / "tier_overview.png").stat().st_size > 1000


def test_dbt_parses_the_project_once_per_run(first_run):
    """The run's dbt steps share one target folder: the first parses the project (the
    manifest's partial-parse file was made without the run's vars), the others reuse it."""
    events = dbt_log_events(first_run["result"].run_id)
    invocations = {e["info"]["invocation_id"] for e in events}
    full_parses = {e["info"]["invocation_id"] for e in events if e["info"]["code"] == "I024"}
    assert len(invocations) == len(transform_assets)  # one dbt build per dbt step
    assert len(full_parses) == 1
