"""The whole pipeline on a generated world with four hand-made people: three ask to be erased
(by contact id, by email, by phone). After the next run nothing of them is found in any file
under the data directory (every DuckDB file opened and scanned, and the raw bytes of every file:
Parquet, JSON, HTML...) or in the Dagster instance (event log and its files); tiers, revenue and
contact counts are unchanged; the audit table holds one row per request. A re-delivered export
that still carries them loads them blank.

The scanners here are the test's own, simpler than the pipeline's verification, on purpose.
"""

from __future__ import annotations

import html
import json
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pandas as pd
import pytest
from dagster import DagsterInstance, materialize
from dagster_shared.serdes import serialize_value

from pipelines.ingest.assets import raw_ingest
from pipelines.resources import Warehouse
from pipelines.run_context import RunContextResource
from tests.conftest import PipelineWorld, make_world, run_pipeline
from tests.integration.conftest import failures
from tests.privacy import people

pytestmark = pytest.mark.integration

ERASED_VALUES = sorted({v for p in people.ERASED for v in p.values()})
KEPT_VALUES = people.DONGFANG.values()


def _forms(value: str) -> set[bytes]:
    """The bytes a value takes in UTF-8 text, ASCII-escaped JSON and HTML."""
    texts = {value, json.dumps(value)[1:-1], html.escape(value), json.dumps(html.escape(value))}
    return {t.encode() for t in texts}


def scan_bytes(root: Path, values: list[str]) -> dict[str, list[str]]:
    """{file: values found} over the raw bytes of every file under ``root``."""
    found = {}
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        data = path.read_bytes()
        hits = [v for v in values if any(f in data for f in _forms(v))]
        if hits:
            found[str(path.relative_to(root))] = hits
    return found


def scan_duckdb_files(root: Path, values: list[str]) -> dict[str, list[str]]:
    """{file:schema.table: values found} in any column (cast to text) of every table of every
    DuckDB file under ``root``."""
    found = {}
    for path in sorted(root.rglob("*.duckdb")):
        con = duckdb.connect(str(path), read_only=True)
        try:
            tables = con.execute(
                "select schema_name, table_name from duckdb_tables() "
                "where database_name = current_database()"
            ).fetchall()
            for schema, table in tables:
                columns = [r[0] for r in con.execute(f'describe "{schema}"."{table}"').fetchall()]
                cells = " || chr(31) || ".join(
                    f"coalesce(cast(\"{c}\" as varchar), '')" for c in columns
                )
                hits = [
                    v
                    for v in values
                    if con.execute(
                        f'select count(*) from "{schema}"."{table}" where contains({cells}, ?)',
                        [v],
                    ).fetchone()[0]
                ]
                if hits:
                    found[f"{path.relative_to(root)}:{schema}.{table}"] = hits
        finally:
            con.close()
    return found


def scan_event_log(instance: DagsterInstance, values: list[str]) -> dict[str, list[str]]:
    """{run id: values found} in the serialized events of every run of the instance."""
    found = {}
    for run in instance.get_runs():
        text = "\n".join(serialize_value(e) for e in instance.all_logs(run.run_id))
        text += "\n".join(repr(e) for e in instance.all_logs(run.run_id))
        hits = [v for v in values if any(f.decode() in text for f in _forms(v))]
        if hits:
            found[run.run_id] = hits
    return found


def _snapshot(world: PipelineWorld) -> pd.DataFrame:
    con = duckdb.connect(str(world.data_dir / "serving" / "stratum_serving.duckdb"), read_only=True)
    try:
        return (
            con.execute("select * from customer_tier_current").df().set_index("golden_account_id")
        )
    finally:
        con.close()


def _warehouse(world: PipelineWorld) -> duckdb.DuckDBPyConnection:
    return duckdb.connect(str(world.data_dir / "warehouse" / "stratum.duckdb"), read_only=True)


@dataclass
class Erasure:
    world: PipelineWorld
    instance_dir: Path
    accounts: list[str]
    golden: dict[str, str]  # account_id -> golden_account_id
    before: dict[str, dict]  # scans after the first run
    after: dict[str, dict]  # scans after the erasure run
    kept_after: dict[str, dict]
    snapshot_before: pd.DataFrame
    snapshot_after: pd.DataFrame
    audit: pd.DataFrame


@pytest.fixture(scope="module")
def erasure(tmp_path_factory, dbt_manifest) -> Erasure:
    root = tmp_path_factory.mktemp("erasure")
    world = make_world(root, accounts=120, seed=16)
    accounts = pd.read_csv(next((world.landing / "crm_accounts").glob("*.csv")), dtype=str)
    ids = accounts.loc[accounts["is_deleted"] == "false", "account_id"].head(4).tolist()
    people.write_people(world.landing, ids, world.as_of)
    people.assert_unique(world.landing, (*people.ERASED, people.DONGFANG))
    instance_dir = root / "dagster_home"
    instance_dir.mkdir()
    with DagsterInstance.local_temp(str(instance_dir)) as instance:
        first = run_pipeline(world, instance)
        assert first.success, failures(first)
        before = {
            "duckdb": scan_duckdb_files(world.data_dir, ERASED_VALUES),
            "bytes": scan_bytes(world.data_dir, ERASED_VALUES),
        }
        snapshot_before = _snapshot(world)
        people.write_requests(world.landing, world.as_of)
        second = run_pipeline(world, instance)
        assert second.success, failures(second)
        data_dir = world.data_dir
        after = {
            "duckdb": scan_duckdb_files(data_dir, ERASED_VALUES),
            "bytes": scan_bytes(data_dir, ERASED_VALUES),
            "event_log": scan_event_log(instance, ERASED_VALUES),
            "instance_files": scan_bytes(instance_dir, ERASED_VALUES),
        }
        kept_after = {
            "duckdb": scan_duckdb_files(data_dir, KEPT_VALUES),
            "event_log": scan_event_log(instance, KEPT_VALUES),
        }
    with _warehouse(world) as con:
        golden = dict(
            con.execute(
                "select account_id, golden_account_id from intermediate.int_account_identity_map"
            ).fetchall()
        )
        audit = con.execute("select * from privacy.erasure_log order by request_id").df()
    return Erasure(world, instance_dir, ids, golden, before, after, kept_after,
                   snapshot_before, _snapshot(world), audit)  # fmt: skip


def test_the_scanners_find_the_people_before_the_erasure(erasure):
    found = {v for hits in erasure.before["duckdb"].values() for v in hits}
    for person in people.ERASED:
        assert {person.name, person.email} <= found, person
    assert any(p.startswith("warehouse/") for p in erasure.before["duckdb"])
    assert "landing/crm_contacts/crm_contacts_people_v1.csv" in erasure.before["bytes"]


def test_nothing_of_the_erased_people_is_left_in_any_file_or_the_event_log(erasure):
    assert erasure.after == {"duckdb": {}, "bytes": {}, "event_log": {}, "instance_files": {}}
    # The control person is still in the warehouse (raw and staging), so the scan works, and
    # was never in the event log: metadata and checks show contact data masked, if at all.
    assert set(erasure.kept_after["duckdb"]) == {"warehouse/stratum.duckdb:raw.crm_contacts"}
    assert erasure.kept_after["event_log"] == {}


def test_tiers_revenue_and_contact_counts_are_unchanged(erasure):
    before, after = erasure.snapshot_before, erasure.snapshot_after
    assert set(before.index) == set(after.index)
    columns = ["tier", "net_revenue_365d", "net_revenue_lifetime", "contacts_opted_out"]
    pd.testing.assert_frame_equal(before[columns], after.loc[before.index, columns])
    # The erased contacts stay counted but cannot be reached any more: one fewer reachable
    # contact at each of their accounts, none elsewhere.
    erased_at = [erasure.golden[a] for a in erasure.accounts[:3]]
    drop = (before["contacts_reachable"] - after["contacts_reachable"]).to_dict()
    assert {g: n for g, n in drop.items() if n} == {g: erased_at.count(g) for g in erased_at}
    with _warehouse(erasure.world) as con:
        totals = con.execute(
            "select count(*) from raw.crm_contacts where contact_id like 'CT-PRIV-%'"
        ).fetchone()[0]
    assert totals == 8  # two versions of each of the four people: the rows stay


def test_the_audit_table_holds_one_row_per_request(erasure):
    audit = erasure.audit
    assert list(audit["request_id"]) == ["DSAR-001", "DSAR-002", "DSAR-003"]
    assert list(audit["identified_by"]) == ["contact_id", "email", "phone"]
    assert list(audit["contacts"]) == [1, 1, 1]
    assert (audit["rows_purged"] > 0).all() and (audit["landing_files_removed"] > 0).all()
    purged = [json.loads(p) for p in audit["purged"]]
    assert purged[0]["raw.surveys"] == 1  # SIMA's comment
    assert all(p["raw.crm_contacts"] >= 1 for p in purged)
    assert purged[1]["raw._quarantine"] >= 1  # OUYANG's quarantined version
    text = audit.to_csv()
    assert not [v for v in ERASED_VALUES if v in text]


@pytest.fixture(scope="module")
def redelivery(erasure):
    """A later CRM export still carrying SIMA, and OUYANG under a new contact id: loaded by the
    ingest step alone (with the privacy work that runs in it)."""
    world = erasure.world
    path = people.write_redelivery(world.landing, erasure.accounts, world.as_of)
    with pytest.MonkeyPatch.context() as mp:
        for key, value in world.env().items():
            mp.setenv(key, value)
        result = materialize(
            [raw_ingest],
            partition_key=world.as_of.isoformat(),
            resources={"warehouse": Warehouse(), "run": RunContextResource()},
            raise_on_error=False,
        )
    assert result.success
    return path, result


def test_a_redelivered_file_with_erased_people_loads_them_blank(erasure, redelivery):
    path, result = redelivery
    with _warehouse(erasure.world) as con:
        rows = con.execute(
            "select contact_id, full_name, email, phone, job_title, opt_out from raw.crm_contacts "
            "where _source_file = 'crm_contacts/crm_contacts_redelivery.csv' order by 1"
        ).fetchall()
        manifest = con.execute(
            "select rows_loaded, rows_erased, removed_by from raw._file_manifest "
            "where path = 'crm_contacts/crm_contacts_redelivery.csv'"
        ).fetchone()
    d = people.DONGFANG
    assert rows == [
        ("CT-PRIV-1", None, None, None, None, False),
        ("CT-PRIV-4", d.name, d.email, d.phone, d.title, False),
        ("CT-PRIV-9", None, None, None, None, False),
    ]
    assert manifest == (3, 2, "erasure: DSAR-001, DSAR-002")
    assert not path.exists()
    (meta,) = [
        m.materialization.metadata
        for m in result.get_asset_materialization_events()
        if m.asset_key.path == ["raw", "crm_contacts"]
    ]
    assert meta["rows_erased_blanked"].value == 2
    assert "2 row(s) of erased persons: personal fields blanked" in meta["source_files"].value
