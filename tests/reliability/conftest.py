"""One published small world, built once per session and copied by every module that needs it.

The template is a generated history split in two deliveries: what was known by ``D0`` (four
weeks before the world's end ``D``) is delivered and run for ``D0``; then the rest is
delivered. The first delivery also carries four hand-made contacts (``tests/privacy/people``),
and the second the erasure requests of three of them, so the run for D erases them and
rewrites the warehouse file. The second delivery also carries a risk report rating D0's best
tier-A account ``C``: four weeks are inside the tier policy's dwell and downgrade grace, so the
world's own data demotes nobody by D, while a high-risk cap applies at once. Two states are
kept:

* ``mid``: D0 published, the second delivery in the landing folder, not yet loaded;
* ``full``: ``mid`` plus an uninterrupted run for ``D`` — the baseline a killed-and-rerun
  pipeline must reproduce, with movers and downgrade notices against D0.

Modules copy a state (data dir and Dagster instance) into their own temp dir, so no test
changes a world another test reads.
"""

from __future__ import annotations

import os
import shutil
import sys
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import duckdb
import pandas as pd
import pytest
from dagster import DagsterInstance
from threadpoolctl import threadpool_limits

from pipelines.settings import ENV_OVERRIDES
from tests.conftest import WORLD_AS_OF, PipelineWorld, run_pipeline
from tests.deliveries import deliver, split_by_date
from tests.privacy import people

ACCOUNTS = 200
SEED = 41
D = WORLD_AS_OF
D0 = D - timedelta(days=28)


@dataclass(frozen=True)
class Env:
    """A copy of the template: data dir, Dagster home, and what a child process needs."""

    root: Path

    @property
    def data_dir(self) -> Path:
        return self.root / "data"

    @property
    def dagster_home(self) -> Path:
        return self.root / "dagster_home"

    @property
    def world(self) -> PipelineWorld:
        return PipelineWorld(self.data_dir, self.data_dir / "landing", self.root / "truth", D)

    def env(self) -> dict[str, str]:
        """A child process's environment: this copy's data dir and instance, nothing else's."""
        inherited = {k: v for k, v in os.environ.items() if k not in ENV_OVERRIDES}
        return {
            **inherited,
            **self.world.env(),
            "DAGSTER_HOME": str(self.dagster_home),
            "OMP_NUM_THREADS": "1",  # see tests/integration/test_integration_deliveries.py
            "PYTHONPATH": str(Path(__file__).resolve().parents[2]),
        }

    def isolate(self, mp: pytest.MonkeyPatch) -> None:
        """Point this process at the copy (and at no other test's quality dir)."""
        for name in ENV_OVERRIDES:
            mp.delenv(name, raising=False)
        for key, value in self.world.env().items():
            mp.setenv(key, value)
        mp.setenv("DAGSTER_HOME", str(self.dagster_home))

    def instance(self) -> DagsterInstance:
        """The copy's instance, as ``DagsterInstance.get()`` opens it in a child process."""
        from dagster._core.instance.ref import InstanceRef

        return DagsterInstance.from_ref(InstanceRef.from_dir(str(self.dagster_home)))

    def serving(self) -> duckdb.DuckDBPyConnection:
        return duckdb.connect(
            str(self.data_dir / "serving" / "stratum_serving.duckdb"), read_only=True
        )

    def warehouse(self) -> duckdb.DuckDBPyConnection:
        return duckdb.connect(str(self.data_dir / "warehouse" / "stratum.duckdb"), read_only=True)


def clone(state: Path, dest: Path) -> Env:
    shutil.copytree(state, dest, symlinks=True)
    return Env(dest)


@pytest.fixture(scope="session")
def template(tmp_path_factory, dbt_manifest) -> dict[str, Path]:
    """``{"mid": <root>, "full": <root>}`` (see the module docstring)."""
    from pipelines.generate import generate_world

    base = tmp_path_factory.mktemp("reliability-template")
    env = Env(base / "work")
    world = generate_world(ACCOUNTS, SEED, D)
    by_d0, after = split_by_date(world.landing_frames(), D0)
    # The CRM exports each account once, in its latest version: deliver them all up front
    # (staging ignores versions updated after the as-of date) so D0's activities and orders
    # find their accounts.
    by_d0["crm_accounts"] = world.landing_frames()["crm_accounts"]
    del after["crm_accounts"]
    deliver(env.world.landing, by_d0, "delivery1")
    accounts = by_d0["crm_accounts"]
    alive = accounts.loc[~accounts["is_deleted"].astype(bool), "account_id"]
    people.write_people(env.world.landing, alive.head(4).tolist(), D0)
    people.assert_unique(env.world.landing, (*people.ERASED, people.DONGFANG))
    states = {}
    with pytest.MonkeyPatch.context() as mp, threadpool_limits(limits=1, user_api="openmp"):
        env.isolate(mp)
        env.dagster_home.mkdir(parents=True)
        with env.instance() as instance:
            result = run_pipeline(env.world, instance, D0)
            assert result.success, _failures(result)
        deliver(env.world.landing, after, "delivery2")
        deliver(env.world.landing, {"risk": _risk_turns_high(env, world.landing_frames())}, "alert")
        people.write_requests(env.world.landing, D)
        states["mid"] = base / "mid"
        shutil.copytree(env.root, states["mid"])
        with env.instance() as instance:
            result = run_pipeline(env.world, instance, D)
            assert result.success, _failures(result)
    states["full"] = base / "full"
    shutil.copytree(env.root, states["full"])
    return states


def _risk_turns_high(env: Env, frames: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """A provider report dated D rating the best tier-A account of D0 ``C`` (high risk).

    Four weeks are within the tier policy's dwell and downgrade grace, so on the world's own
    data nothing is demoted between D0 and D; a high-risk cap applies at once (no grace), so
    this account is demoted and gets a downgrade notice, and the quota's freed seats move
    others: the run for D has movers and notices to compare.
    """
    _, tiers = in_force(env, D0)
    with env.warehouse() as con:
        uscc = con.execute("select golden_account_id, uscc from marts.customer_360").df()
    top = (
        tiers.loc[tiers["tier"] == "A", ["golden_account_id", "expected_value_12m"]]
        .merge(uscc.dropna(), on="golden_account_id")
        .sort_values(["expected_value_12m", "golden_account_id"], ascending=[False, True])
    )
    assert len(top), "no tier-A account with a credit code in the D0 snapshot"
    risk = frames["risk"]
    code = top["uscc"].iloc[0]
    assert not ((risk["uscc"] == code) & (risk["as_of_date"] >= pd.Timestamp(D))).any()
    return pd.DataFrame(
        {"uscc": [code], "as_of_date": [pd.Timestamp(D)], "credit_rating": ["C"],
         "overdue_amount_cny": [250000.0], "lawsuit_count": [2], "abnormal_operation": [False]}
    )  # fmt: skip


def _failures(result) -> list:
    return [
        (e.step_key, str(e.event_specific_data)[:500])
        for e in result.all_events
        if e.event_type_value == "STEP_FAILURE"
    ]


def in_force(env: Env, as_of: date) -> tuple[str, pd.DataFrame]:
    """The in-force snapshot of ``as_of``: its id and rows (without the id), by account."""
    with env.serving() as con:
        (snapshot_id,) = con.execute(
            "select snapshot_id from tier_snapshots where as_of_date = ? and in_force", [as_of]
        ).fetchone()
    path = env.data_dir / "serving" / "snapshots" / snapshot_id / "customer_tier.parquet"
    frame = pd.read_parquet(path).drop(columns=["snapshot_id"])
    return snapshot_id, frame.sort_values("golden_account_id").reset_index(drop=True)


def change_tables(env: Env, snapshot_id: str) -> dict[str, pd.DataFrame]:
    """The serving change tables' rows of one snapshot (without its id), in a stable order."""
    out = {}
    with env.serving() as con:
        for table in ("tier_ledger", "downgrade_notices", "migration_matrix", "tier_kpis"):
            frame = con.execute(f"select * from {table} where snapshot_id = ?", [snapshot_id]).df()
            frame = frame.drop(columns=[c for c in frame.columns if "snapshot_id" in c])
            out[table] = frame.sort_values(list(frame.columns)).reset_index(drop=True)
    return out


if sys.platform != "linux":  # pragma: no cover - the fault suite reads /proc and uses SIGKILL
    collect_ignore_glob = ["test_reliability_*.py"]
