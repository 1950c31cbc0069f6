"""Raw gates that cannot be walked around: a failed batch blocks every run until its files are
fixed, withdrawn or accepted; a batch nobody judged is judged by the next run.

Files go through the real loader into a temp warehouse, as the raw assets load them.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import duckdb
import numpy as np
import pytest

from pipelines.config import Loaded
from pipelines.ingest.loader import load_entity, sha256_file
from pipelines.ingest.sources_config import SourceConfig
from pipelines.quality.acceptances import AcceptancesFile
from pipelines.quality.checks import run_quarantine_gate, run_raw_gate
from pipelines.resources import Warehouse
from pipelines.settings import get_paths
from tests.config_files import run_context
from tests.ingest.conftest import FIXTURES
from tests.quality.conftest import AS_OF

ACCOUNT_COLUMNS = (
    "account_id,account_name,uscc,industry,employee_count,annual_revenue_cny,province,city,"
    "parent_account_id,owner_team,created_at,updated_at,is_deleted"
)


@dataclass
class Env:
    landing: Path
    warehouse: Warehouse

    def deliver(self, entity: str, name: str, text: str) -> Path:
        path = self.landing / entity / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        return path

    def copy(self, entity: str, fixture: str) -> Path:
        return self.deliver(entity, fixture, (FIXTURES / fixture).read_text(encoding="utf-8-sig"))

    def load(self, entity: str, run_id: str) -> None:
        with self.warehouse.connect() as con:
            load_entity(con, entity, self.landing, run_id, datetime.now(), SourceConfig())

    def query(self, sql: str, params: list | None = None) -> list[tuple]:
        with duckdb.connect(self.warehouse.resolved_path(), read_only=True) as con:
            return con.execute(sql, params or []).fetchall()


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Env:
    monkeypatch.setenv("STRATUM_DATA_DIR", str(tmp_path / "data"))
    paths = get_paths()
    return Env(paths.landing_dir, Warehouse(path=str(paths.warehouse)))


def accounts_csv(first: int, n: int, bad_uscc: int = 0, seed: int = 3) -> str:
    """``n`` accounts (ids ``first``..), updated yesterday, the first ``bad_uscc`` of them with
    a malformed USCC (the loader keeps them; the GX suite's regex does not)."""
    from pipelines.generate.uscc import make_uscc

    codes = list(make_uscc(np.random.default_rng(seed + first), ["330100"] * n))
    stamp = f"{datetime.now() - timedelta(days=1):%Y-%m-%d} 09:00:00"
    rows = []
    for i in range(n):
        uscc = f"BAD{i:04d}" if i < bad_uscc else codes[i]
        rows.append(
            f"A{first + i:04d},测试{first + i}科技有限公司,{uscc},软件和信息技术服务业,50,"
            f"1000000.00,浙江省,杭州市,,华东一组,2020-01-01 09:00:00,{stamp},false"
        )
    return "\n".join([ACCOUNT_COLUMNS, *rows]) + "\n"


def gx(env: Env, run_id: str, acceptances: AcceptancesFile | None = None):
    return run_raw_gate("crm_accounts", _ctx(run_id, acceptances), env.warehouse)


def quarantine(env: Env, run_id: str, acceptances: AcceptancesFile | None = None):
    return run_quarantine_gate("orders", _ctx(run_id, acceptances), env.warehouse)


def _ctx(run_id: str, acceptances: AcceptancesFile | None):
    ctx = run_context(AS_OF, run_id)
    if acceptances is None:
        return ctx
    config = dataclasses.replace(
        ctx.config, acceptances=Loaded(acceptances, "test", Path("acceptances.yaml"))
    )
    return dataclasses.replace(ctx, config=config)


def _meta(result) -> dict:
    return {k: v.value for k, v in result.metadata.items()}


def test_a_failed_gx_batch_blocks_every_run_until_a_corrected_file_replaces_it(env):
    env.deliver("crm_accounts", "accounts_a.csv", accounts_csv(0, 10))
    env.load("crm_accounts", "run-1")
    assert gx(env, "run-1").passed

    bad = env.deliver("crm_accounts", "accounts_b.csv", accounts_csv(100, 10, bad_uscc=3))
    bad_sha = sha256_file(bad)
    env.load("crm_accounts", "run-2")
    failed = gx(env, "run-2")
    meta = _meta(failed)
    assert (failed.passed, failed.severity.value) == (False, "ERROR")
    assert meta["blocked"] == (
        "crm_accounts GX suite failed on crm_accounts/accounts_b.csv: column values to match "
        "regex on uscc (30.0% of rows) — nothing was published (no snapshot exists yet)."
    )
    assert f'files: ["crm_accounts/accounts_b.csv@{bad_sha[:16]}"]' in meta["to_accept"]

    # Rerunning with no new file does not walk around it; neither does a new clean file.
    env.deliver("crm_accounts", "accounts_c.csv", accounts_csv(200, 10))
    env.load("crm_accounts", "run-3")
    again = gx(env, "run-3")
    assert not again.passed and _meta(again)["outstanding_failures"] == 1
    assert "| run-3 | crm_accounts/accounts_c.csv | passed |" in _meta(again)["verdicts"]
    assert "| run-2 | crm_accounts/accounts_b.csv | failed |" in _meta(again)["verdicts"]

    # The corrected export replaces the bad one under the same name: the bad rows are
    # withdrawn (staging leaves them out) and the gate opens.
    env.deliver("crm_accounts", "accounts_b.csv", accounts_csv(100, 10))
    env.load("crm_accounts", "run-4")
    fixed = gx(env, "run-4")
    assert fixed.passed, _meta(fixed)
    assert _meta(fixed)["withdrawn_files"] == ["crm_accounts/accounts_b.csv"]
    assert env.query("select entity, path, sha256, batch from quality.withdrawn_files") == [
        ("crm_accounts", "crm_accounts/accounts_b.csv", bad_sha, "run-2")
    ]
    assert env.query(
        "select batch, status from quality.gate_state where gate = 'gx_crm_accounts' order by batch"
    ) == [("run-1", "passed"), ("run-2", "withdrawn"), ("run-3", "passed"), ("run-4", "passed")]
    assert gx(env, "run-5").passed


def test_a_batch_loaded_by_a_run_that_never_reached_its_check_is_judged_by_the_next(env):
    env.deliver("crm_accounts", "accounts_a.csv", accounts_csv(0, 10, bad_uscc=2))
    env.load("crm_accounts", "killed-run")  # killed before its checks ran
    later = gx(env, "next-run")
    assert not later.passed
    assert "| killed-r | crm_accounts/accounts_a.csv | failed |" in _meta(later)["verdicts"]
    assert env.query("select batch, status, judged_run_id from quality.gate_state") == [
        ("killed-run", "failed", "next-run")
    ]


def test_quarantine_gate_opens_when_the_bad_file_is_removed_not_when_a_clean_one_arrives(env):
    env.copy("crm_accounts", "accounts_utf8_bom.csv")
    env.load("crm_accounts", "run-0")
    bad = env.copy("orders", "orders_amounts.csv")  # 6 of 7 rows are quarantined
    env.load("orders", "run-1")
    failed = quarantine(env, "run-1")
    assert (failed.passed, failed.severity.value) == (False, "ERROR")
    assert _meta(failed)["blocked"] == (
        "orders quarantine 85.7% > 5.0% in orders/orders_amounts.csv: "
        "2 invalid decimal (amount_cny), 1 missing required value (amount_cny), "
        "1 negative amount (amount_cny), 1 not an allowed value (status), "
        "1 refund exceeds amount (refund_amount_cny) — nothing was published (no snapshot "
        "exists yet)."
    )
    assert not quarantine(env, "run-2").passed  # the old run's rate is not forgotten

    env.copy("orders", "orders_batch1.csv")  # a clean delivery does not hide the bad one
    env.load("orders", "run-3")
    still = quarantine(env, "run-3")
    assert not still.passed
    assert "| run-3 | orders/orders_batch1.csv | passed |" in _meta(still)["verdicts"]

    bad.unlink()
    fixed = quarantine(env, "run-4")
    assert fixed.passed
    assert _meta(fixed)["withdrawn_files"] == ["orders/orders_amounts.csv"]
    reasons = env.query("select reason from quality.withdrawn_files")
    assert reasons == [("quarantine_rate failed; the file was removed from the landing folder",)]


def test_a_file_the_pipeline_removed_is_not_withdrawn(env):
    """Erasure and retention remove loaded files from the landing folder (privacy): that is
    no operator's fix, so the failed batch keeps blocking (until accepted) and its rows are
    not taken out of staging."""
    from pipelines.privacy.landing import LandingFile, remove_files

    env.copy("crm_accounts", "accounts_utf8_bom.csv")
    env.load("crm_accounts", "run-0")
    bad = env.copy("orders", "orders_amounts.csv")
    env.load("orders", "run-1")
    assert not quarantine(env, "run-1").passed
    landing = LandingFile("orders", "orders/orders_amounts.csv", sha256_file(bad), ("old",))
    with env.warehouse.connect() as con:
        assert remove_files(con, env.landing, [landing], "retention", datetime.now()) == [landing]
    assert not bad.exists()

    still = quarantine(env, "run-2")

    assert (still.passed, still.severity.value) == (False, "ERROR")
    assert "withdrawn_files" not in _meta(still)
    assert env.query("select count(*) from quality.withdrawn_files") == [(0,)]


def test_an_acceptance_covers_exactly_the_files_it_names(env):
    bad = env.deliver("crm_accounts", "accounts_a.csv", accounts_csv(0, 10, bad_uscc=4))
    env.load("crm_accounts", "run-1")
    assert not gx(env, "run-1").passed
    accepted = AcceptancesFile.model_validate(
        {
            "acceptances": [
                {
                    "check": "gx_crm_accounts",
                    "entity": "crm_accounts",
                    "files": [f"crm_accounts/accounts_a.csv@{sha256_file(bad)[:12]}"],
                    "accepted_by": "crm-team",
                    "accepted_on": "2026-11-23",
                    "reason": "Provisional registrations carry no USCC yet (CRM-88).",
                }
            ]
        }
    )
    ok = gx(env, "run-2", accepted)
    assert ok.passed
    assert _meta(ok)["acceptances"] == [
        f"gx_crm_accounts accepted for crm_accounts/accounts_a.csv@{sha256_file(bad)[:12]} by "
        "crm-team on 2026-11-23: Provisional registrations carry no USCC yet (CRM-88)."
    ]
    assert env.query("select status from quality.gate_state") == [("accepted",)]

    # Another bad export under the same name is a different file: judged, and refused.
    env.deliver("crm_accounts", "accounts_a.csv", accounts_csv(0, 10, bad_uscc=5, seed=9))
    env.load("crm_accounts", "run-3")
    refused = gx(env, "run-3", accepted)
    assert not refused.passed
    # The accepted batch is not withdrawn by the replacement: accepted rows stay accepted.
    assert env.query("select count(*) from quality.withdrawn_files") == [(0,)]


def test_warn_failures_are_recorded_once_and_do_not_block(env, tmp_path, monkeypatch):
    config = tmp_path / "config"
    import shutil

    import yaml

    from pipelines.settings import REPO_ROOT

    shutil.copytree(REPO_ROOT / "config", config)
    sources = yaml.safe_load((config / "sources.yaml").read_text(encoding="utf-8"))
    sources["sources"]["orders"]["severity"] = "WARN"
    (config / "sources.yaml").write_text(yaml.safe_dump(sources), encoding="utf-8")
    monkeypatch.setenv("STRATUM_CONFIG_DIR", str(config))
    env.copy("crm_accounts", "accounts_utf8_bom.csv")
    env.load("crm_accounts", "run-0")
    env.copy("orders", "orders_amounts.csv")
    env.load("orders", "run-1")
    warned = quarantine(env, "run-1")
    assert (warned.passed, warned.severity.value) == (False, "WARN")
    assert "blocked" not in warned.metadata
    quiet = quarantine(env, "run-2")
    assert quiet.passed and _meta(quiet)["batches_judged"] == 0


def test_batches_published_before_gate_state_existed_are_not_judged_again(env):
    env.deliver("crm_accounts", "accounts_a.csv", accounts_csv(0, 10, bad_uscc=4))
    env.load("crm_accounts", "old-release-run")
    # A snapshot published after that load (by a release without gate state).
    folder = get_paths().snapshots_dir / "20261120-oldrelea"
    folder.mkdir(parents=True)
    manifest = {
        "snapshot_id": "20261120-oldrelea", "as_of_date": "2026-11-20",
        "created_at": (datetime.utcnow() + timedelta(seconds=5)).isoformat(),
        "row_count": 10, "policy_version": "p", "rules_version": "r", "code_version": "c",
        "run_id": "old-release-run", "parquet_path": "snapshots/20261120-oldrelea/x.parquet",
        "parquet_sha256": "0" * 64,
    }  # fmt: skip
    (folder / "manifest.json").write_text(json.dumps(manifest))
    result = gx(env, "new-release-run")
    assert result.passed
    assert "published before gate state was kept" in _meta(result)["verdicts"]
