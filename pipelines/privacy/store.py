"""The ``privacy`` schema: registered erasure requests, erased contacts, and the two logs.

None of these tables holds a person's name, email or phone: requests keep hashes of their
identifiers, the logs keep counts.

- ``erasure_requests``: one row per request id, as registered (identifiers hashed, reason
  with emails and phones masked);
- ``erased_contacts``: every contact id a request resolved to (by its id, or by a contact
  version carrying the requested email or phone): the ingest blanks their personal fields
  in every later delivery;
- ``erasure_log`` (the audit table): one row per request and run that purged something (or
  registered the request), with counts per location;
- ``retention_log``: one row per retention rule and run, with the rows it purged;
- ``rewrites``: every rewrite of the warehouse file that made purged bytes unreadable;
- ``rewrite_due``: runs that blanked personal values and whose rewrite has not happened yet
  (committed with the blanking, deleted with the rewrite's record): a run killed in between
  leaves its row, and the next run rewrites the file.
"""

from __future__ import annotations

import duckdb

from pipelines import warehouse as wh

DDL = (
    "create schema if not exists privacy",
    """create table if not exists privacy.erasure_requests (
        request_id varchar primary key,
        contact_id varchar,
        email_sha256 varchar,
        phone_sha256 varchar,
        requested_at timestamp,
        reason varchar,
        source_file varchar,
        registered_at timestamp not null,
        run_id varchar not null
    )""",
    """create table if not exists privacy.erased_contacts (
        contact_id varchar not null,
        request_id varchar not null,
        matched_by varchar not null,
        resolved_at timestamp not null,
        run_id varchar not null,
        primary key (contact_id, request_id)
    )""",
    """create table if not exists privacy.erasure_log (
        request_id varchar not null,
        run_id varchar not null,
        erased_at timestamp not null,
        requested_at timestamp,
        identified_by varchar,
        contacts bigint not null,
        rows_purged bigint not null,
        landing_files_removed bigint not null,
        purged json not null,
        note varchar
    )""",
    """create table if not exists privacy.retention_log (
        run_id varchar not null,
        as_of_date date not null,
        applied_at timestamp not null,
        rule varchar not null,
        retention_days integer,
        cutoff timestamp,
        rows_purged bigint not null
    )""",
    """create table if not exists privacy.rewrites (
        run_id varchar not null,
        rewritten_at timestamp not null,
        reason varchar not null,
        bytes_before bigint not null,
        bytes_after bigint not null
    )""",
    """create table if not exists privacy.rewrite_due (
        run_id varchar not null,
        due_since timestamp not null
    )""",
)


def ensure_privacy_schema(con: duckdb.DuckDBPyConnection) -> None:
    """Create the ``privacy`` schema and its tables (idempotent)."""
    for statement in DDL:
        con.execute(statement)


def privacy_schema_exists(con: duckdb.DuckDBPyConnection) -> bool:
    """True once an erasure has ever been registered in this warehouse (the ingest asks
    before blanking re-deliveries, so a warehouse without it is not written to)."""
    return wh.table_exists(con, "privacy.erased_contacts")
