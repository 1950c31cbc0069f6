"""The matching asset in Dagster: a decision applied through the decisions file, the blocking
check failing with the cluster named, matching skipped when its inputs are those behind the ids
in force, and configuration errors naming the key."""

from __future__ import annotations

import shutil

import duckdb
import pytest
from dagster import DagsterInstance

from pipelines.settings import REPO_ROOT
from tests.identity.conftest import materialize_matching, restage
from tests.transform.raw_tables import append_rows

IDENTITY_TABLES = ("account_identity", "golden_ids", "record_assignments", "identity_events",
                   "identity_review", "match_pairs", "match_state")  # fmt: skip


def _identity_tables(path) -> dict[str, list]:
    with duckdb.connect(str(path), read_only=True) as con:
        return {
            t: con.execute(f"select * from identity.{t} order by all").fetchall()
            for t in IDENTITY_TABLES
        }


def _matching(result) -> str:
    (mat,) = result.asset_materializations_for_node("identity__account_matches")
    return str(mat.metadata["matching"].value) if "matching" in mat.metadata else "matched"


@pytest.fixture
def matched_once(small_world_template, warehouse_copy, monkeypatch):
    """A staged world matched once under a comparable code version: (warehouse, data dir)."""
    monkeypatch.setenv("STRATUM_CODE_VERSION", "test")
    path = warehouse_copy(small_world_template)
    assert materialize_matching(path.parent.parent).success
    return path, path.parent.parent


def test_matching_is_skipped_while_its_inputs_are_those_behind_the_ids(matched_once, monkeypatch):
    path, data_dir = matched_once
    before = _identity_tables(path)
    assert len(before["match_state"]) == 1

    again = materialize_matching(data_dir)
    (check,) = again.get_asset_check_evaluations()
    assert check.passed and "inputs unchanged since the matching as of" in check.description
    assert _matching(again).startswith("skipped: inputs unchanged")
    assert _identity_tables(path) == before  # nothing rewritten, no event, same state row

    # A new CRM record (a duplicate of an existing company under a new id) is matched.
    with duckdb.connect(str(path)) as con:
        row = con.execute(
            "select * from raw.crm_accounts where uscc is not null order by account_id limit 1"
        ).df()
        row = row[[c for c in row.columns if not c.startswith("_")]]
        row["account_id"] = "ACC-LATE-DUP"
        append_rows(con, "crm_accounts", row)
    restage(path)  # as the run's dbt staging step does
    changed = materialize_matching(data_dir)
    assert _matching(changed) == "matched" and changed.get_asset_check_evaluations()[0].passed
    after = _identity_tables(path)
    assert "ACC-LATE-DUP" in {r[0] for r in after["account_identity"]}
    assert after["match_state"][0][0] != before["match_state"][0][0]
    assert _matching(materialize_matching(data_dir)) != "matched"

    # A code version that names no commit (a modified checkout) matches on every run and
    # leaves no fingerprint for a later run to skip on.
    monkeypatch.setenv("STRATUM_CODE_VERSION", "abc123-dirty")
    assert _matching(materialize_matching(data_dir)) == "matched"
    assert _identity_tables(path)["match_state"] == []
    monkeypatch.setenv("STRATUM_CODE_VERSION", "test")
    assert _matching(materialize_matching(data_dir)) == "matched"


def test_a_new_decisions_file_or_a_rebuild_matches_again(matched_once, tmp_path):
    _, data_dir = matched_once
    config_dir = tmp_path / "config"
    shutil.copytree(REPO_ROOT / "config", config_dir)
    (config_dir / "identity_decisions.yaml").write_text("version: '7'\ndecisions: []\n")
    assert _matching(materialize_matching(data_dir, config_dir)) == "matched"
    assert _matching(materialize_matching(data_dir, config_dir)) != "matched"
    run_config = {"resources": {"run": {"config": {"rebuild": True}}}}
    assert _matching(materialize_matching(data_dir, config_dir, run_config=run_config)) == "matched"


def test_blocking_check_fails_naming_the_cluster_and_keeps_the_ids(
    small_world_template, warehouse_copy, tmp_path
):
    path = warehouse_copy(small_world_template)
    data_dir = path.parent.parent
    first = materialize_matching(data_dir)
    assert first.success
    with duckdb.connect(str(path), read_only=True) as con:
        a, b = [r[0] for r in con.execute(
            "select min(account_id) from staging.stg_crm__accounts where uscc is not null "
            "group by substr(uscc, 3, 6) order by 1 limit 2"
        ).fetchall()]  # fmt: skip
        before = con.execute("select * from identity.account_identity order by 1").fetchall()
    config_dir = tmp_path / "config"
    shutil.copytree(REPO_ROOT / "config", config_dir)
    decisions = config_dir / "identity_decisions.yaml"
    decisions.write_text(
        "version: '2'\ndecisions:\n"
        f"  - {{id: D-9, decision: must_link, account_ids: [{a}, {b}], decided_by: analyst.li, "
        "decided_at: 2026-11-19, reason: same group}\n"
    )
    with DagsterInstance.ephemeral() as instance:
        second = materialize_matching(data_dir, config_dir, instance)
        tags = instance.get_run_by_id(second.run_id).tags
    (check,) = second.get_asset_check_evaluations()
    assert check.check_name == "golden_accounts_within_limits" and not check.passed
    table = check.metadata["violations"].value
    assert "holds 2 different valid credit codes" in table and a in table and b in table
    with duckdb.connect(str(path), read_only=True) as con:
        (golden,) = con.execute(
            "select golden_account_id from identity.cluster_violations"
        ).fetchone()
    # The run says why it was blocked, in one sentence (what the alert sensor records).
    assert tags["stratum/blocked"] == (
        f"identity/account_matches golden_accounts_within_limits (golden account {golden} "
        "holds 2 different valid credit codes: the previous golden ids are kept) — nothing was "
        "published (no snapshot exists yet)."
    )
    with duckdb.connect(str(path), read_only=True) as con:
        after = con.execute("select * from identity.account_identity order by 1").fetchall()
        events = con.execute("select count(*) from identity.identity_events").fetchone()[0]
    assert after == before
    assert events == len({r[1] for r in before})  # only the first run's issued ids


def test_bad_identity_config_names_the_key(tmp_path):
    from pipelines.config import ConfigError
    from pipelines.identity.config import load_decisions, load_identity_config

    bad = tmp_path / "identity.yaml"
    bad.write_text(
        "version: '1'\nthresholds: {match: 0.3, review: 0.6}\nmax_records_per_golden_account: 25\n"
        "personal_email_domains: [qq.com]\n"
    )
    with pytest.raises(ConfigError, match=r"identity.yaml: thresholds: review \(0.6\) must be"):
        load_identity_config(tmp_path)
    decisions = tmp_path / "identity_decisions.yaml"
    decisions.write_text(
        "decisions:\n  - {id: D-1, decision: merge, account_ids: [A, B], decided_by: x, decided_at: 2026-01-01}\n"
    )
    with pytest.raises(ConfigError, match=r"identity_decisions.yaml: decisions\[0\].decision: "):
        load_decisions(tmp_path)
    assert load_decisions(tmp_path / "nowhere").model.decisions == []
