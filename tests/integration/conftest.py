"""One generated world, run once, shared by the integration modules that only read it (the graph
is the slow part). A module that changes a world runs on its own copy (``copy_world``)."""

from __future__ import annotations

import hashlib
import shutil
from datetime import date, timedelta
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest
from dagster import DagsterInstance

from pipelines.generate.uscc import make_uscc
from tests.conftest import PipelineWorld, make_world, run_pipeline

# Hand-made accounts whose tier the default policy (config/tiers/default.yaml) decides plainly.
HAND_CASES = {
    # Bought big every month this year, healthy risk: ABC A, alive, top CLV -> A.
    "HAND-WHALE": "A",
    # The same buying pattern but listed for abnormal operation with lawsuits: the risk gate
    # caps it at B (no dedicated team until cleared).
    "HAND-RISKY-WHALE": "B",
    # Engaged, has leads, never bought: prospect.
    "HAND-PROSPECT": "P",
    # Its only orders were refunded in full: refunds net out, so still a prospect.
    "HAND-REFUNDED": "P",
    # One small order two years ago: paying but neither ABC A/B nor high RFM/CLV -> C.
    "HAND-ONE-OFF": "C",
}


def add_hand_cases(world: PipelineWorld) -> None:
    """Drop the hand-made accounts, orders and risk records into the landing zone as CSV files."""
    as_of = world.as_of
    codes = make_uscc(np.random.default_rng(99), ["330100"] * 5)
    ts = f"{as_of - timedelta(days=800):%Y-%m-%d} 09:00:00"
    accounts = pd.DataFrame(
        {
            "account_id": list(HAND_CASES),
            "account_name": [
                "杭州鲸鱼测试科技有限公司",
                "杭州风险测试科技有限公司",
                "杭州潜客测试科技有限公司",
                "杭州退款测试科技有限公司",
                "杭州单次测试科技有限公司",
            ],  # fmt: skip
            "uscc": list(codes),
            "industry": ["SaaS软件"] * 5,
            "employee_count": [2000, 2000, 300, 300, 50],
            "annual_revenue_cny": ["500000000.00"] * 5,
            "province": ["浙江省"] * 5,
            "city": ["杭州市"] * 5,
            "parent_account_id": [""] * 5,
            "owner_team": ["华东大客户部"] * 5,
            "created_at": [ts] * 5,
            "updated_at": [ts] * 5,
            "is_deleted": ["false"] * 5,
        }
    )
    orders = []
    for account in ("HAND-WHALE", "HAND-RISKY-WHALE"):
        for m in range(12):
            day = as_of - timedelta(days=10 + 30 * m)
            orders.append((f"{account}-O{m}", account, day, "completed", "3000000.00", "0"))
    for m in range(3):
        day = as_of - timedelta(days=40 + 30 * m)
        orders.append(
            (f"HAND-REFUNDED-O{m}", "HAND-REFUNDED", day, "refunded", "80000.00", "80000.00")
        )
    orders.append(
        ("HAND-ONE-OFF-O1", "HAND-ONE-OFF", as_of - timedelta(days=700), "completed", "900.00", "0")
    )
    orders = pd.DataFrame(
        orders,
        columns=[
            "order_id",
            "account_id",
            "order_date",
            "status",
            "amount_cny",
            "refund_amount_cny",
        ],
    )
    orders["product_line"] = "软件订阅"
    orders["updated_at"] = orders["order_date"].astype(str) + " 12:00:00"
    risk = pd.DataFrame(
        {
            "uscc": list(codes),
            "as_of_date": [f"{as_of - timedelta(days=20):%Y-%m-%d}"] * 5,
            "credit_rating": ["AA", "C", "A", "A", "A"],
            "overdue_amount_cny": ["0", "9000000.00", "0", "0", "0"],
            "lawsuit_count": ["0", "12", "0", "0", "0"],
            "abnormal_operation": ["否", "是", "否", "否", "否"],
        }
    )
    leads = "\n".join(
        f'{{"lead_id": "HAND-L{i}", "account_id": "HAND-PROSPECT", "lead_source": "event", '
        f'"status": "open", "created_at": "{as_of - timedelta(days=5 + i):%Y-%m-%d} 10:00:00", '
        f'"updated_at": "{as_of - timedelta(days=5 + i):%Y-%m-%d} 10:00:00"}}'
        for i in range(2)
    )
    accounts.to_csv(world.landing / "crm_accounts" / "hand_cases.csv", index=False)
    orders.to_csv(world.landing / "orders" / "hand_cases.csv", index=False)
    risk.to_csv(world.landing / "risk" / "hand_cases.csv", index=False)
    (world.landing / "crm_leads" / "hand_cases.jsonl").write_text(leads + "\n", encoding="utf-8")


def failures(result) -> list[tuple[str, str]]:
    """Failed steps with their error, and failed checks with the sentence that says why."""
    steps = [
        (e.step_key, e.event_specific_data.error.message[:2000])
        for e in result.all_events
        if e.event_type_value == "STEP_FAILURE"
    ]
    checks = [
        (e.step_key, str({k: v.value for k, v in e.event_specific_data.metadata.items()})[:2000])
        for e in result.all_events
        if e.event_type_value == "ASSET_CHECK_EVALUATION" and not e.event_specific_data.passed
    ]
    return steps + checks


def golden_ids(world: PipelineWorld) -> dict[str, str]:
    con = duckdb.connect(str(world.data_dir / "warehouse" / "stratum.duckdb"), read_only=True)
    try:
        return dict(
            con.execute(
                "select account_id, golden_account_id from intermediate.int_account_identity_map"
            ).fetchall()
        )
    finally:
        con.close()


@pytest.fixture(scope="session")
def instance(tmp_path_factory):
    """A persistent instance in a temp DAGSTER_HOME, so the UI test can serve its history."""
    with DagsterInstance.local_temp(str(tmp_path_factory.mktemp("dagster_home"))) as inst:
        yield inst


@pytest.fixture(scope="session")
def world(tmp_path_factory, dbt_manifest) -> PipelineWorld:
    w = make_world(tmp_path_factory.mktemp("world"), accounts=1000, seed=11)
    add_hand_cases(w)
    return w


@pytest.fixture(scope="session")
def first_run(world, instance):
    """The first run over the world; returns the published snapshot's id and Parquet path."""
    result = run_pipeline(world, instance)
    assert result.success, failures(result)
    con = duckdb.connect(str(world.data_dir / "serving" / "stratum_serving.duckdb"), read_only=True)
    snapshot_id, path = con.execute(
        "select snapshot_id, parquet_path from tier_snapshots"
    ).fetchone()
    con.close()
    return {
        "result": result,
        "snapshot_id": snapshot_id,
        "parquet": world.data_dir / "serving" / path,
    }


def as_date(value) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value))


@pytest.fixture
def first_run_copy(world, first_run, tmp_path) -> PipelineWorld:
    """A private copy of the first run's world, for a test that changes it."""
    return copy_world(world, tmp_path)


def copy_world(world: PipelineWorld, root: Path) -> PipelineWorld:
    """Everything the world's runs left in its data dir (landing, warehouse, published
    snapshots, models), copied under ``root``: a world of its own to change."""
    data_dir = root / "data"
    shutil.copytree(world.data_dir, data_dir)
    return PipelineWorld(data_dir, data_dir / "landing", data_dir / "ground_truth", world.as_of)


# --- Reading what a run left (one copy of each helper for every integration module) ---------


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def materialized(result) -> set[str]:
    """Asset keys (``a/b``) a run materialized."""
    return {
        "/".join(e.asset_key.path)
        for e in result.all_events
        if e.event_type_value == "ASSET_MATERIALIZATION"
    }


def warehouse(world: PipelineWorld) -> duckdb.DuckDBPyConnection:
    """The world's warehouse, read only (close it: other steps write to it)."""
    return duckdb.connect(str(world.data_dir / "warehouse" / "stratum.duckdb"), read_only=True)


def serving(world: PipelineWorld) -> duckdb.DuckDBPyConnection:
    """The world's serving database, read only, as BI opens it."""
    return duckdb.connect(
        str(world.data_dir / "serving" / "stratum_serving.duckdb"), read_only=True
    )


def snapshot_frame(world: PipelineWorld, snapshot_id: str) -> pd.DataFrame:
    """One published snapshot's rows, indexed by golden_account_id."""
    path = world.data_dir / "serving" / "snapshots" / snapshot_id / "customer_tier.parquet"
    return pd.read_parquet(path).set_index("golden_account_id")
