"""What counts as personal data is named once, matches the landing contract, and is masked in
the reasons and errors people read; erasure requests without an identifier are quarantined."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import duckdb

from pipelines.ingest.contracts import get_contract
from pipelines.ingest.loader import load_entity
from pipelines.ingest.sources_config import SourceConfig
from pipelines.privacy.masking import contact_kind
from pipelines.privacy.personal_data import PERSONAL_FIELDS, REQUEST_IDENTIFIERS
from pipelines.settings import ERASURE_REQUESTS

LOAD_TIME = datetime(2024, 6, 30, 18, 0)


def test_personal_fields_are_contract_columns_the_masking_recognises():
    for entity, fields in {**PERSONAL_FIELDS, ERASURE_REQUESTS: REQUEST_IDENTIFIERS}.items():
        columns = get_contract(entity).column_names
        assert set(fields) <= set(columns), entity
        assert all(contact_kind(f) for f in fields), entity
        assert "contact_id" in columns or entity == ERASURE_REQUESTS


def _load(tmp_path: Path, entity: str, text: str):
    con = duckdb.connect()
    (tmp_path / entity).mkdir(parents=True, exist_ok=True)
    (tmp_path / entity / "file.csv").write_text(text, encoding="utf-8")
    if entity != ERASURE_REQUESTS:
        (tmp_path / "crm_accounts").mkdir(exist_ok=True)
        (tmp_path / "crm_accounts" / "a.csv").write_text(
            "account_id,account_name,created_at,updated_at\nA1,甲公司,2020-01-01,2020-01-01\n"
        )
        load_entity(con, "crm_accounts", tmp_path, "r", LOAD_TIME, SourceConfig())
    report = load_entity(con, entity, tmp_path, "r", LOAD_TIME, SourceConfig())
    reasons = con.execute("select source_line, reason from raw._quarantine where entity = ?",
                          [entity]).fetchall()  # fmt: skip
    return report, dict(reasons)


def test_reasons_show_personal_values_masked(tmp_path):
    report, reasons = _load(
        tmp_path,
        "crm_contacts",
        "contact_id,account_id,full_name,email,phone,job_title,created_at,updated_at\n"
        "C1,A1,王小明,wang@corp.cn,=138 0013 8000,经理,2024-01-01,2024-01-01\n"
        'C2,A1,=HYPERLINK("x"),li@corp.cn,139 1234 5678,经理,2024-01-01,2024-01-01\n'
        "C3,A1,赵六,@zhao.liu@corp.cn,137 0000 1111,经理,2024-01-01,2024-01-01\n",
    )
    assert report.rows_quarantined == 3
    assert reasons == {
        2: "formula-like value: phone='=999 9999 9999'",
        3: "formula-like value: full_name='=**************'",
        4: "formula-like value: email='@xxxx.xxx@xxxx.xx'",
    }


def test_erasure_requests_need_an_identifier(tmp_path):
    report, reasons = _load(
        tmp_path,
        ERASURE_REQUESTS,
        "request_id,contact_id,email,phone,requested_at,reason\n"
        "R1,C1,,,2024-06-01 09:00,GDPR\n"
        "R2,,,,2024-06-01 09:00,asked by letter\n"
        "R3,,a@x.cn,,2024-06-01 09:00,\n",
    )
    assert (report.rows_loaded, report.rows_quarantined) == (2, 1)
    assert reasons == {3: "no identifier: contact_id, email or phone required"}


def test_no_staging_table_copies_a_personal_field(dbt_manifest):
    """Erasure blanks personal fields in raw; a staging model over such a table must be a view
    on DuckDB, or its copy of an erased value would outlive the erasure (and be carried into
    the compacted file). Every other staging model may be a table, and most are."""
    import json

    nodes = json.loads(dbt_manifest.read_text())["nodes"].values()
    staging = [n for n in nodes if n["resource_type"] == "model" and n["schema"] == "staging"]
    kinds = {}
    for node in staging:
        sources = {d.split(".")[-1] for d in node["depends_on"]["nodes"] if d.startswith("source.")}
        kinds[node["name"]] = (node["config"]["materialized"], bool(sources & set(PERSONAL_FIELDS)))
    personal = {name for name, (_, holds) in kinds.items() if holds}
    assert personal == {"stg_crm__contacts", "stg_surveys__responses"}
    assert {name: kinds[name][0] for name in personal} == dict.fromkeys(personal, "view")
    assert sum(kind == "table" for kind, _ in kinds.values()) == len(kinds) - len(personal)
