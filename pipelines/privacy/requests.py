"""Erasure requests: registered once, identifiers hashed, resolved to contact ids.

A request (landing entity ``privacy_erasure_requests``, docs/data-contract.md) names a person
by ``contact_id``, ``email`` or ``phone``. Registering it keeps the contact id, hashes of the
normalised email and phone (:mod:`pipelines.privacy.personal_data`), the date and the reason
(emails and phone numbers in it masked), then blanks the identifiers in
``raw.privacy_erasure_requests`` and in quarantined request rows: the warehouse never keeps the
email of a person who asked to be erased. Resolving matches every registered request against
every version of every contact, so a request that named an email also finds contacts whose
email is delivered later.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import duckdb

from pipelines.privacy.masking import scrub_text
from pipelines.privacy.personal_data import (
    REQUEST_IDENTIFIERS,
    email_key_sql,
    identifier_hash_sql,
    phone_key_sql,
)
from pipelines.privacy.redelivery import without_keys_sql
from pipelines.settings import ERASURE_REQUESTS

_REQUESTS = f"raw.{ERASURE_REQUESTS}"


@dataclass(frozen=True)
class Registration:
    """What registering this run's requests did."""

    registered: list[str]  # request ids registered now, in request order
    identifiers_blanked: dict[str, int]  # request id -> email/phone values blanked in raw


def register_requests(con: duckdb.DuckDBPyConnection, run_id: str, now: datetime) -> Registration:
    """Register every request of ``raw.privacy_erasure_requests`` not registered yet (the first
    row of each request id; later rows with the same id are ignored), then blank the email and
    phone of every request row and of quarantined request rows."""
    email = identifier_hash_sql("email", email_key_sql("email"))
    phone = identifier_hash_sql("phone", phone_key_sql("phone"))
    rows = con.execute(
        f"""
        select request_id, contact_id, {email}, {phone}, requested_at, reason, _source_file
        from {_REQUESTS}
        where request_id not in (select request_id from privacy.erasure_requests)
        qualify row_number() over (
            partition by request_id order by _loaded_at, _source_file, _source_line) = 1
        order by requested_at, request_id
        """
    ).fetchall()
    if rows:
        con.executemany(
            "insert into privacy.erasure_requests values (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [[*r[:5], scrub_text(r[5]) if r[5] else None, r[6], now, run_id] for r in rows],
        )
    held = "email is not null or phone is not null"
    blanked = dict(
        con.execute(
            "select request_id, sum((email is not null)::int + (phone is not null)::int) "
            f"from {_REQUESTS} where {held} group by 1"
        ).fetchall()
    )
    con.execute(f"update {_REQUESTS} set email = null, phone = null where {held}")
    _scrub_reasons(con)
    con.execute(
        "update raw._quarantine set raw_values = "
        f"{without_keys_sql('raw_values', REQUEST_IDENTIFIERS)} "
        "where entity = ? and (json_exists(raw_values, '$.email') "
        "or json_exists(raw_values, '$.phone'))",
        [ERASURE_REQUESTS],
    )
    return Registration([r[0] for r in rows], {k: int(v) for k, v in blanked.items()})


def _scrub_reasons(con: duckdb.DuckDBPyConnection) -> None:
    # Reasons are typed by people ("asked by phone 138..."): emails and phones masked in raw too.
    reasons = con.execute(
        f"select distinct reason from {_REQUESTS} where reason is not null"
    ).fetchall()
    for (reason,) in reasons:
        if scrub_text(reason) != reason:
            con.execute(
                f"update {_REQUESTS} set reason = ? where reason = ?", [scrub_text(reason), reason]
            )


def resolve_contacts(con: duckdb.DuckDBPyConnection, run_id: str, now: datetime) -> int:
    """Add to ``privacy.erased_contacts`` every (contact id, request) pair not recorded yet:
    the request's own contact id, and contacts with a version carrying the requested email
    or phone. Returns the pairs added."""
    email = identifier_hash_sql("email", email_key_sql("c.email"))
    phone = identifier_hash_sql("phone", phone_key_sql("c.phone"))
    before = con.execute("select count(*) from privacy.erased_contacts").fetchone()[0]
    con.execute(
        f"""
        insert into privacy.erased_contacts
        with found as (
            select contact_id, request_id, 'contact_id' as matched_by
            from privacy.erasure_requests where contact_id is not null
            union all
            select c.contact_id, r.request_id, 'email'
            from raw.crm_contacts as c
            join privacy.erasure_requests as r on r.email_sha256 = {email}
            where c.email is not null
            union all
            select c.contact_id, r.request_id, 'phone'
            from raw.crm_contacts as c
            join privacy.erasure_requests as r on r.phone_sha256 = {phone}
            where c.phone is not null
        )
        select contact_id, request_id, min(matched_by), ?, ?
        from found
        where not exists (
            select 1 from privacy.erased_contacts as e
            where e.contact_id = found.contact_id and e.request_id = found.request_id
        )
        group by contact_id, request_id
        """,
        [now, run_id],
    )
    return con.execute("select count(*) from privacy.erased_contacts").fetchone()[0] - before
