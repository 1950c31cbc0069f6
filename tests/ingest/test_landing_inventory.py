"""Every entry of a landing folder is loaded or listed with its reason; the manifest migrates."""

from __future__ import annotations

import shutil

from pipelines.ingest.files import list_landing_files, scan_entity_folder
from pipelines.ingest.loader import sha256_file
from pipelines.ingest.manifest import ensure_raw_schema
from tests.ingest.conftest import FIXTURES, assert_reconciles, drop, load, load_accounts

HOSTILE = FIXTURES / "hostile"
ARCHIVE = "archives are not unpacked: extract the files into the entity folder"
PARTIAL = "looks like a partial download or upload: it is read once renamed to its final name"
EXPECTED = {
    "orders/.orders_upload.csv": (
        "ignored",
        "hidden file (name starts with '.'): a partial upload or a system file",
    ),
    "orders/archive": (
        "ignored",
        "sub-folder (2 file(s) inside): files in sub-folders are not read; move them up into "
        "the entity folder",
    ),
    "orders/export.xls": (
        "ignored",
        "old Excel format (.xls) is not read: open it in Excel and save it as .xlsx, or export "
        "it as .csv",
    ),
    "orders/notes.txt": (
        "ignored",
        "a .txt file's delimiter is unknown: rename it .tsv if tab-separated (Excel's 'Unicode "
        "Text') or .csv if comma-separated",
    ),
    "orders/orders.csv ": (
        "ignored",
        "file name starts or ends with a space: rename it without the space to load it",
    ),
    "orders/orders.csv.gz": ("loaded", None),
    "orders/orders.csv.part": ("ignored", PARTIAL),
    "orders/orders.tsv": ("loaded", None),
    "orders/orders_2024.zip": ("ignored", ARCHIVE),
    "orders/orders_crlf_complete.csv": ("loaded", None),
    "orders/report.pdf": (
        "ignored",
        "unsupported file type '.pdf': accepted are .csv.gz, .tsv.gz, .jsonl.gz, .ndjson.gz, "
        ".csv, .tsv, .parquet, .xlsx, .jsonl, .ndjson",
    ),
    "orders/~$orders.xlsx": (
        "ignored",
        "Office lock file (~$): the workbook is open in Excel; the real file is read",
    ),
}


def _deliver_mixed_folder(landing):
    folder = landing / "orders"
    folder.mkdir(parents=True)
    for name in ("orders.csv.gz", "orders.tsv", "orders_crlf_complete.csv"):
        shutil.copyfile(HOSTILE / name, folder / name)
    for name in (".orders_upload.csv", "orders.csv ", "orders.csv.part", "export.xls"):
        shutil.copyfile(HOSTILE / "orders_crlf_complete.csv", folder / name)
    (folder / "notes.txt").write_text("order_id\tamount\n", encoding="utf-8")
    (folder / "orders_2024.zip").write_bytes(b"PK\x05\x06" + bytes(18))
    (folder / "report.pdf").write_bytes(b"%PDF-1.4\n")
    (folder / "~$orders.xlsx").write_bytes(b"lock")
    (folder / "archive").mkdir()
    for name in ("old1.csv", "old2.csv"):
        shutil.copyfile(HOSTILE / "orders_crlf_complete.csv", folder / "archive" / name)


def _manifest(con) -> dict[str, tuple[str, str | None, str]]:
    return {
        path: (status, note, run_id)
        for path, status, note, run_id in con.execute(
            "SELECT path, status, note, run_id FROM raw._file_manifest WHERE entity = 'orders'"
        ).fetchall()
    }


def test_every_entry_is_loaded_or_listed_with_its_reason(con, landing):
    load_accounts(con, landing)
    _deliver_mixed_folder(landing)
    report = load(con, landing, "orders")
    # The same two orders as gzip CSV, TSV and CRLF CSV: different bytes, three deliveries.
    assert {f.path: f.status for f in report.files} == {p: s for p, (s, _) in EXPECTED.items()}
    assert report.rows_loaded == 6
    notes = {f.path: f.note for f in report.files if f.status == "ignored"}
    assert notes == {p: n for p, (s, n) in EXPECTED.items() if s == "ignored"}
    manifest = _manifest(con)
    assert {p: s for p, (s, _, _) in manifest.items()} == {
        "orders/orders.csv.gz": "loaded",
        "orders/orders.tsv": "loaded",
        "orders/orders_crlf_complete.csv": "loaded",
        **{p: s for p, (s, _) in EXPECTED.items() if s == "ignored"},
    }
    assert {p: n for p, (s, n, _) in manifest.items() if s == "ignored"} == notes
    assert_reconciles(con)
    # Only the three readable files are what the sensor hashes.
    assert [p.name for p in list_landing_files(landing, "orders")] == [
        "orders.csv.gz",
        "orders.tsv",
        "orders_crlf_complete.csv",
    ]


def test_rerun_updates_the_listing_instead_of_repeating_it(con, landing):
    load_accounts(con, landing)
    _deliver_mixed_folder(landing)
    load(con, landing, "orders", run_id="run-1")
    before = _manifest(con)
    second = load(con, landing, "orders", run_id="run-2")
    after = _manifest(con)
    assert set(after) == set(before)  # one row per entry, not one per run
    assert {p for p, (s, _, r) in after.items() if s == "ignored" and r == "run-2"} == {
        p for p, (s, _) in EXPECTED.items() if s == "ignored"
    }
    assert {p: r for p, (s, _, r) in after.items() if s == "loaded"} == {
        "orders/orders.csv.gz": "run-1",
        "orders/orders.tsv": "run-1",
        "orders/orders_crlf_complete.csv": "run-1",
    }
    assert {f.path: f.status for f in second.files} == {
        p: "unchanged" if s == "loaded" else s for p, (s, _) in EXPECTED.items()
    }


def test_glob_from_sources_yaml_lists_the_other_files(con, landing):
    drop(landing, "crm_accounts", "accounts_utf8_bom.csv", as_name="crm_export_1.csv")
    drop(landing, "crm_accounts", "accounts_gbk.csv", as_name="manual_fix.csv")
    report = load(con, landing, "crm_accounts", glob="crm_export_*")
    assert [(f.path, f.status, f.note) for f in report.files] == [
        ("crm_accounts/crm_export_1.csv", "loaded", None),
        (
            "crm_accounts/manual_fix.csv",
            "ignored",
            "does not match the glob 'crm_export_*' set for this source in config/sources.yaml",
        ),
    ]


def test_scan_of_a_missing_folder_is_empty(landing):
    assert scan_entity_folder(landing, "orders") == []


def test_manifest_of_an_older_warehouse_is_migrated(con, landing):
    """A warehouse from before the status column keeps its rows, now marked loaded."""
    con.execute("CREATE SCHEMA raw")
    con.execute(
        "CREATE TABLE raw._file_manifest (entity VARCHAR, path VARCHAR, size_bytes BIGINT, "
        "sha256 VARCHAR, rows_read BIGINT, rows_loaded BIGINT, rows_quarantined BIGINT, "
        "loaded_at TIMESTAMP, run_id VARCHAR)"
    )
    sha = sha256_file(FIXTURES / "accounts_utf8_bom.csv")
    con.execute(
        "INSERT INTO raw._file_manifest VALUES ('crm_accounts', 'crm_accounts/old_name.csv', "
        "601, ?, 3, 3, 0, TIMESTAMP '2024-01-01 08:00:00', 'old-run')",
        [sha],
    )
    ensure_raw_schema(con)
    ensure_raw_schema(con)  # idempotent
    assert con.execute(
        "SELECT status, note, CAST(seen_at AS VARCHAR), rows_blank FROM raw._file_manifest"
    ).fetchall() == [("loaded", None, "2024-01-01 08:00:00", None)]
    # The old row still identifies the content: the same bytes are not loaded again.
    drop(landing, "crm_accounts", "accounts_utf8_bom.csv")
    report = load(con, landing, "crm_accounts")
    assert [(f.status, f.loaded_as) for f in report.files] == [
        ("skipped-duplicate", "crm_accounts/old_name.csv")
    ]


def test_gzip_json_lines_load_like_the_plain_file(con, landing):
    import gzip

    load_accounts(con, landing)
    folder = landing / "crm_leads"
    folder.mkdir()
    data = (FIXTURES / "leads.jsonl").read_bytes()
    (folder / "leads.jsonl.gz").write_bytes(gzip.compress(data, mtime=0))
    report = load(con, landing, "crm_leads")
    assert [(f.status, f.file_format, f.rows_read, f.blank_rows) for f in report.files] == [
        ("loaded", "jsonl.gz", 3, 1)
    ]
    assert con.execute(
        "SELECT lead_id, status, _source_line FROM raw.crm_leads ORDER BY lead_id"
    ).fetchall() == [("L1", "open", 1), ("L2", "converted", 3)]
    assert_reconciles(con)
