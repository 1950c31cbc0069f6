"""Gates through the whole job: a bad delivery blocks every run until it is fixed or accepted.

On a copy of the template's published world (D0 and D in force), one run after another:

1. ``blocked``: an accounts re-export with malformed USCCs (the GX suite refuses it) and an
   orders file whose rows are nearly all unusable (the quarantine rate refuses it);
2. ``rerun``: the same date again with no new file: still blocked, saying why;
3. ``accounts_fixed``: the accounts export replaced by its corrected version: the bad rows are
   withdrawn and the accounts gate opens; the orders still block;
4. ``fixed``: the orders file removed: withdrawn too, the run publishes — exactly the
   template's snapshot for D, with the same movers and notices (a same-day rerun compares
   with the same predecessor);
5. ``soft_deleted``: 90% of the accounts re-sent as deleted: the volume check stops the run
   after dbt, naming the change and the snapshot still in force;
6. ``accepted``: the change accepted in config/acceptances.yaml and the blocked run
   re-executed from its failure: published, small.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass

import pandas as pd
import pytest
import yaml
from dagster import ReexecutionOptions, execute_job, reconstructable
from threadpoolctl import threadpool_limits

from pipelines.settings import REPO_ROOT
from tests.conftest import run_pipeline
from tests.reliability.conftest import D0, D, Env, change_tables, clone, in_force
from tests.reliability.harness import stratum_job

pytestmark = pytest.mark.integration

DOWNSTREAM = {
    "customer_360",
    "scores/account_scores",
    "tiers/customer_tier",
    "publish/tier_snapshot",
}


@dataclass
class Step:
    run_id: str
    success: bool
    checks: dict[str, tuple[bool, str]]  # "asset:check" -> (passed, severity)
    check_metadata: dict[str, dict]
    materialized: set[str]
    tags: dict[str, str]
    current: str  # the snapshot BI sees as current


def _run(env: Env, instance, reexecute: str | None = None, config_dir=None) -> Step:
    """Run the job for D (or re-execute a failed run from its failure, as the UI does)."""
    with pytest.MonkeyPatch.context() as mp:
        env.isolate(mp)
        if config_dir is not None:
            mp.setenv("STRATUM_CONFIG_DIR", str(config_dir))
        if reexecute is None:
            result = run_pipeline(env.world, instance, D)
        else:
            result = execute_job(
                reconstructable(stratum_job),
                instance=instance,
                tags={"dagster/partition": D.isoformat()},
                reexecution_options=ReexecutionOptions.from_failure(reexecute, instance),
            )
    checks, metadata = {}, {}
    for e in result.get_asset_check_evaluations():
        key = f"{e.asset_key.to_user_string()}:{e.check_name}"
        checks[key] = (e.passed, e.severity.value)
        metadata[key] = {k: v.value for k, v in e.metadata.items()}
    with env.serving() as con:
        current = con.execute("select distinct snapshot_id from customer_tier_current").fetchone()[
            0
        ]
    return Step(
        result.run_id,
        result.success,
        checks,
        metadata,
        {m.asset_key.to_user_string() for m in result.get_asset_materialization_events()},
        dict(instance.get_run_by_id(result.run_id).tags),
        current,
    )


def _accounts(env: Env) -> pd.DataFrame:
    """The accounts as delivered to the template (every column as text)."""
    (path,) = (env.world.landing / "crm_accounts").glob("*delivery1.csv")
    return pd.read_csv(path, dtype=str, keep_default_na=False)


@pytest.fixture(scope="module")
def world(template, tmp_path_factory):
    env = clone(template["full"], tmp_path_factory.mktemp("gates") / "world")
    with env.instance() as instance, threadpool_limits(limits=1, user_api="openmp"):
        yield env, instance


@pytest.fixture(scope="module")
def baseline(template, tmp_path_factory) -> Env:
    """The template's uninterrupted runs, untouched."""
    return clone(template["full"], tmp_path_factory.mktemp("gates") / "baseline")


@pytest.fixture(scope="module")
def blocked(world):
    env, instance = world
    accounts = _accounts(env).head(40).copy()
    accounts.loc[accounts.index[:10], "uscc"] = "UNKNOWN-USCC"
    accounts.to_csv(env.world.landing / "crm_accounts" / "crm_accounts_reexport.csv", index=False)
    orders = pd.DataFrame(
        {
            "order_id": [f"BAD-{i}" for i in range(40)],
            "account_id": accounts["account_id"].iloc[0],
            "order_date": D.isoformat(),
            "status": "completed",
            "amount_cny": [f"-{100 + i}.00" for i in range(36)] + ["100.00"] * 4,
            "refund_amount_cny": "0",
            "product_line": "cloud",
            "updated_at": f"{D} 10:00:00",
        }
    )
    orders.to_csv(env.world.landing / "orders" / "orders_bad.csv", index=False)
    return _run(env, instance)


@pytest.fixture(scope="module")
def rerun(world, blocked):
    return _run(*world)


@pytest.fixture(scope="module")
def accounts_fixed(world, rerun):
    env, instance = world
    # The corrected export: the same 40 account versions, with their real USCCs.
    _accounts(env).head(40).to_csv(
        env.world.landing / "crm_accounts" / "crm_accounts_reexport.csv", index=False
    )
    return _run(env, instance)


@pytest.fixture(scope="module")
def fixed(world, accounts_fixed):
    env, instance = world
    (env.world.landing / "orders" / "orders_bad.csv").unlink()
    return _run(env, instance)


def _clauses(step: Step) -> tuple[list[str], str]:
    failed, in_force_note = step.tags["stratum/blocked"].split(" — ")
    return sorted(failed.split("; ")), in_force_note


ACCOUNTS_CLAUSE = (
    "crm_accounts GX suite failed on crm_accounts/crm_accounts_reexport.csv: column values to "
    "match regex on uscc (25.0% of rows)"
)
ORDERS_CLAUSE = (
    "orders quarantine 90.0% > 5.0% in orders/orders_bad.csv: 36 negative amount (amount_cny)"
)


def test_a_bad_delivery_blocks_and_says_why_in_one_sentence(blocked, baseline):
    assert not blocked.success
    assert blocked.checks["raw/crm_accounts:gx_crm_accounts"] == (False, "ERROR")
    assert blocked.checks["raw/orders:quarantine_rate"] == (False, "ERROR")
    assert not blocked.materialized & DOWNSTREAM
    in_force_id, _ = in_force(baseline, D)
    assert blocked.current == in_force_id
    assert _clauses(blocked) == (
        [ACCOUNTS_CLAUSE, ORDERS_CLAUSE],
        f"published tiers unchanged: snapshot {in_force_id} (as of {D}) stays in force.",
    )


def test_rerunning_without_a_fix_stays_blocked(blocked, rerun):
    assert not rerun.success
    assert rerun.checks["raw/crm_accounts:gx_crm_accounts"] == (False, "ERROR")
    assert rerun.checks["raw/orders:quarantine_rate"] == (False, "ERROR")
    assert _clauses(rerun) == _clauses(blocked)
    assert not rerun.materialized & DOWNSTREAM


def test_a_corrected_file_unblocks_its_gate_the_other_still_blocks(accounts_fixed, blocked):
    meta = accounts_fixed.check_metadata
    # Open: nothing outstanding (a re-export of old versions only warns about freshness).
    assert accounts_fixed.checks["raw/crm_accounts:gx_crm_accounts"][1] == "WARN"
    assert meta["raw/crm_accounts:gx_crm_accounts"]["outstanding_failures"] == 0
    assert meta["raw/crm_accounts:gx_crm_accounts"]["withdrawn_files"] == [
        "crm_accounts/crm_accounts_reexport.csv"
    ]
    assert accounts_fixed.checks["raw/orders:quarantine_rate"] == (False, "ERROR")
    assert _clauses(accounts_fixed) == ([ORDERS_CLAUSE], _clauses(blocked)[1])
    assert not accounts_fixed.materialized & DOWNSTREAM


def test_fixing_the_delivery_unblocks_and_publishes_the_same_tiers(world, fixed, baseline):
    env, _ = world
    assert fixed.success
    # Whichever of the orders gates ran first withdrew the file.
    reported = [m.get("withdrawn_files") for k, m in fixed.check_metadata.items() if "orders" in k]
    assert [r for r in reported if r] == [["orders/orders_bad.csv"]]
    with env.warehouse() as con:
        withdrawn = con.execute(
            "select path, reason from quality.withdrawn_files order by withdrawn_at"
        ).fetchall()
    assert withdrawn == [
        ("crm_accounts/crm_accounts_reexport.csv",
         "gx_crm_accounts failed; the file was replaced in the landing folder"),
        ("orders/orders_bad.csv",
         "quarantine_rate failed; the file was removed from the landing folder"),
    ]  # fmt: skip
    got_id, got = in_force(env, D)
    want_id, want = in_force(baseline, D)
    assert got_id != want_id and fixed.current == got_id  # a new snapshot, in force
    pd.testing.assert_frame_equal(got, want, check_exact=False, rtol=1e-9)
    got_changes, want_changes = change_tables(env, got_id), change_tables(baseline, want_id)
    # The template's risk report caps D0's best A account at B (tests/reliability/conftest.py).
    notices = want_changes["downgrade_notices"]
    capped = notices[notices["reason_en"].str.contains("capped at B by risk gate high_risk_cap")]
    assert capped[["from_tier", "to_tier"]].values.tolist() == [["A", "B"]]
    for table, frame in want_changes.items():
        pd.testing.assert_frame_equal(got_changes[table], frame, check_exact=False, rtol=1e-9)


@pytest.fixture(scope="module")
def soft_deleted(world, fixed):
    env, instance = world
    accounts = _accounts(env)
    deleted = accounts.sample(frac=0.9, random_state=7).copy()
    deleted["is_deleted"] = "true"
    deleted["updated_at"] = f"{D} 18:00:00"
    deleted.to_csv(env.world.landing / "crm_accounts" / "crm_accounts_cleanup.csv", index=False)
    step = _run(env, instance)
    with env.warehouse() as con:
        profiled = con.execute("select count(*) from marts.customer_360").fetchone()[0]
    return step, profiled


@pytest.fixture(scope="module")
def accepted(world, soft_deleted, tmp_path_factory):
    env, instance = world
    config = tmp_path_factory.mktemp("config") / "config"
    shutil.copytree(REPO_ROOT / "config", config)
    entries = [
        {"check": check, "as_of": D.isoformat(), "accepted_by": "crm-team",
         "accepted_on": D.isoformat(), "reason": "Dormant accounts archived in the CRM (CRM-1234)."}
        for check in ("volume", "tier_volume")
    ]  # fmt: skip
    (config / "acceptances.yaml").write_text(
        yaml.safe_dump({"version": "2", "acceptances": entries})
    )
    # Accept, then re-execute the blocked run from its failure (the profile it built stands).
    return _run(env, instance, reexecute=soft_deleted[0].run_id, config_dir=config)


def test_a_90_percent_soft_delete_is_stopped_by_the_volume_check(soft_deleted, baseline):
    step, profiled = soft_deleted
    assert not step.success
    assert step.checks["customer_360:volume"] == (False, "ERROR")
    assert "customer_360" in step.materialized
    assert not step.materialized & {"scores/account_scores", "publish/tier_snapshot"}
    # Compared with the previous date's snapshot, as the tier step does.
    previous_id, before = in_force(baseline, D0)
    assert profiled < 0.2 * len(before)
    sentence = step.tags["stratum/blocked"]
    assert sentence.startswith(
        f"accounts {profiled:,} vs {len(before):,} in snapshot {previous_id} "
        f"({profiled / len(before) - 1:+.1%}, more than the 20% drop allowed)"
    )
    assert sentence.endswith(f"snapshot {step.current} (as of {D}) stays in force.")
    meta = step.check_metadata["customer_360:volume"]
    assert meta["suspect_files"] == "crm_accounts/crm_accounts_cleanup.csv"
    assert f"as_of: {D}" in meta["to_accept"]


def test_an_accepted_change_is_published(world, soft_deleted, accepted):
    env, _ = world
    step, profiled = soft_deleted
    assert accepted.success
    assert accepted.checks["customer_360:volume"] == (True, "WARN")
    assert accepted.check_metadata["customer_360:volume"]["acceptance"] == (
        f"volume accepted for as of {D} by crm-team on {D}: Dormant accounts archived in the "
        "CRM (CRM-1234)."
    )
    snapshot_id, rows = in_force(env, D)
    assert accepted.current == snapshot_id != step.current
    assert len(rows) == profiled
