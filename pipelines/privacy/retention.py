"""Retention: personal data is kept for the periods of ``config/privacy.yaml``, then purged.

Rules, each measured against the end of the run's as-of date (business time, so a run is
reproducible and a backfill for an old date purges no more than its date allows):

- ``superseded_contact_versions``: a contact version is *superseded* when a newer version of
  the contact arrived (at the newer version's ``updated_at``) or, for the latest version, when
  it deleted the contact (at its ``updated_at``). Its personal fields are blanked once it has
  been superseded for ``superseded_contact_versions_days``; the row stays, so the contact
  counts of any as-of date are unchanged;
- ``quarantine_values``: ``raw._quarantine.raw_values`` of rows loaded more than
  ``quarantine_values_days`` ago becomes NULL (file, line and reason stay);
- ``landing_files`` (when configured): loaded landing files are removed
  ``landing_files_days`` after loading (:mod:`pipelines.privacy.landing`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

import duckdb

from pipelines.privacy.config import Retention
from pipelines.privacy.personal_data import PERSONAL_FIELDS

CONTACT_FIELDS = PERSONAL_FIELDS["crm_contacts"]


@dataclass(frozen=True)
class RetentionResult:
    """One rule's outcome in one run."""

    rule: str
    retention_days: int | None
    cutoff: datetime | None
    rows_purged: int


def cutoff_for(as_of: date, days: int) -> datetime:
    """Data older than this (the end of the as-of date minus ``days``) is past retention."""
    return datetime.combine(as_of + timedelta(days=1), time.min) - timedelta(days=days)


def purge_superseded_contact_versions(con: duckdb.DuckDBPyConnection, cutoff: datetime) -> int:
    """Blank the personal fields of contact versions superseded before ``cutoff``."""
    held = " or ".join(f"{f} is not null" for f in CONTACT_FIELDS)
    blank = ", ".join(f"{f} = null" for f in CONTACT_FIELDS)
    # Versions in the order staging picks the latest: updated_at, then load time and line.
    return con.execute(
        f"""
        update raw.crm_contacts set {blank}
        where rowid in (
            select rid from (
                select rowid as rid, {held} as holds,
                    lead(updated_at) over w as next_updated_at,
                    lead(updated_at) over w is null and coalesce(is_deleted, false) as deletion,
                    updated_at
                from raw.crm_contacts
                window w as (partition by contact_id order by updated_at, _loaded_at, _source_line)
            )
            where holds and (next_updated_at < $cutoff or (deletion and updated_at < $cutoff))
        )
        """,
        {"cutoff": cutoff},
    ).fetchone()[0]


def purge_quarantine_values(con: duckdb.DuckDBPyConnection, cutoff: datetime) -> int:
    """Drop the original values of quarantined rows loaded before ``cutoff``."""
    return con.execute(
        "update raw._quarantine set raw_values = null "
        "where raw_values is not null and loaded_at < ?",
        [cutoff],
    ).fetchone()[0]


def apply_retention(
    con: duckdb.DuckDBPyConnection, rules: Retention, as_of: date
) -> list[RetentionResult]:
    """Apply the warehouse rules (contact versions, quarantine values) for ``as_of``."""
    results = []
    for rule, days, purge in (
        (
            "superseded_contact_versions",
            rules.superseded_contact_versions_days,
            purge_superseded_contact_versions,
        ),
        ("quarantine_values", rules.quarantine_values_days, purge_quarantine_values),
    ):
        cutoff = cutoff_for(as_of, days)
        results.append(RetentionResult(rule, days, cutoff, int(purge(con, cutoff))))
    return results
