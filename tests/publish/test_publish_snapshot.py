"""Publish: immutable snapshots, the serving database, its atomic swap and the BI contract."""

from __future__ import annotations

import hashlib
import subprocess
import sys
import textwrap
from datetime import date
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from pipelines.history import list_snapshots
from pipelines.publish.contract import (
    CUSTOMER_TIER_COLUMNS,
    PUBLISHED_MODEL,
    SERVING_TIER_TABLES,
    TIER_HISTORY_COLUMNS,
    TIER_SNAPSHOTS_COLUMNS,
)
from pipelines.publish.snapshot import (
    PublishContractError,
    SnapshotExistsError,
    publish,
    stage_snapshot,
)
from pipelines.run_context import snapshot_id_for
from pipelines.tiering.store import TierTableError
from tests.config_files import run_context

TIER_ONLY = {
    "snapshot_id", "as_of_date", "tier", "tier_name_en", "tier_name_zh", "service_strategy_en",
    "service_strategy_zh", "owner_team", "rule_fired", "reason_en", "reason_zh", "risk_flag",
    "in_control_group", "tier_since", "pending_downgrade_to", "pending_since", "policy_version",
}  # fmt: skip


def _value(name: str, dtype: str, account: str, tier: str, snapshot_id: str, as_of: date):
    special = {
        "snapshot_id": snapshot_id,
        "as_of_date": as_of,
        "golden_account_id": account,
        "tier": tier,
        "root_golden_account_id": account,
        "net_revenue_365d": {"A": 1000.0, "B": 100.0, "C": 10.0}.get(tier, 0.0),
        "tier_since": as_of,
        "pending_downgrade_to": None,
        "pending_since": None,
        "risk_flag": None,
    }
    if name in special:
        return special[name]
    return {
        "VARCHAR": f"{name}-{account}",
        "DOUBLE": 0.5,
        "INTEGER": 3,
        "BIGINT": 2,
        "BOOLEAN": False,
        "DATE": as_of,
    }[dtype]


def stage_upstream(
    con: duckdb.DuckDBPyConnection, tiers: dict[str, str], snapshot_id: str, as_of: date
) -> None:
    """What a run's tier step and dbt_publish_models leave in the warehouse, by hand:
    tiers.customer_tier and the dbt model tiers.published_customer_tier."""
    groups = {
        "tiers.customer_tier": [c for c in CUSTOMER_TIER_COLUMNS if c[0] in TIER_ONLY],
        PUBLISHED_MODEL: [c for c in CUSTOMER_TIER_COLUMNS if c[0] != "golden_account_id"],
    }
    con.execute("create schema if not exists tiers")
    for table, cols in groups.items():
        cols = [("golden_account_id", "VARCHAR", "")] + cols
        con.execute(
            f"create or replace table {table} ({', '.join(f'{n} {t}' for n, t, _ in cols)})"
        )
        rows = pd.DataFrame(
            [
                [_value(n, t, account, tier, snapshot_id, as_of) for n, t, _ in cols]
                for account, tier in tiers.items()
            ],
            columns=[n for n, _, _ in cols],
            dtype=object,
        )
        con.register("_upstream_rows", rows)
        try:
            con.execute(f"insert into {table} select * from _upstream_rows")
        finally:
            con.unregister("_upstream_rows")
    # The model's own column order is the contract's.
    names = ", ".join(n for n, _, _ in CUSTOMER_TIER_COLUMNS)
    con.execute(
        f"create or replace table {PUBLISHED_MODEL} as select {names} from {PUBLISHED_MODEL}"
    )


@pytest.fixture
def warehouse(tmp_path: Path):
    con = duckdb.connect(str(tmp_path / "warehouse.duckdb"))
    yield con
    con.close()


def _publish(con, serving: Path, tiers: dict[str, str], run: str, as_of: date):
    """Publish ``tiers`` as run ``run`` (its snapshot id: ``YYYYMMDD-<run>``)."""
    ctx = run_context(as_of, run_id=run)
    stage_upstream(con, tiers, ctx.snapshot_id, as_of)
    info, *_ = publish(con, serving, serving / "serving.duckdb", ctx)
    return info


def test_snapshot_has_contract_schema_and_manifest(warehouse, tmp_path):
    serving = tmp_path / "serving"
    info = _publish(warehouse, serving, {"g1": "A", "g2": "C", "g3": "P"}, "s1", date(2026, 1, 1))
    parquet = serving / info.parquet_path
    schema = duckdb.sql(f"describe select * from read_parquet('{parquet}')").fetchall()
    assert [(r[0], r[1]) for r in schema] == [(n, t) for n, t, _ in CUSTOMER_TIER_COLUMNS]
    assert info.row_count == 3
    assert info.parquet_sha256 == hashlib.sha256(parquet.read_bytes()).hexdigest()
    assert [s.snapshot_id for s in list_snapshots(serving / "snapshots")] == ["20260101-s1"]
    assert info.snapshot_id == snapshot_id_for(date(2026, 1, 1), "s1")


def test_snapshots_are_immutable(warehouse, tmp_path):
    serving = tmp_path / "serving"
    info = _publish(warehouse, serving, {"g1": "A"}, "s1", date(2026, 1, 1))
    before = (serving / info.parquet_path).read_bytes()
    stage_upstream(warehouse, {"g1": "B"}, info.snapshot_id, date(2026, 1, 1))
    with pytest.raises(SnapshotExistsError, match="already published .* with other content"):
        publish(warehouse, serving, serving / "serving.duckdb", run_context(date(2026, 1, 1), "s1"))
    assert (serving / info.parquet_path).read_bytes() == before
    assert not [p for p in (serving / "snapshots").iterdir() if p.name.startswith(".")]
    assert list((serving / ".staging").iterdir()) == []


def test_republishing_the_same_snapshot_finishes_an_interrupted_publish(warehouse, tmp_path):
    """A re-execution of a run killed between its commit and the serving swap finds its
    snapshot committed with the same tiers: it only brings the serving file up to date."""
    serving = tmp_path / "serving"
    _publish(warehouse, serving, {"g1": "A", "g2": "B"}, "s1", date(2026, 1, 1))
    lagging = (serving / "serving.duckdb").read_bytes()
    info = _publish(warehouse, serving, {"g1": "C", "g2": "B"}, "s2", date(2026, 1, 2))
    (serving / "serving.duckdb").chmod(0o644)
    (serving / "serving.duckdb").write_bytes(lagging)  # as if killed before the swap
    again, *_ = publish(
        warehouse, serving, serving / "serving.duckdb", run_context(date(2026, 1, 2), "s2")
    )
    assert again == info
    con = duckdb.connect(str(serving / "serving.duckdb"), read_only=True)
    current = con.execute("select distinct snapshot_id from customer_tier_current").fetchall()
    con.close()
    assert current == [("20260102-s2",)]
    assert [s.snapshot_id for s in list_snapshots(serving / "snapshots")] == [
        "20260101-s1",
        "20260102-s2",
    ]


def test_staging_is_invisible_to_globs_over_the_snapshots(warehouse, tmp_path):
    serving = tmp_path / "serving"
    _publish(warehouse, serving, {"g1": "A"}, "s1", date(2026, 1, 1))
    ctx = run_context(date(2026, 1, 2), "s2")
    stage_upstream(warehouse, {"g1": "B", "g2": "C"}, ctx.snapshot_id, ctx.as_of)
    _, staged = stage_snapshot(warehouse, serving, ctx)  # written, not committed
    assert staged.parent == serving / ".staging"
    glob = (serving / "snapshots" / "*" / "customer_tier.parquet").as_posix()
    rows = duckdb.sql(f"select snapshot_id, count(*) from '{glob}' group by 1").fetchall()
    assert rows == [("20260101-s1", 1)]


def test_serving_current_and_scd2_history(warehouse, tmp_path):
    serving = tmp_path / "serving"
    _publish(warehouse, serving, {"g1": "A", "g2": "B"}, "s1", date(2026, 1, 1))
    _publish(warehouse, serving, {"g1": "A", "g2": "C"}, "s2", date(2026, 1, 2))
    _publish(warehouse, serving, {"g1": "B", "g2": "B"}, "s3", date(2026, 1, 3))
    con = duckdb.connect(str(serving / "serving.duckdb"), read_only=True)
    current = dict(
        con.execute("select golden_account_id, tier from customer_tier_current").fetchall()
    )
    assert current == {"g1": "B", "g2": "B"}
    history = con.execute(
        "select golden_account_id, tier, valid_from, valid_to, is_current "
        "from customer_tier_history order by 1, 3"
    ).fetchall()
    assert history == [
        ("g1", "A", date(2026, 1, 1), date(2026, 1, 3), False),
        ("g1", "B", date(2026, 1, 3), None, True),
        ("g2", "B", date(2026, 1, 1), date(2026, 1, 2), False),
        ("g2", "C", date(2026, 1, 2), date(2026, 1, 3), False),
        ("g2", "B", date(2026, 1, 3), None, True),
    ]
    assert con.execute("select count(*) from tier_snapshots").fetchone()[0] == 3
    con.close()


def test_history_closes_accounts_gone_from_the_current_snapshot(warehouse, tmp_path):
    serving = tmp_path / "serving"
    _publish(warehouse, serving, {"g1": "A", "g2": "B"}, "r1", date(2026, 1, 1))
    _publish(warehouse, serving, {"g1": "A"}, "r2", date(2026, 1, 2))  # g2 merged away
    con = duckdb.connect(str(serving / "serving.duckdb"), read_only=True)
    g2 = con.execute(
        "select tier, valid_from, valid_to, is_current from customer_tier_history "
        "where golden_account_id = 'g2'"
    ).fetchall()
    con.close()
    assert g2 == [("B", date(2026, 1, 1), date(2026, 1, 2), False)]


def test_missing_contract_column_fails_loudly(warehouse, tmp_path):
    ctx = run_context(date(2026, 1, 1), "s1")
    stage_upstream(warehouse, {"g1": "A"}, ctx.snapshot_id, date(2026, 1, 1))
    warehouse.execute(f"alter table {PUBLISHED_MODEL} drop column clv_12m")
    with pytest.raises(PublishContractError, match="clv_12m"):
        publish(warehouse, tmp_path, tmp_path / "serving.duckdb", ctx)
    assert not (tmp_path / "snapshots").exists()
    assert list((tmp_path / ".staging").iterdir()) == []
    assert not (tmp_path / "serving.duckdb").exists()


def test_tier_table_of_another_run_is_never_published(warehouse, tmp_path):
    stage_upstream(warehouse, {"g1": "A"}, "20260101-otherrun", date(2026, 1, 1))
    with pytest.raises(TierTableError, match="not this run's 20260101-s1"):
        publish(
            warehouse, tmp_path, tmp_path / "serving.duckdb", run_context(date(2026, 1, 1), "s1")
        )


def test_rerun_of_a_date_keeps_both_snapshots_and_puts_the_last_in_force(warehouse, tmp_path):
    serving = tmp_path / "serving"
    _publish(warehouse, serving, {"g1": "A", "g2": "B"}, "run1", date(2026, 1, 1))
    _publish(warehouse, serving, {"g1": "A", "g2": "B"}, "run2", date(2026, 1, 5))
    _publish(warehouse, serving, {"g1": "C", "g2": "B"}, "run3", date(2026, 1, 5))
    # A backfill of an older date never replaces the current tiers.
    _publish(warehouse, serving, {"g1": "B", "g2": "B"}, "run4", date(2026, 1, 3))
    con = duckdb.connect(str(serving / "serving.duckdb"), read_only=True)
    snaps = con.execute(
        "select snapshot_id, in_force, superseded_by from tier_snapshots order by as_of_date, created_at"
    ).fetchall()
    current = con.execute("select distinct snapshot_id from customer_tier_current").fetchall()
    history = con.execute(
        "select tier, valid_from, valid_to from customer_tier_history "
        "where golden_account_id = 'g1' order by valid_from"
    ).fetchall()
    con.close()
    assert snaps == [
        ("20260101-run1", True, None),
        ("20260103-run4", True, None),
        ("20260105-run2", False, "20260105-run3"),
        ("20260105-run3", True, None),
    ]
    assert current == [("20260105-run3",)]
    assert history == [
        ("A", date(2026, 1, 1), date(2026, 1, 3)),
        ("B", date(2026, 1, 3), date(2026, 1, 5)),
        ("C", date(2026, 1, 5), None),
    ]


def test_reader_never_sees_half_written_serving_db(warehouse, tmp_path):
    """A second process reads the serving file in a loop while snapshots are published."""
    serving = tmp_path / "serving"
    _publish(warehouse, serving, {f"g{i}": "C" for i in range(50)}, "s0", date(2026, 1, 1))
    reader = textwrap.dedent(
        f"""
        import duckdb, sys, time
        ok = 0
        deadline = time.time() + 60
        while time.time() < deadline:
            try:
                con = duckdb.connect({str(serving / "serving.duckdb")!r}, read_only=True)
            except duckdb.IOException:
                continue
            n, snaps, ids = con.execute(
                "select (select count(*) from customer_tier_current), "
                "(select count(*) from tier_snapshots), "
                "(select count(distinct snapshot_id) from customer_tier_current)"
            ).fetchone()
            con.close()
            assert ids == 1, ids
            assert n == 50 + 10 * (snaps - 1), (n, snaps)
            ok += 1
            if snaps == 6:
                break
        print(ok)
        """
    )
    proc = subprocess.Popen([sys.executable, "-c", reader], stdout=subprocess.PIPE, text=True)
    for k in range(1, 6):
        tiers = {f"g{i}": "B" for i in range(50 + 10 * k)}
        _publish(warehouse, serving, tiers, f"s{k}", date(2026, 1, 1 + k))
    out, _ = proc.communicate(timeout=90)
    assert proc.returncode == 0
    assert int(out.strip()) > 0


def _doc_section(doc: str, table: str) -> str:
    start = doc.index(f"## `{table}`")
    end = doc.find("\n## ", start + 1)
    return doc[start : end if end > 0 else None]


def test_bi_contract_document_matches_published_schema():
    doc = (Path(__file__).resolve().parents[2] / "docs" / "bi-contract.md").read_text()
    tables = {
        "customer_tier_current": CUSTOMER_TIER_COLUMNS,
        "customer_tier_history": TIER_HISTORY_COLUMNS,
        "tier_snapshots": TIER_SNAPSHOTS_COLUMNS,
        **{name: cols for name, (_, cols, _) in SERVING_TIER_TABLES.items()},
    }
    for table, columns in tables.items():
        section = _doc_section(doc, table)
        documented = [
            line.split("|")[1:3]
            for line in section.splitlines()
            if line.startswith("| ") and "---" not in line
        ][1:]
        assert [(n.strip(), t.strip()) for n, t in documented] == [(n, t) for n, t, _ in columns], (
            table
        )


def test_serving_database_schema_is_the_contract(warehouse, tmp_path):
    """Every serving table has exactly the contract's columns and types, even before the tier
    step has produced its ledger (BI schemas never drift)."""
    serving = tmp_path / "serving"
    _publish(warehouse, serving, {"g1": "A", "g2": "P"}, "s1", date(2026, 1, 1))
    con = duckdb.connect(str(serving / "serving.duckdb"), read_only=True)
    tables = {
        "customer_tier_current": CUSTOMER_TIER_COLUMNS,
        "customer_tier_history": TIER_HISTORY_COLUMNS,
        "tier_snapshots": TIER_SNAPSHOTS_COLUMNS,
        **{name: cols for name, (_, cols, _) in SERVING_TIER_TABLES.items()},
    }
    for table, columns in tables.items():
        got = con.execute(
            "select column_name, data_type from information_schema.columns "
            "where table_name = ? order by ordinal_position",
            [table],
        ).fetchall()
        assert got == [(n, t) for n, t, _ in columns], table
    assert set(t for (t,) in con.execute("show tables").fetchall()) == set(tables)
    con.close()
