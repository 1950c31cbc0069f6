"""Retention: superseded (and deleted) contact versions lose their personal fields after the
configured period, old quarantine values are dropped, old landing files removed; counted."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

import duckdb
import pytest

from pipelines.config import ConfigError, load_stratum_config
from pipelines.ingest.loader import sha256_file
from pipelines.ingest.manifest import ensure_raw_schema
from pipelines.privacy.config import Retention
from pipelines.privacy.landing import expired_files, remove_files
from pipelines.privacy.retention import apply_retention, cutoff_for

AS_OF = date(2024, 6, 30)  # with 1095 days: superseded before 2021-07-02 00:00 is purged
VERSIONS = [
    # contact, updated_at, is_deleted, _loaded_at
    ("K1", "2020-01-01", False, "2020-01-02"),  # superseded 2021-06-01: purged
    ("K1", "2021-06-01", False, "2021-06-02"),  # superseded 2024-01-01: kept
    ("K1", "2024-01-01", False, "2024-01-02"),  # current: kept
    ("K2", "2020-01-01", False, "2020-01-02"),  # superseded by the deletion: purged
    ("K2", "2021-01-01", True, "2021-01-02"),  # deleted 2021-01-01: purged
    ("K3", "2020-01-01", False, "2020-01-02"),  # superseded by a deletion in 2024: kept
    ("K3", "2024-01-01", True, "2024-01-02"),  # deleted recently: kept
    ("K4", "2020-01-01", False, "2020-01-02"),  # superseded exactly at the cutoff: kept
    ("K4", "2021-07-02", False, "2021-07-03"),
    ("K5", "2024-01-01", False, "2024-01-01 10:00"),  # same version delivered twice: the
    ("K5", "2024-01-01", False, "2024-01-01 09:00"),  # first copy is superseded, recently
]


@pytest.fixture
def con():
    con = duckdb.connect()
    ensure_raw_schema(con)
    for i, (contact, updated, deleted, loaded) in enumerate(VERSIONS):
        con.execute(
            "insert into raw.crm_contacts (contact_id, account_id, full_name, email, phone, "
            "job_title, opt_out, created_at, updated_at, is_deleted, _source_line, _loaded_at) "
            "values (?, 'A1', '某人', ?, '138 0000 0000', '经理', false, '2020-01-01', ?, ?, ?, ?)",
            [contact, f"{contact.lower()}@x.cn", updated, deleted, i + 2, loaded],
        )
    for loaded in ("2023-06-01 10:00", "2023-07-02 10:00", "2024-01-01 10:00"):
        con.execute(
            "insert into raw._quarantine values ('crm_contacts', 'f.csv', 2, "
            "'{\"email\": \"a@x.cn\"}', 'missing required value: contact_id', ?, 'r')",
            [loaded],
        )
    yield con
    con.close()


def _kept(con) -> list[tuple[str, str]]:
    return con.execute(
        "select contact_id, strftime(updated_at, '%Y-%m-%d') from raw.crm_contacts "
        "where email is not null order by contact_id, updated_at, _loaded_at"
    ).fetchall()


def test_superseded_and_deleted_versions_lose_personal_fields_after_the_period(con):
    results = {r.rule: r for r in apply_retention(con, Retention(), AS_OF)}
    assert results["superseded_contact_versions"].cutoff == datetime(2021, 7, 2)
    assert results["superseded_contact_versions"].rows_purged == 3
    assert _kept(con) == [
        ("K1", "2021-06-01"), ("K1", "2024-01-01"), ("K3", "2020-01-01"), ("K3", "2024-01-01"),
        ("K4", "2020-01-01"), ("K4", "2021-07-02"), ("K5", "2024-01-01"), ("K5", "2024-01-01"),
    ]  # fmt: skip
    # The rows stay (ids, timestamps, opt-out): counts of any as-of date do not change.
    assert con.execute("select count(*), count(full_name) from raw.crm_contacts").fetchone() == (
        11,
        8,
    )
    # The quarantine cutoff is 365 days: loaded before 2023-07-02 00:00.
    assert results["quarantine_values"].rows_purged == 1
    assert con.execute("select count(raw_values) from raw._quarantine").fetchone()[0] == 2
    # Enforced again: nothing left to purge.
    assert [r.rows_purged for r in apply_retention(con, Retention(), AS_OF)] == [0, 0]


def test_a_shorter_period_purges_more_and_a_backfill_date_less(con):
    short = Retention(superseded_contact_versions_days=30, quarantine_values_days=30)
    backfill = apply_retention(con, short, date(2022, 1, 1))
    # Superseded before 2021-12-03: K1 v1, K2 v1 and v2, K4 v1.
    assert [r.rows_purged for r in backfill] == [4, 0]
    now = apply_retention(con, short, AS_OF)
    # Then before 2024-06-01: K1 v2, K3 v1 and v2, K5's first copy; every quarantine value.
    assert [r.rows_purged for r in now] == [4, 3]
    assert _kept(con) == [("K1", "2024-01-01"), ("K4", "2021-07-02"), ("K5", "2024-01-01")]


def test_loaded_landing_files_are_removed_after_their_period(tmp_path: Path):
    con = duckdb.connect()
    ensure_raw_schema(con)
    landing = tmp_path / "landing"
    (landing / "orders").mkdir(parents=True)
    files = {}
    for name, loaded in (("old.csv", "2024-01-01"), ("new.csv", "2024-06-20"),
                         ("copy_of_old.csv", None), ("replaced.csv", "2024-01-01")):  # fmt: skip
        path = landing / "orders" / name
        path.write_text("order_id\nO1\n" if "old" in name else f"order_id\n{name}\n")
        files[name] = sha256_file(path)
        status = "loaded" if loaded else "skipped-duplicate"
        con.execute(
            "insert into raw._file_manifest (entity, path, sha256, status, loaded_at) "
            "values ('orders', ?, ?, ?, ?)",
            [f"orders/{name}", files[name], status, loaded],
        )
    # A file replaced by other bytes under the same name since it was loaded is not removed.
    (landing / "orders" / "replaced.csv").write_text("order_id\nO9\n")

    cutoff = cutoff_for(AS_OF, 90)
    removed = remove_files(con, landing, expired_files(con, cutoff), "retention", datetime.now())

    assert sorted(f.path for f in removed) == ["orders/copy_of_old.csv", "orders/old.csv"]
    assert sorted(p.name for p in (landing / "orders").iterdir()) == ["new.csv", "replaced.csv"]
    noted = con.execute(
        "select path, removed_by from raw._file_manifest where removed_at is not null order by 1"
    ).fetchall()
    why = "retention: loaded before 2024-04-02 00:00 UTC"
    assert noted == [("orders/copy_of_old.csv", why), ("orders/old.csv", why)]


def test_privacy_config_errors_name_the_key(tmp_path: Path):
    import shutil

    from pipelines.settings import REPO_ROOT

    root = tmp_path / "config"
    shutil.copytree(REPO_ROOT / "config", root)
    config = load_stratum_config(root).privacy.model
    assert (
        config.retention.superseded_contact_versions_days,
        config.erasure.remove_landing_files,
    ) == (1095, True)
    (root / "privacy.yaml").write_text(
        'version: "1"\nretention:\n  quarantine_values_days: 0\n  keep_forever: true\n'
    )
    with pytest.raises(ConfigError) as info:
        load_stratum_config(root)
    message = str(info.value)
    assert f"{root / 'privacy.yaml'}: retention.keep_forever: unknown key" in message
    assert f"{root / 'privacy.yaml'}: retention.quarantine_values_days: " in message


def test_the_warehouse_is_rewritten_after_erasures_and_weekly_after_retention_purges():
    from collections import Counter

    from pipelines.privacy.erasure import ErasureSweep
    from pipelines.privacy.lifecycle import PrivacyReport, _rewrite_reason
    from pipelines.privacy.requests import Registration
    from pipelines.privacy.store import ensure_privacy_schema

    con = duckdb.connect()
    ensure_privacy_schema(con)
    now = datetime(2024, 6, 30, 12, 0)
    nothing = PrivacyReport(Registration([], {}), 0, ErasureSweep())
    assert _rewrite_reason(con, nothing, 7, now) is None

    def purged(rows: int, at: datetime) -> None:
        con.execute(
            "insert into privacy.retention_log values ('r', '2024-06-30', ?, "
            "'quarantine_values', 365, null, ?)",
            [at, rows],
        )

    purged(3, now)
    assert (
        _rewrite_reason(con, nothing, 7, now)
        == "retention (3 row(s) purged since the last rewrite)"
    )
    con.execute("insert into privacy.rewrites values ('r', ?, 'retention', 1, 1)", [now])
    purged(2, datetime(2024, 7, 2))
    assert _rewrite_reason(con, nothing, 7, datetime(2024, 7, 2)) is None  # rewritten 2 days ago
    assert _rewrite_reason(con, nothing, 0, datetime(2024, 7, 2)) is not None
    assert _rewrite_reason(con, nothing, 7, datetime(2024, 7, 7, 12)) == (
        "retention (2 row(s) purged since the last rewrite)"
    )
    erased = PrivacyReport(
        Registration([], {}), 0, ErasureSweep({"R1": Counter({"raw.surveys": 1})})
    )
    assert _rewrite_reason(con, erased, 7, datetime(2024, 7, 2)) == "erasure"
