"""Erasure on a small warehouse loaded by the real loader: requests by contact id, email and
phone (in other spellings than delivered), every place a person's values were stored, the audit
rows, the landing files, and a re-delivery afterwards."""

from __future__ import annotations

import hashlib
import json
from datetime import date, datetime
from pathlib import Path

import duckdb
import pytest

from pipelines.ingest.loader import load_entities
from pipelines.privacy import lifecycle
from pipelines.settings import LANDING_ENTITIES, Paths
from tests.config_files import run_context

AS_OF = date(2024, 6, 30)
LOAD_TIME = datetime(2024, 6, 30, 18, 0)
CONTACT_HEADER = (
    "contact_id,account_id,full_name,email,phone,job_title,opt_out,created_at,updated_at,is_deleted"
)
FILES = {
    "crm_accounts/accounts.csv": """account_id,account_name,created_at,updated_at
A1,杭州甲科技有限公司,2020-01-01,2020-01-01
A2,杭州乙科技有限公司,2020-01-01,2020-01-01
""",
    "crm_contacts/contacts_v1.csv": f"""{CONTACT_HEADER}
C1,A1,赵云飞,Zhao.Yunfei@corp.cn,138 1111 2222,经理,0,2023-01-01,2023-01-01,false
C2,A1,钱多多,qian.duoduo@corp.cn,0571-8888 1234,会计,0,2023-01-01,2023-01-01,false
C3,A2,孙悟能,sun.wuneng@corp.cn,139 3333 4444,采购,1,2023-01-01,2023-01-01,false
C5,A2,周伯通,zhou.botong@corp.cn,137 5555 6666,总经理,0,2023-01-01,2023-01-01,false
,A1,钱多多,qian.duoduo@corp.cn,0571-8888 1234,会计,0,2023-01-01,2023-02-01,false
C3,A2,孙悟能,sun.wuneng@corp.cn,=139 3333 4444,采购,1,2023-01-01,2023-03-01,false
""",
    "crm_contacts/contacts_v2.csv": f"""{CONTACT_HEADER}
C1,A1,赵云飞,Zhao.Yunfei@corp.cn,138 1111 2222,总监,0,2023-01-01,2024-01-01,false
""",
    "surveys/surveys.csv": """response_id,account_id,contact_id,survey_date,nps_score,comment
S1,A1,C1,2024-05-01,9,赵总很满意
S2,A2,C3,2024-05-02,3,孙悟能说价格太高
S3,A2,C5,2024-05-03,8,周总说不错
""",
    "privacy_erasure_requests/requests.csv": """request_id,contact_id,email,phone,requested_at,reason
R1,C1,,,2024-06-01 09:00,GDPR art. 17
R2,, QIAN.duoduo@CORP.cn ,,2024-06-02 09:00,asked by phone 13900001111
R3,,,+86 139-3333-4444,2024-06-03 09:00,PIPL art. 47
R4,,nobody@nowhere.cn,,2024-06-04 09:00,
R5,,,,2024-06-05 09:00,no identifier given
""",
}
ERASED = ["赵云飞", "zhao.yunfei@corp.cn", "Zhao.Yunfei@corp.cn", "138 1111 2222", "钱多多",
          "qian.duoduo@corp.cn", "0571-8888 1234", "孙悟能", "sun.wuneng@corp.cn", "139 3333 4444",
          "赵总很满意", "13900001111", "QIAN.duoduo@CORP.cn"]  # fmt: skip
KEPT = ["周伯通", "zhou.botong@corp.cn", "137 5555 6666", "周总说不错"]


def _paths(root: Path) -> Paths:
    data = root / "data"
    return Paths(data, data / "landing", data / "warehouse" / "stratum.duckdb",
                 data / "serving", data / "models", data / "quality")  # fmt: skip


def _write(landing: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        (landing / name).parent.mkdir(parents=True, exist_ok=True)
        (landing / name).write_text(text, encoding="utf-8")


def _run(paths: Paths, run_id: str) -> lifecycle.PrivacyReport:
    """Load the landing folder and do the privacy work, as the ingest step does."""
    ctx = run_context(AS_OF, run_id)
    paths.warehouse.parent.mkdir(parents=True, exist_ok=True)
    with duckdb.connect(str(paths.warehouse)) as con:
        sources = ctx.config.source_settings
        load_entities(con, LANDING_ENTITIES, paths.landing_dir, run_id, LOAD_TIME, sources)
        report = lifecycle.enforce(con, ctx, paths)
    return lifecycle.finish(report, paths, run_id)


def _text_cells(con: duckdb.DuckDBPyConnection) -> str:
    """Every text cell of every table, as one string (what an auditor would grep)."""
    tables = con.execute(
        "select schema_name, table_name from duckdb_tables() where not temporary"
    ).fetchall()
    return "\n".join(str(con.execute(f'select * from "{s}"."{t}"').fetchall()) for s, t in tables)


@pytest.fixture
def erased(tmp_path: Path):
    paths = _paths(tmp_path)
    _write(paths.landing_dir, FILES)
    report = _run(paths, "run-1")
    con = duckdb.connect(str(paths.warehouse), read_only=True)
    yield paths, report, con
    con.close()


def test_every_version_and_quarantined_row_of_an_erased_person_is_blank(erased):
    _, _, con = erased
    contacts = con.execute(
        "select contact_id, full_name, email, phone, job_title, opt_out, account_id "
        "from raw.crm_contacts order by contact_id, updated_at"
    ).fetchall()
    assert contacts == [
        ("C1", None, None, None, None, False, "A1"),
        ("C1", None, None, None, None, False, "A1"),
        ("C2", None, None, None, None, False, "A1"),
        ("C3", None, None, None, None, True, "A2"),
        ("C5", "周伯通", "zhou.botong@corp.cn", "137 5555 6666", "总经理", False, "A2"),
    ]
    surveys = con.execute("select response_id, nps_score, comment from raw.surveys order by 1")
    assert surveys.fetchall() == [("S1", 9, None), ("S2", 3, None), ("S3", 8, "周总说不错")]
    quarantined = dict(
        con.execute(
            "select reason, raw_values from raw._quarantine where entity = 'crm_contacts'"
        ).fetchall()
    )
    assert {json.loads(v).get("email") for v in quarantined.values()} == {None}
    assert set(quarantined) == {
        "missing required value: contact_id",
        "formula-like value: phone='[erased]'",
    }
    assert json.loads(quarantined["missing required value: contact_id"]) == {
        "contact_id": "", "account_id": "A1", "opt_out": "0", "created_at": "2023-01-01",
        "updated_at": "2023-02-01", "is_deleted": "false",
    }  # fmt: skip
    text = _text_cells(con)
    assert not [v for v in ERASED if v in text]
    assert all(v in text for v in KEPT)


def test_requests_keep_hashes_not_identifiers(erased):
    _, report, con = erased
    assert report.registration.registered == ["R1", "R2", "R3", "R4"]
    stored = con.execute(
        "select request_id, contact_id, email_sha256, phone_sha256, reason "
        "from privacy.erasure_requests order by 1"
    ).fetchall()
    digest = hashlib.sha256(b"stratum-erasure:email:qian.duoduo@corp.cn").hexdigest()
    assert stored[1] == ("R2", None, digest, None, "asked by phone 99999999999")
    assert stored[2][3] == hashlib.sha256(b"stratum-erasure:phone:13933334444").hexdigest()
    raw = con.execute("select count(email), count(phone) from raw.privacy_erasure_requests")
    assert raw.fetchone() == (0, 0)
    (reason,) = con.execute(
        "select reason from raw._quarantine where entity = 'privacy_erasure_requests'"
    ).fetchone()
    assert reason == "no identifier: contact_id, email or phone required"
    resolved = con.execute(
        "select request_id, contact_id, matched_by from privacy.erased_contacts order by 1"
    ).fetchall()
    assert resolved == [("R1", "C1", "contact_id"), ("R2", "C2", "email"), ("R3", "C3", "phone")]


def test_audit_rows_count_what_was_purged_where(erased):
    _, _, con = erased
    rows = con.execute(
        "select request_id, identified_by, contacts, rows_purged, landing_files_removed, purged, "
        "note from privacy.erasure_log order by request_id"
    ).fetchall()
    assert [(r[0], r[1], r[2], r[3], r[4]) for r in rows] == [
        ("R1", "contact_id", 1, 3, 3),  # 2 versions + 1 comment; both contact files + surveys
        ("R2", "email", 1, 2, 1),  # 1 version + the quarantined row without a contact id
        ("R3", "phone", 1, 3, 2),  # 1 version + 1 comment + the quarantined newer version
        ("R4", "email", 0, 0, 0),
    ]
    assert json.loads(rows[2][5]) == {
        "raw._quarantine": 1, "raw.crm_contacts": 1, "raw.surveys": 1,
    }  # fmt: skip
    assert "no personal data of this person found" in rows[3][6]


def test_landing_files_holding_erased_persons_are_removed_and_noted(erased):
    paths, report, con = erased
    left = sorted(p.relative_to(paths.landing_dir).as_posix()
                  for p in paths.landing_dir.rglob("*") if p.is_file())  # fmt: skip
    assert left == ["crm_accounts/accounts.csv"]
    removed = dict(
        con.execute(
            "select path, removed_by from raw._file_manifest where removed_at is not null"
        ).fetchall()
    )
    assert removed == {
        "crm_contacts/contacts_v1.csv": "erasure: R1, R2, R3",
        "crm_contacts/contacts_v2.csv": "erasure: R1",
        "surveys/surveys.csv": "erasure: R1, R3",
        "privacy_erasure_requests/requests.csv": "erasure: registered requests",
    }
    assert report.compaction is not None and report.findings == []


def test_a_redelivered_file_arrives_blank_and_a_second_sweep_changes_nothing(erased):
    paths, _, con = erased
    con.close()
    # The CRM exports C1 again, and the person of R4 under a new contact id (matched by email).
    _write(paths.landing_dir, {"crm_contacts/contacts_v3.csv": f"""{CONTACT_HEADER}
C1,A1,赵云飞,zhao.yunfei@corp.cn,138 1111 2222,副总,0,2023-01-01,2024-06-01,false
C9,A2,无名氏,NOBODY@nowhere.cn,136 0000 9999,顾问,0,2024-06-01,2024-06-01,false
C5,A2,周伯通,zhou.botong@corp.cn,137 5555 6666,董事长,0,2023-01-01,2024-06-01,false
"""})  # fmt: skip
    report = _run(paths, "run-2")
    with duckdb.connect(str(paths.warehouse), read_only=True) as con:
        rows = con.execute(
            "select contact_id, full_name, email, phone, job_title from raw.crm_contacts "
            "where _run_id = 'run-2' order by 1"
        ).fetchall()
        assert rows == [
            ("C1", None, None, None, None),
            ("C5", "周伯通", "zhou.botong@corp.cn", "137 5555 6666", "董事长"),
            ("C9", None, None, None, None),
        ]
        manifest = con.execute(
            "select rows_loaded, rows_erased, removed_by from raw._file_manifest "
            "where path = 'crm_contacts/contacts_v3.csv'"
        ).fetchone()
        assert manifest == (3, 2, "erasure: R1, R4")
        assert con.execute(
            "select contact_id, matched_by from privacy.erased_contacts where request_id = 'R4'"
        ).fetchall() == [("C9", "email")]
        log = con.execute(
            "select request_id, rows_purged, landing_files_removed from privacy.erasure_log "
            "where run_id = 'run-2' order by 1"
        ).fetchall()
    # Nothing was left to blank in the warehouse: only the re-delivered file was removed.
    assert log == [("R1", 0, 1), ("R4", 0, 1)]
    assert report.compaction is None and not report.sweep.values


def _interrupted(paths: Paths, monkeypatch, where: str) -> None:
    """Run 1 of the small world, stopped dead at ``where`` (a kill there, as far as the
    warehouse and the files can tell: nothing after it runs)."""

    def killed(*args, **kwargs):
        raise KeyboardInterrupt(f"killed at {where}")

    _write(paths.landing_dir, FILES)
    with monkeypatch.context() as mp:
        mp.setattr(lifecycle, where, killed)
        with pytest.raises(KeyboardInterrupt):
            _run(paths, "run-1")


def test_a_run_killed_before_its_erasure_commits_leaves_everything_for_the_next(
    tmp_path, monkeypatch
):
    """Killed while scrubbing the stored quality results, after blanking the warehouse in the
    same transaction: the warehouse is as it was, so the next run still knows the values to
    look for in the results, and nothing is lost (the requests' file is still there)."""
    paths = _paths(tmp_path)
    _interrupted(paths, monkeypatch, "scrub_stored_results")
    with duckdb.connect(str(paths.warehouse), read_only=True) as con:
        assert con.execute("select count(*) from privacy.erasure_requests").fetchone() == (0,)
        assert con.execute("select count(*) from privacy.erasure_log").fetchone() == (0,)
        assert "Zhao.Yunfei@corp.cn" in _text_cells(con)
    assert (paths.landing_dir / "privacy_erasure_requests" / "requests.csv").exists()

    report = _run(paths, "run-2")

    assert report.registration.registered == ["R1", "R2", "R3", "R4"]
    assert "Zhao.Yunfei@corp.cn" in report.sweep.values["R1"].emails  # for the results' scrub
    with duckdb.connect(str(paths.warehouse), read_only=True) as con:
        text = _text_cells(con)
        log = con.execute(
            "select request_id, run_id, rows_purged from privacy.erasure_log order by 1"
        ).fetchall()
    assert not [v for v in ERASED if v in text]
    assert log == [("R1", "run-2", 3), ("R2", "run-2", 2), ("R3", "run-2", 3), ("R4", "run-2", 0)]


def test_a_run_killed_before_rewriting_the_file_has_the_next_run_rewrite_it(tmp_path, monkeypatch):
    """The erasure committed, the rewrite of the warehouse file (which makes the blanked
    values' old bytes unreadable) never happened: the next run finds nothing left to blank,
    and rewrites the file anyway, once."""
    paths = _paths(tmp_path)
    _interrupted(paths, monkeypatch, "compact_database")
    with duckdb.connect(str(paths.warehouse), read_only=True) as con:
        assert con.execute("select run_id from privacy.rewrite_due").fetchall() == [("run-1",)]
        assert con.execute("select count(*) from privacy.erasure_log").fetchone() == (4,)

    second = _run(paths, "run-2")
    third = _run(paths, "run-3")

    assert not second.erased_in_warehouse
    assert (
        second.rewrite == "erasure (owed since run run-1, which did not finish rewriting the file)"
    )
    assert second.compaction is not None
    assert third.rewrite is None and third.compaction is None
    with duckdb.connect(str(paths.warehouse), read_only=True) as con:
        rewrites = con.execute("select run_id, reason from privacy.rewrites").fetchall()
        due = con.execute("select count(*) from privacy.rewrite_due").fetchone()[0]
    assert [r[0] for r in rewrites] == ["run-2"] and due == 0
