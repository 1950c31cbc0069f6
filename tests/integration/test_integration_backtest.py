"""The backtest on a world of its own: the date one year back is backfilled, then the as-of
date runs and judges the tiers and scores published a year earlier on what happened since.

Runs the job twice on a private world (the module changes it); checks the serving table
``tier_backtest`` against an independent computation from the warehouse, the numeric metadata,
the WARN check, the ``make run`` headline and the notebook ``notebooks/tier_validity.ipynb``.
"""

from __future__ import annotations

import shutil
from datetime import timedelta

import duckdb
import nbformat
import numpy as np
import pandas as pd
import pytest
import yaml
from dagster import DagsterInstance
from nbclient import NotebookClient

from pipelines.launch import failed_warnings
from pipelines.scoring.models.metrics import top_k_capture
from tests.config_files import CONFIG_DIR
from tests.conftest import REPO_ROOT, make_world, run_pipeline
from tests.integration.conftest import failures

pytestmark = pytest.mark.integration

ACCOUNTS, SEED = 1000, 11


def _config_accepting_a_years_growth(root, as_of) -> str:
    """The shipped config, with the volume gates of ``as_of`` accepted: a year separates the
    two runs, so the world (and every tier) has grown beyond a day's bounds, as it would have."""
    config = root / "config"
    shutil.copytree(CONFIG_DIR, config)
    accepted = [
        {"check": check, "as_of": as_of.isoformat(), "accepted_by": "tests",
         "accepted_on": as_of.isoformat(), "reason": "a year between the two runs"}
        for check in ("volume", "tier_volume")
    ]  # fmt: skip
    (config / "acceptances.yaml").write_text(
        yaml.safe_dump({"version": "1", "acceptances": accepted}), encoding="utf-8"
    )
    return str(config)


@pytest.fixture(scope="module")
def backtested(tmp_path_factory, dbt_manifest):
    root = tmp_path_factory.mktemp("backtest")
    world = make_world(root, ACCOUNTS, SEED)
    year_ago = world.as_of - timedelta(365)
    with DagsterInstance.ephemeral() as instance, pytest.MonkeyPatch.context() as mp:
        mp.setenv("STRATUM_CONFIG_DIR", _config_accepting_a_years_growth(root, world.as_of))
        first = run_pipeline(world, instance, as_of=year_ago)
        assert first.success, failures(first)
        result = run_pipeline(world, instance)
        assert result.success, failures(result)
        world.warnings = failed_warnings(instance, result.run_id)
    con = duckdb.connect(str(world.data_dir / "serving" / "stratum_serving.duckdb"), read_only=True)
    try:
        rows = con.execute("select * from tier_backtest").df()
        snapshots = con.execute("select * from tier_snapshots order by as_of_date").df()
    finally:
        con.close()
    return world, result, rows, snapshots, year_ago


def _metric(rows: pd.DataFrame, subject: str, metric: str, k: float | None = None) -> float:
    sel = (rows["subject"] == subject) & (rows["metric"] == metric)
    if k is not None:
        sel &= np.isclose(rows["k"], k)
    return float(rows.loc[sel, "value"].item())


def test_the_year_old_snapshot_is_judged_on_what_followed(backtested):
    world, _, rows, snapshots, year_ago = backtested
    current = snapshots.iloc[-1]
    assert set(rows["snapshot_id"]) == {current["snapshot_id"]}
    # Only the 365-day horizon has a published snapshot (180 days back was never run).
    assert set(rows["horizon_days"]) == {365}
    assert set(rows["backtest_from"].astype(str)) == {year_ago.isoformat()}
    old = snapshots[snapshots["as_of_date"].astype(str) == year_ago.isoformat()].iloc[0]
    assert set(rows["source"]) == {f"snapshot {old['snapshot_id']}"}
    # Independently: the year-old snapshot and the paid orders since, from the warehouse.
    published = pd.read_parquet(world.data_dir / "serving" / old["parquet_path"])
    con = duckdb.connect(str(world.data_dir / "warehouse" / "stratum.duckdb"), read_only=True)
    try:
        orders = con.execute(
            "select golden_account_id, order_date, status, net_amount_cny from marts.orders"
        ).df()
        current = set(
            con.execute("select golden_account_id from features.account_features").df()[
                "golden_account_id"
            ]
        )
    finally:
        con.close()
    paid = orders[(orders["net_amount_cny"] > 0) & (orders["status"] != "cancelled")]
    since = paid[
        (pd.to_datetime(paid["order_date"]) > pd.Timestamp(year_ago))
        & (pd.to_datetime(paid["order_date"]) <= pd.Timestamp(world.as_of))
    ]
    revenue = since.groupby("golden_account_id")["net_amount_cny"].sum().astype(float)
    # Accounts of the old snapshot that still exist (a record merged away since has no future).
    still = published["golden_account_id"].isin(current)
    paying = published[published["has_paid_order"] & still].set_index("golden_account_id")
    outcome = revenue.reindex(paying.index).fillna(0.0).to_numpy()
    for subject, column in (("trailing_revenue", "net_revenue_365d"), ("clv_12m", "clv_12m")):
        expected = top_k_capture(paying[column].to_numpy(float), outcome, 0.2)
        assert _metric(rows, subject, "capture", 0.2) == pytest.approx(expected), subject
    a = paying[paying["tier"] == "A"]
    assert _metric(rows, "A", "account_share") == pytest.approx(len(a) / len(paying))
    retained = (revenue.reindex(a.index).fillna(0) > 0).mean()
    assert _metric(rows, "A", "retention") == pytest.approx(retained)


def test_every_target_has_its_baselines_and_calibration(backtested):
    _, _, rows, _, _ = backtested
    subjects = rows.groupby("target")["subject"].agg(set).to_dict()
    assert {"tier_order", "expected_value_12m", "trailing_revenue"} <= subjects["value"]
    assert subjects["churn"] == {"churn_risk", "days_since_last_order"}
    assert subjects["conversion"] == {"conversion_probability", "base_rate", "has_open_lead"}
    baselines = set(rows.loc[rows["is_baseline"], "subject"])
    assert baselines == {"trailing_revenue", "days_since_last_order", "base_rate", "has_open_lead"}
    capture = rows[(rows["metric"] == "capture") & (rows["subject"] == "tier_order")]
    assert capture.sort_values("k")["value"].is_monotonic_increasing
    deciles = rows[(rows["subject"] == "churn_risk") & (rows["metric"] == "decile_observed")]
    assert sorted(deciles["k"]) == [float(k) for k in range(1, 11)]
    assert rows["value"].notna().all()


def test_numeric_metadata_and_the_warn_check(backtested):
    _, result, rows, _, _ = backtested
    mats = [e.materialization for e in result.get_asset_materialization_events()]
    meta = next(m.metadata for m in mats if m.asset_key.path == ["tiers", "tier_backtest"])
    assert meta["capture20_tier_order_365d"].value == pytest.approx(
        _metric(rows, "tier_order", "capture", 0.2)
    )
    assert meta["churn_auc_recency_365d"].value == pytest.approx(
        _metric(rows, "days_since_last_order", "auc")
    )
    assert "180 days (no snapshot for" in meta["skipped"].value
    (check,) = [
        e.event_specific_data
        for e in result.all_events
        if e.event_type_value == "ASSET_CHECK_EVALUATION"
        and e.event_specific_data.check_name == "published_scores_beat_naive_baselines"
    ]
    print(f"\nbacktest check: passed={check.passed}; {check.metadata['losses'].value}")
    assert check.severity.value == "WARN"
    assert check.metadata["horizons_judged"].value == 1
    assert check.passed == (check.metadata["losses"].value == "none")
    # What make run prints at the end: every failed WARN check of the run, this one included.
    failed_warn = [
        e.event_specific_data
        for e in result.all_events
        if e.event_type_value == "ASSET_CHECK_EVALUATION"
        and not e.event_specific_data.passed
        and e.event_specific_data.severity.value == "WARN"
    ]
    warnings = backtested[0].warnings
    assert len(warnings) == len(failed_warn)
    if not check.passed:
        assert f"tiers/tier_backtest {check.check_name}: 365d: " in "\n".join(warnings)


def test_headline_and_notebook(backtested, capsys, monkeypatch):
    world, _, rows, _, year_ago = backtested
    for key, value in world.env().items():
        monkeypatch.setenv(key, value)
    from pipelines.backtest import headline

    assert headline.main() == 0
    out = capsys.readouterr().out
    print(out)
    assert f"Backtest over 365 days (tiers published for {year_ago}" in out
    tier_order = _metric(rows, "tier_order", "capture", 0.2)
    assert f"top 20% by tier order captured {tier_order:.1%}" in out
    monkeypatch.setenv("PYTHONPATH", str(REPO_ROOT))
    nb = nbformat.read(REPO_ROOT / "notebooks" / "tier_validity.ipynb", as_version=4)
    client = NotebookClient(
        nb, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(REPO_ROOT)}}
    )
    client.execute()
    assert (world.data_dir / "serving" / "tier_validity.png").stat().st_size > 1000
