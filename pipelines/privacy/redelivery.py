"""An erasure survives re-deliveries: rows of erased persons arrive with personal fields blank.

The ingest calls :func:`blank_erased_rows` on each file's validated rows before appending them
to ``raw``: a CRM export (or an old backup) that still carries an erased contact loads that
contact's row, keeping its id, account, opt-out flag and timestamps, with its personal fields
empty; a quarantined row of that person keeps its reason but loses those values from
``raw_values``. The manifest counts the rows (``rows_erased``).

A row belongs to an erased person when its ``contact_id`` was resolved by a request
(``privacy.erased_contacts``), or when its email or phone matches the hashed identifier of a
request that named one (``privacy.erasure_requests``).
"""

from __future__ import annotations

import json

import duckdb

from pipelines.privacy.personal_data import (
    PERSON_KEY,
    PERSONAL_FIELDS,
    email_key_sql,
    identifier_hash_sql,
    phone_key_sql,
)
from pipelines.privacy.store import privacy_schema_exists


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def hashed_kinds(con: duckdb.DuckDBPyConnection) -> set[str]:
    """The identifier kinds (``email``, ``phone``) some registered request is matched by."""
    row = con.execute(
        "select count(email_sha256), count(phone_sha256) from privacy.erasure_requests"
    ).fetchone()
    return {kind for kind, n in zip(("email", "phone"), row, strict=True) if n}


def erased_person_sql(entity: str, kinds: set[str]) -> str:
    """SQL condition: a row of ``entity`` belongs to an erased person, by contact id or by the
    hash of an identifier of ``kinds``."""
    fields = PERSONAL_FIELDS[entity]
    conds = [f"{_q(PERSON_KEY)} IN (SELECT contact_id FROM privacy.erased_contacts)"]
    for kind, key_sql in (("email", email_key_sql), ("phone", phone_key_sql)):
        if kind in fields and kind in kinds:
            hashed = identifier_hash_sql(kind, key_sql(_q(kind)))
            conds.append(
                f"{hashed} IN (SELECT {kind}_sha256 FROM privacy.erasure_requests "
                f"WHERE {kind}_sha256 IS NOT NULL)"
            )
    return "(" + " OR ".join(conds) + ")"


def without_keys_sql(json_expr: str, keys: tuple[str, ...]) -> str:
    """SQL: the JSON text ``json_expr`` with ``keys`` removed (NULL stays NULL)."""
    patch = json.dumps(dict.fromkeys(keys))  # merge-patch: a null member deletes the key
    return (
        f"CASE WHEN {json_expr} IS NULL THEN NULL "
        f"ELSE CAST(json_merge_patch({json_expr}, '{patch}') AS VARCHAR) END"
    )


def _record_new_contacts(
    con: duckdb.DuckDBPyConnection, table: str, run_id: str, kinds: set[str]
) -> None:
    """Contacts recognised by a requested email or phone under an id no request resolved yet
    (the person re-created in the CRM): erased from now on by id too (their surveys...)."""
    for kind, key_sql in (("email", email_key_sql), ("phone", phone_key_sql)):
        if kind not in kinds:
            continue
        hashed = identifier_hash_sql(kind, key_sql(f"t.{kind}"))
        con.execute(
            f"""
            insert into privacy.erased_contacts
            select distinct t.contact_id, r.request_id, '{kind}', timezone('UTC', now()), ?
            from "{table}" as t join privacy.erasure_requests as r on r.{kind}_sha256 = {hashed}
            where t.contact_id is not null and not exists (
                select 1 from privacy.erased_contacts as e
                where e.contact_id = t.contact_id and e.request_id = r.request_id)
            """,
            [run_id],
        )


def blank_erased_rows(con: duckdb.DuckDBPyConnection, entity: str, table: str, run_id: str) -> int:
    """Blank the personal fields of erased persons' rows in ``table``, the validated rows of
    one file (typed contract columns and ``_raw_values``). Returns the rows blanked."""
    fields = PERSONAL_FIELDS.get(entity)
    if not fields or not privacy_schema_exists(con):
        return 0
    kinds = hashed_kinds(con)
    erased = con.execute("select count(*) from privacy.erased_contacts").fetchone()[0]
    if not kinds and not erased:
        return 0  # nobody was ever erased: no row of this file to look at
    if "email" in fields:
        _record_new_contacts(con, table, run_id, kinds)
    match = erased_person_sql(entity, kinds)
    holds = " OR ".join(f"{_q(f)} IS NOT NULL" for f in fields)
    # A quarantined row keeps its original strings in _raw_values (good rows have none).
    rows = con.execute(
        f'SELECT count(*) FROM "{table}" WHERE {match} AND ({holds} OR _raw_values IS NOT NULL)'
    ).fetchone()[0]
    if rows:
        blank = ", ".join(f"{_q(f)} = NULL" for f in fields)
        con.execute(
            f'UPDATE "{table}" SET {blank}, '
            f"_raw_values = {without_keys_sql('_raw_values', fields)} WHERE {match}"
        )
    return int(rows)
