"""Purge erased persons' personal fields from the warehouse, keeping every non-personal fact.

Every run sweeps all erased contacts (``privacy.erased_contacts``), so whatever still holds
their data — a version loaded before the request, a quarantined row, a legacy quality result —
is blanked, however it got there:

- ``raw.crm_contacts``: name, email, phone and job title of every version, set to NULL (the
  rows stay: ids, account, opt-out, timestamps; contact counts do not change);
- ``raw.surveys``: the comments of the contact's responses (scores stay);
- ``raw._quarantine``: those fields removed from ``raw_values``, and a value shown in the
  reason replaced by ``[erased]``; rows are matched by contact id, or by email or phone;
- ``quality.validation_results``: the person's emails, phones and names in stored examples
  replaced by their masked form (examples are masked when written since masking exists).

The staging models of these tables (contacts, survey responses) are views over raw, so they
follow (the other staging models are tables and hold no personal field). The values found are
returned in memory (:class:`PersonValues`) for the Great Expectations stores and the
verification; they are never written anywhere.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field

import duckdb

from pipelines import warehouse as wh
from pipelines.privacy.masking import mask_contact
from pipelines.privacy.personal_data import (
    PERSONAL_FIELDS,
    email_key_sql,
    identifier_hash_sql,
    phone_key_sql,
)
from pipelines.privacy.redelivery import without_keys_sql

RESULTS_TABLE = "quality.validation_results"
# Each erased contact is attributed to its earliest request (a person may ask twice).
_ERASED = """
    select c.contact_id, min_by(c.request_id, (r.requested_at, r.request_id)) as request_id
    from privacy.erased_contacts as c join privacy.erasure_requests as r using (request_id)
    group by c.contact_id
"""


@dataclass
class PersonValues:
    """The personal values of one request's contacts found in this run (memory only)."""

    names: set[str] = field(default_factory=set)
    emails: set[str] = field(default_factory=set)
    phones: set[str] = field(default_factory=set)

    def substrings(self) -> dict[str, str]:
        """Email and phone forms that identify the person wherever they appear, each with
        the masked form that replaces it."""
        out = {}
        for email in self.emails:
            for form in {email, email.lower()}:
                out[form] = mask_contact("email", form)
        for phone in self.phones:
            out[phone] = mask_contact("phone", phone)
        return out

    def exact(self) -> dict[str, str]:
        """Names: replaced only where a whole value equals them (a namesake's company or a
        longer name must not be touched)."""
        return {name: mask_contact("name", name) for name in self.names}


@dataclass
class ErasureSweep:
    """What one sweep purged, per request (counts per location) and the values found."""

    counts: dict[str, Counter] = field(default_factory=dict)
    contacts: dict[str, set[str]] = field(default_factory=dict)
    values: dict[str, PersonValues] = field(default_factory=dict)

    def add(self, request_id: str, location: str, rows: int) -> None:
        if rows:
            self.counts.setdefault(request_id, Counter())[location] += int(rows)

    def person(self, request_id: str) -> PersonValues:
        return self.values.setdefault(request_id, PersonValues())


def _json(key: str, column: str = "q.raw_values") -> str:
    return f"json_extract_string({column}, '$.{key}')"


def _stage_targets(con: duckdb.DuckDBPyConnection) -> None:
    """Temp tables of this sweep: erased contacts with their request, the quarantine rows of
    erased persons, and the identifier hashes that recognise them."""
    con.execute(f"create or replace temp table _erased as {_ERASED}")
    email = identifier_hash_sql("email", email_key_sql("c.email"))
    phone = identifier_hash_sql("phone", phone_key_sql("c.phone"))
    con.execute(
        f"""
        create or replace temp table _erased_keys as
        select e.request_id, 'email' as kind, {email} as hash
        from raw.crm_contacts as c join _erased as e using (contact_id) where c.email is not null
        union
        select e.request_id, 'phone', {phone}
        from raw.crm_contacts as c join _erased as e using (contact_id) where c.phone is not null
        union
        select request_id, 'email', email_sha256 from privacy.erasure_requests
        where email_sha256 is not null
        union
        select request_id, 'phone', phone_sha256 from privacy.erasure_requests
        where phone_sha256 is not null
        """
    )
    q_email = identifier_hash_sql("email", email_key_sql(_json("email")))
    q_phone = identifier_hash_sql("phone", phone_key_sql(_json("phone")))
    entities = ", ".join(f"'{e}'" for e in PERSONAL_FIELDS)
    # Only rows that still hold a personal value: a purged row is not purged again.
    keys = sorted({f for fields in PERSONAL_FIELDS.values() for f in fields})
    holds = " or ".join(f"json_exists(q.raw_values, '$.{k}')" for k in keys)
    con.execute(
        f"""
        create or replace temp table _quarantined as
        select q.rowid as rid, q.entity, q.raw_values,
            coalesce(e.request_id, ke.request_id, kp.request_id) as request_id
        from raw._quarantine as q
        left join _erased as e
            on e.contact_id = trim(json_extract_string(q.raw_values, '$.contact_id'))
        left join _erased_keys as ke on ke.kind = 'email' and ke.hash = {q_email}
        left join _erased_keys as kp on kp.kind = 'phone' and kp.hash = {q_phone}
        where q.entity in ({entities}) and q.raw_values is not null and ({holds})
            and coalesce(e.request_id, ke.request_id, kp.request_id) is not null
        qualify row_number() over (partition by q.rowid order by e.request_id nulls last) = 1
        """
    )


def _collect_values(con: duckdb.DuckDBPyConnection, sweep: ErasureSweep) -> None:
    rows = con.execute(
        f"""
        select e.request_id, c.contact_id, c.full_name, c.email, c.phone,
            {phone_key_sql("c.phone")}
        from raw.crm_contacts as c join _erased as e using (contact_id)
        where c.full_name is not null or c.email is not null or c.phone is not null
            or c.job_title is not null
        union all
        select request_id, trim({_json("contact_id", "raw_values")}),
            {_json("full_name", "raw_values")}, {_json("email", "raw_values")},
            {_json("phone", "raw_values")}, {phone_key_sql(_json("phone", "raw_values"))}
        from _quarantined where entity = 'crm_contacts'
        """
    ).fetchall()
    for request_id, contact_id, name, email, phone, phone_key in rows:
        person = sweep.person(request_id)
        if contact_id:
            sweep.contacts.setdefault(request_id, set()).add(contact_id)
        # The national number too (a later stage may store it as E.164, +86...), unless it
        # is too short to say whose it is.
        national = phone_key if phone_key and len(phone_key) >= 7 else None
        for bucket, value in (
            (person.names, name),
            (person.emails, email),
            (person.phones, phone),
            (person.phones, national),
        ):
            if value and value.strip():
                bucket.add(value.strip())


def _blank_raw(con: duckdb.DuckDBPyConnection, sweep: ErasureSweep) -> None:
    for entity, fields in PERSONAL_FIELDS.items():
        held = " or ".join(f"t.{f} is not null" for f in fields)
        counts = con.execute(
            f"select e.request_id, count(*) from raw.{entity} as t "
            f"join _erased as e using (contact_id) where {held} group by 1"
        ).fetchall()
        for request_id, rows in counts:
            sweep.add(request_id, f"raw.{entity}", rows)
        if counts:
            blank = ", ".join(f"{f} = null" for f in fields)
            con.execute(
                f"update raw.{entity} as t set {blank} "
                f"where contact_id in (select contact_id from _erased) and ({held})"
            )


def _blank_quarantine(con: duckdb.DuckDBPyConnection, sweep: ErasureSweep) -> None:
    for request_id, rows in con.execute(
        "select request_id, count(*) from _quarantined group by 1"
    ).fetchall():
        sweep.add(request_id, "raw._quarantine", rows)
    for entity, fields in PERSONAL_FIELDS.items():
        columns = "|".join(fields)
        con.execute(
            f"""
            update raw._quarantine set
                raw_values = {without_keys_sql("raw_values", fields)},
                reason = regexp_replace(reason, ': ({columns})=''.*''$', ': \\1=''[erased]''')
            where rowid in (select rid from _quarantined where entity = ?)
            """,
            [entity],
        )


def _scrub_results(con: duckdb.DuckDBPyConnection, sweep: ErasureSweep) -> None:
    if not wh.table_exists(con, RESULTS_TABLE):
        return
    for request_id, person in sweep.values.items():
        pairs = [
            (json.dumps(v, ensure_ascii=False)[1:-1], m) for v, m in person.substrings().items()
        ]
        pairs += [(json.dumps(v, ensure_ascii=False), json.dumps(m, ensure_ascii=False))
                  for v, m in person.exact().items()]  # fmt: skip
        for value, masked in pairs:
            changed = con.execute(
                f"update {RESULTS_TABLE} set "
                "examples = replace(examples::varchar, $v, $m)::json, "
                "error = replace(error, $v, $m) "
                "where contains(examples::varchar, $v) or contains(error, $v)",
                {"v": value, "m": masked},
            ).fetchone()[0]
            sweep.add(request_id, RESULTS_TABLE, changed)


def sweep_erased(con: duckdb.DuckDBPyConnection) -> ErasureSweep:
    """Blank every erased person's personal fields still in the warehouse (see module
    docstring); returns the counts per request and location, and the values found."""
    sweep = ErasureSweep()
    if not con.execute("select count(*) from privacy.erasure_requests").fetchone()[0]:
        return sweep  # nobody ever asked: nothing to look for
    _stage_targets(con)
    _collect_values(con, sweep)
    _blank_raw(con, sweep)
    _blank_quarantine(con, sweep)
    _scrub_results(con, sweep)
    for table in ("_erased", "_erased_keys", "_quarantined"):
        con.execute(f"drop table if exists {table}")
    return sweep
