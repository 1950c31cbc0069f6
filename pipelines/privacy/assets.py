"""Dagster face of the privacy work, which runs inside the ingest step (``raw_ingest``).

Two assets and one check, materialized by that step right after the landing files load
(:mod:`pipelines.privacy.lifecycle` says why there):

- ``privacy/erasure_log``: the audit table ``privacy.erasure_log``, one row per request and run
  that registered or purged something; metadata counts per location, never a value;
- ``privacy/retention_log``: ``privacy.retention_log``, what each retention rule purged;
- check ``erasure_verified`` (ERROR, not blocking: published data never holds personal data,
  so tiers still publish): after the purge and the rewrite of the warehouse file, none of the
  erased emails or phone numbers is found in any text column of the warehouse, in the
  quality results or the model directory, and no landing file still holds an erased person.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator

from dagster import (
    AssetCheckResult,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetKey,
    AssetSpec,
    MaterializeResult,
    MetadataValue,
)

from pipelines.ingest.metadata import md_table
from pipelines.privacy.lifecycle import GX_LOCATION, LANDING_LOCATION, PrivacyReport

ERASURE_LOG_KEY = AssetKey(["privacy", "erasure_log"])
RETENTION_LOG_KEY = AssetKey(["privacy", "retention_log"])
PRIVACY_KEYS = frozenset({ERASURE_LOG_KEY, RETENTION_LOG_KEY})
VERIFIED_CHECK = "erasure_verified"
_LOCATIONS = (
    "raw.crm_contacts",
    "raw.surveys",
    "raw._quarantine",
    "quality.validation_results",
    GX_LOCATION,
    LANDING_LOCATION,
)

PRIVACY_SPECS = [
    AssetSpec(
        ERASURE_LOG_KEY,
        group_name="privacy",
        kinds={"duckdb"},
        description=(
            "Erasure requests (landing/privacy_erasure_requests) carried out: each erased "
            "person's name, email, phone and job title purged from raw history, quarantine, "
            "quality results, Data Docs and landing files; audit rows in privacy.erasure_log "
            "(request, when, counts per location). See docs/privacy.md."
        ),
    ),
    AssetSpec(
        RETENTION_LOG_KEY,
        group_name="privacy",
        kinds={"duckdb"},
        description=(
            "Retention of config/privacy.yaml enforced: personal fields of contact versions "
            "superseded long ago blanked, old quarantine values dropped; privacy.retention_log."
        ),
    ),
]
PRIVACY_CHECK_SPECS = [
    AssetCheckSpec(
        VERIFIED_CHECK,
        asset=ERASURE_LOG_KEY,
        description="No erased email or phone number is found anywhere in the warehouse, the "
        "quality results or the models, and no landing file still holds an erased person.",
    )
]


def _purge_table(report: PrivacyReport) -> str:
    rows = [
        [row["request_id"], row["contacts"]]
        + [Counter(report.sweep.counts.get(row["request_id"], {}))[loc] for loc in _LOCATIONS]
        + [row["note"]]
        for row in report.audit
    ]
    headers = ["request", "contacts", *_LOCATIONS, "note"]
    return md_table(headers, rows) if rows else "No request registered or purged in this run."


def privacy_results(
    report: PrivacyReport, selected: set[AssetKey]
) -> Iterator[MaterializeResult | AssetCheckResult]:
    """The materializations and the check result of one run's privacy work."""
    if ERASURE_LOG_KEY in selected:
        yield MaterializeResult(
            asset_key=ERASURE_LOG_KEY,
            metadata={
                "requests_registered": len(report.registration.registered),
                "contacts_resolved": report.contacts_resolved,
                "requests_purged": len(report.sweep.counts),
                "audit_rows": len(report.audit),
                "landing_files_removed": len(report.landing_removed),
                "purged": MetadataValue.md(_purge_table(report)),
                **_rewrite_metadata(report),
            },
        )
        yield _verified(report)
    if RETENTION_LOG_KEY in selected:
        rows = [
            [
                r.rule,
                r.retention_days,
                r.cutoff.isoformat(sep=" ") if r.cutoff else "",
                r.rows_purged,
            ]
            for r in report.retention
        ]
        yield MaterializeResult(
            asset_key=RETENTION_LOG_KEY,
            metadata={
                **{f"{r.rule}_purged": r.rows_purged for r in report.retention},
                **_rewrite_metadata(report),
                "rules": MetadataValue.md(
                    md_table(["rule", "retention days", "purged before", "purged"], rows)
                ),
            },
        )


def _rewrite_metadata(report: PrivacyReport) -> dict[str, object]:
    c = report.compaction
    return {
        "warehouse_rewrite": report.rewrite or "not needed in this run",
        "warehouse_bytes_before": c.bytes_before if c else 0,
        "warehouse_bytes_after": c.bytes_after if c else 0,
    }


def _verified(report: PrivacyReport) -> AssetCheckResult:
    findings = report.findings or []
    kept = report.landing_kept
    problems = [f"{f.location}: {f.matches} match(es)" for f in findings]
    problems += [f"landing file {f.path} still holds an erased person's data" for f in kept]
    return AssetCheckResult(
        asset_key=ERASURE_LOG_KEY,
        check_name=VERIFIED_CHECK,
        passed=not problems,
        severity=AssetCheckSeverity.ERROR,
        description="; ".join(problems)[:2000] or None,
        metadata={
            "verified": report.findings is not None,
            "locations_with_erased_values": len(findings),
            "landing_files_still_holding_erased_data": len(kept),
            "details": MetadataValue.md(
                md_table(["location", "matches"], [[f.location, f.matches] for f in findings])
                if findings
                else "Nothing found (or nothing erased in this run)."
            ),
        },
    )
