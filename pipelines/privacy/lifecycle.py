"""One run's privacy work: erasure requests, the erasure sweep, retention, then compaction.

Runs inside the ingest step, right after the landing files are loaded and before anything
reads raw (dbt, quality gates), whatever those gates later decide: an erasure does not wait
for a good delivery. :func:`enforce` does the warehouse and file work on the ingest's
connection; :func:`finish` runs after that connection is closed, rewrites the warehouse file
when anything was purged (:mod:`pipelines.privacy.compaction`) and searches it, the quality
stores and the model directory for the erased values (:mod:`pipelines.privacy.verify`).
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

import duckdb

from pipelines import warehouse as wh
from pipelines.ingest.loader import utc_now
from pipelines.privacy.compaction import Compaction, compact_database
from pipelines.privacy.erasure import ErasureSweep, sweep_erased
from pipelines.privacy.gx_results import scrub_stored_results
from pipelines.privacy.landing import (
    LandingFile,
    expired_files,
    files_with_erased_data,
    remove_files,
    still_present,
)
from pipelines.privacy.requests import Registration, register_requests, resolve_contacts
from pipelines.privacy.retention import RetentionResult, apply_retention, cutoff_for
from pipelines.privacy.store import ensure_privacy_schema
from pipelines.privacy.verify import Finding, find_in_database, find_in_files
from pipelines.quality.gx_runner import DOCS_SITE
from pipelines.resources import Warehouse
from pipelines.run_context import RunContext
from pipelines.settings import Paths

GX_LOCATION = "gx validation results"
LANDING_LOCATION = "landing files"


@dataclass
class PrivacyReport:
    """What one run did for privacy (counts and ids, never a personal value)."""

    registration: Registration
    contacts_resolved: int
    sweep: ErasureSweep
    landing_removed: list[LandingFile] = field(default_factory=list)
    landing_kept: list[LandingFile] = field(default_factory=list)  # remove_landing_files off
    retention: list[RetentionResult] = field(default_factory=list)
    audit: list[dict] = field(default_factory=list)
    rewrite: str | None = None  # why the warehouse file is rewritten in this run, if it is
    compaction: Compaction | None = None
    findings: list[Finding] | None = None  # None: nothing was erased, nothing to verify

    @property
    def erased_in_warehouse(self) -> bool:
        """True when this run blanked an erased person's (or a request's) values in tables."""
        in_warehouse = (
            n
            for counts in self.sweep.counts.values()
            for location, n in counts.items()
            if location not in (GX_LOCATION, LANDING_LOCATION)
        )
        return any(in_warehouse) or bool(self.registration.identifiers_blanked)


def enforce(con: duckdb.DuckDBPyConnection, ctx: RunContext, paths: Paths) -> PrivacyReport:
    """Register new requests, erase every erased person still present, apply retention and
    record it all (``privacy.erasure_log``, ``privacy.retention_log``).

    A run may be killed anywhere (``docs/operations.md``). The registration, the erasure in
    the warehouse and in the stored Great Expectations results, its audit rows and the note
    that the warehouse file owes a rewrite (``privacy.rewrite_due``) commit together
    (:func:`_erase`); landing files are removed only after that, so a request's file is never
    gone while its registration is not, and the audit rows are then rewritten with them."""
    now = utc_now()
    ensure_privacy_schema(con)
    report = _erase(con, ctx.run_id, paths.quality_dir, now)
    config = ctx.config.privacy.model
    _landing(con, report, paths.landing_dir, config.erasure.remove_landing_files, now)
    if report.landing_removed:
        with wh.transaction(con):
            _write_audit(con, report, ctx.run_id, now)
    report.retention = apply_retention(con, config.retention, ctx.as_of)
    days = config.retention.landing_files_days
    if days is not None:
        cutoff = cutoff_for(ctx.as_of, days)
        gone = remove_files(con, paths.landing_dir, expired_files(con, cutoff), "retention", now)
        report.retention.append(RetentionResult("landing_files", days, cutoff, len(gone)))
    _record_retention(con, report, ctx, now)
    report.rewrite = _rewrite_reason(con, report, config.retention.rewrite_every_days, now)
    return report


def _erase(
    con: duckdb.DuckDBPyConnection, run_id: str, quality_dir: Path, now: datetime
) -> PrivacyReport:
    """Register, resolve and sweep in one transaction that commits last: once the warehouse is
    blanked, the values needed to find the person in the result files are gone, so a run
    killed before the commit leaves the warehouse as it was and the next run does it all."""
    with wh.transaction(con):
        registration = register_requests(con, run_id, now)
        contacts = resolve_contacts(con, run_id, now)
        report = PrivacyReport(registration, contacts, sweep_erased(con))
        for request_id, person in report.sweep.values.items():
            changed = scrub_stored_results(
                quality_dir, person.substrings(), person.exact(), DOCS_SITE
            )
            report.sweep.add(request_id, GX_LOCATION, len(changed))
        _write_audit(con, report, run_id, now)
        if report.erased_in_warehouse:
            # Until the file is rewritten the blanked values' old bytes are still in it.
            con.execute("insert into privacy.rewrite_due values (?, ?)", [run_id, now])
    return report


def _rewrite_reason(
    con: duckdb.DuckDBPyConnection, report: PrivacyReport, every_days: int, now: datetime
) -> str | None:
    """Why the warehouse file must be rewritten now: always after an erasure; after retention
    purges once the last rewrite is ``every_days`` old (a rewrite costs a copy of the file)."""
    if report.erased_in_warehouse:
        return "erasure"
    due = con.execute(
        "select run_id from privacy.rewrite_due order by due_since limit 1"
    ).fetchone()
    if due:
        return f"erasure (owed since run {due[0][:8]}, which did not finish rewriting the file)"
    last, pending = con.execute(
        """
        with last as (select max(rewritten_at) as rewritten_at from privacy.rewrites)
        select (select rewritten_at from last), coalesce(sum(rows_purged), 0)
        from privacy.retention_log
        where rule <> 'landing_files'
            and applied_at > coalesce((select rewritten_at from last), timestamp '1970-01-01')
        """
    ).fetchone()
    if pending and (last is None or now - last >= timedelta(days=every_days)):
        return f"retention ({int(pending)} row(s) purged since the last rewrite)"
    return None


def _landing(
    con: duckdb.DuckDBPyConnection,
    report: PrivacyReport,
    landing_dir: Path,
    remove: bool,
    now: datetime,
) -> None:
    files = files_with_erased_data(con)
    if not remove:
        report.landing_kept = still_present(landing_dir, files)
        return
    report.landing_removed = remove_files(con, landing_dir, files, "erasure", now)
    for f in report.landing_removed:
        for request_id in f.reasons:
            if request_id != "registered requests":
                report.sweep.add(request_id, LANDING_LOCATION, 1)


def _audit_rows(
    con: duckdb.DuckDBPyConnection, report: PrivacyReport, run_id: str, now: datetime
) -> list[dict]:
    """One row per request registered or purged in this run."""
    touched = sorted(set(report.registration.registered) | set(report.sweep.counts))
    if not touched:
        return []
    requests = con.execute(
        """
        select r.request_id, r.requested_at,
            concat_ws('+', case when r.contact_id is not null then 'contact_id' end,
                case when r.email_sha256 is not null then 'email' end,
                case when r.phone_sha256 is not null then 'phone' end),
            count(c.contact_id)
        from privacy.erasure_requests as r
        left join privacy.erased_contacts as c using (request_id)
        where r.request_id in (select unnest(?::varchar[]))
        group by all
        """,
        [touched],
    ).fetchall()
    rows = []
    for request_id, requested_at, identified_by, contacts in requests:
        counts = Counter(report.sweep.counts.get(request_id, Counter()))
        landing = counts.pop(LANDING_LOCATION, 0)
        note = "registered" if request_id in report.registration.registered else "re-sweep"
        if not counts and not landing:
            note += "; no personal data of this person found (yet): later deliveries are blanked"
        rows.append(
            {
                "request_id": request_id,
                "run_id": run_id,
                "erased_at": now,
                "requested_at": requested_at,
                "identified_by": identified_by,
                "contacts": int(contacts),
                "rows_purged": sum(v for k, v in counts.items() if k != GX_LOCATION),
                "landing_files_removed": landing,
                "purged": json.dumps(dict(sorted(counts.items()))),
                "note": note,
            }
        )
    return rows


def _write_audit(
    con: duckdb.DuckDBPyConnection, report: PrivacyReport, run_id: str, now: datetime
) -> None:
    """This run's rows of ``privacy.erasure_log`` (replaced when written again)."""
    report.audit = _audit_rows(con, report, run_id, now)
    con.execute("delete from privacy.erasure_log where run_id = ?", [run_id])
    if report.audit:
        columns = list(report.audit[0])
        con.executemany(
            f"insert into privacy.erasure_log ({', '.join(columns)}) "
            f"values ({', '.join('?' for _ in columns)})",
            [[row[c] for c in columns] for row in report.audit],
        )


def _record_retention(
    con: duckdb.DuckDBPyConnection, report: PrivacyReport, ctx: RunContext, now: datetime
) -> None:
    if not report.retention:
        return
    con.executemany(
        "insert into privacy.retention_log values (?, ?, ?, ?, ?, ?, ?)",
        [
            [ctx.run_id, ctx.as_of, now, r.rule, r.retention_days, r.cutoff, r.rows_purged]
            for r in report.retention
        ],
    )


def finish(report: PrivacyReport, paths: Paths, run_id: str) -> PrivacyReport:
    """After the ingest's connection is closed: rewrite the warehouse when due (recorded in
    ``privacy.rewrites``), then search it and the quality and model directories for this run's
    erased values."""
    if report.rewrite:
        report.compaction = c = compact_database(paths.warehouse)
        with Warehouse(path=str(paths.warehouse)).connect() as con, wh.transaction(con):
            con.execute(
                "insert into privacy.rewrites values (?, ?, ?, ?, ?)",
                [run_id, utc_now(), report.rewrite, c.bytes_before, c.bytes_after],
            )
            con.execute("delete from privacy.rewrite_due")
    values = {v for p in report.sweep.values.values() for v in p.substrings()}
    if values:
        with Warehouse(path=str(paths.warehouse)).connect(read_only=True) as con:
            findings = find_in_database(con, values)
        report.findings = findings + find_in_files([paths.quality_dir, paths.models_dir], values)
    return report
