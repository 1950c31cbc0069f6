"""Idempotence and increments: same content loads once, failed files retry, new files append."""

from __future__ import annotations

import shutil

from tests.ingest.conftest import FIXTURES, assert_reconciles, drop, load, load_accounts


def _orders(con) -> list[str]:
    return [
        r[0] for r in con.execute("SELECT order_id FROM raw.orders ORDER BY order_id").fetchall()
    ]


def test_same_file_twice_and_renamed_loads_once(con, landing):
    drop(landing, "crm_accounts", "accounts_utf8_bom.csv")
    drop(landing, "crm_accounts", "accounts_utf8_bom.csv", as_name="copy_of_export.csv")
    first = load(con, landing, "crm_accounts")
    assert [f.status for f in first.files] == ["loaded", "skipped-duplicate"]
    assert first.files[1].loaded_as == "crm_accounts/accounts_utf8_bom.csv"
    second = load(con, landing, "crm_accounts", run_id="run-2")
    assert [f.status for f in second.files] == ["unchanged", "skipped-duplicate"]
    assert con.execute("SELECT count(*) FROM raw.crm_accounts").fetchone()[0] == 3
    # One loaded row; the copy is listed once, seen last by run-2, with what it duplicates.
    assert con.execute(
        "SELECT path, status, run_id, note FROM raw._file_manifest ORDER BY status"
    ).fetchall() == [
        ("crm_accounts/accounts_utf8_bom.csv", "loaded", "run-1", None),
        (
            "crm_accounts/copy_of_export.csv",
            "skipped-duplicate",
            "run-2",
            "same content as crm_accounts/accounts_utf8_bom.csv, already loaded",
        ),
    ]
    assert_reconciles(con)


def test_fixed_redrop_of_a_failed_file_loads(con, landing):
    load_accounts(con, landing)
    drop(landing, "orders", "orders_unterminated_quote.csv", as_name="orders_2024.csv")
    assert [f.status for f in load(con, landing, "orders").files] == ["failed"]
    # The broken file keeps failing (it is never marked loaded) ...
    assert [f.status for f in load(con, landing, "orders", run_id="run-2").files] == ["failed"]
    # ... until the sender replaces it with a fixed file under the same name.
    drop(landing, "orders", "orders_unterminated_quote_fixed.csv", as_name="orders_2024.csv")
    report = load(con, landing, "orders", run_id="run-3")
    assert [f.status for f in report.files] == ["loaded"]
    assert _orders(con) == ["O1", "O2"]
    assert con.execute("SELECT product_line FROM raw.orders WHERE order_id = 'O2'").fetchone() == (
        "服务",
    )
    assert_reconciles(con)


def test_failed_file_does_not_block_good_files(con, landing):
    load_accounts(con, landing)
    drop(landing, "orders", "orders_batch1.csv")
    drop(landing, "orders", "orders_truncated.parquet")
    report = load(con, landing, "orders")
    assert {f.path: f.status for f in report.files} == {
        "orders/orders_batch1.csv": "loaded",
        "orders/orders_truncated.parquet": "failed",
    }
    assert _orders(con) == ["O1", "O2"]


def test_incremental_second_file_appends_and_keeps_history(con, landing):
    load_accounts(con, landing)
    drop(landing, "orders", "orders_batch1.csv")
    load(con, landing, "orders")
    drop(landing, "orders", "orders_batch2.csv")
    report = load(con, landing, "orders", run_id="run-2")
    assert {f.path: f.status for f in report.files} == {
        "orders/orders_batch1.csv": "unchanged",
        "orders/orders_batch2.csv": "loaded",
    }
    assert _orders(con) == ["O1", "O2", "O3"]
    runs = con.execute("SELECT order_id, _run_id FROM raw.orders ORDER BY order_id").fetchall()
    assert runs == [("O1", "run-1"), ("O2", "run-1"), ("O3", "run-2")]
    assert_reconciles(con)


def test_raw_keeps_every_version_of_a_record(con, landing):
    """A changed account re-delivered later is appended, not replaced (dbt picks the latest)."""
    drop(landing, "crm_accounts", "accounts_utf8_bom.csv")
    load(con, landing, "crm_accounts")
    changed = (FIXTURES / "accounts_utf8_bom.csv").read_text(encoding="utf-8-sig")
    changed = changed.replace("2024-03-01 10:00:00,false", "2024-05-01 10:00:00,true")
    (landing / "crm_accounts" / "delta.csv").write_text(changed, encoding="utf-8")
    load(con, landing, "crm_accounts", run_id="run-2")
    versions = con.execute(
        "SELECT CAST(updated_at AS VARCHAR), is_deleted FROM raw.crm_accounts "
        "WHERE account_id = 'A1' ORDER BY updated_at"
    ).fetchall()
    assert versions == [("2024-03-01 10:00:00", False), ("2024-05-01 10:00:00", True)]


def test_hidden_and_unsupported_files_are_listed_as_ignored(con, landing):
    drop(landing, "crm_accounts", "accounts_utf8_bom.csv", as_name=".partial.csv")
    drop(landing, "crm_accounts", "accounts_utf8_bom.csv", as_name="notes.txt")
    shutil.copyfile(FIXTURES / "accounts.xlsx", landing / "crm_accounts" / "~$accounts.xlsx")
    report = load(con, landing, "crm_accounts")
    assert [(f.path, f.status) for f in report.files] == [
        ("crm_accounts/.partial.csv", "ignored"),
        ("crm_accounts/notes.txt", "ignored"),
        ("crm_accounts/~$accounts.xlsx", "ignored"),
    ]
    assert con.execute("SELECT count(*) FROM raw.crm_accounts").fetchone()[0] == 0
