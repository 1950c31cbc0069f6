"""Dagster metadata of the ingestion: the asset keys, the tables an analyst reads, and the
numbers Dagster plots over the partition history.

The plotted numbers (:func:`load_plot_metadata`) keep the same keys from run to run: rows
read, loaded and quarantined, the quarantine rate, and quarantined rows per rule family
(``quarantined_<family>``, every family every time — a zero is a point on the chart, not a
gap). A quarantine rule names its column (``negative amount: amount_cny``); its family is the
rule without it (``negative_value``), so the set of keys is small and fixed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from dagster import AssetKey, MetadataValue

from pipelines.ingest.manifest import LoadReport
from pipelines.metadata import markdown_table

# Rule prefix (as validation.py words it) -> family key. The first matching prefix wins
# ("date out of range" before "out of range").
RULE_FAMILIES: tuple[tuple[str, str], ...] = (
    ("field too long", "field_too_long"),
    ("control character", "control_character"),
    ("missing required value", "missing_required"),
    ("invalid ", "invalid_type"),
    ("not an allowed value", "not_allowed"),
    ("formula-like value", "formula_like"),
    ("negative ", "negative_value"),
    ("date out of range", "date_out_of_range"),
    ("out of range", "out_of_range"),
    ("in the future", "in_the_future"),
    ("refund exceeds amount", "refund_exceeds_amount"),
    ("unknown account", "unknown_account"),
    ("duplicate key in file", "duplicate_key"),
)
OTHER = "other"
FAMILIES = tuple(dict.fromkeys([f for _, f in RULE_FAMILIES] + [OTHER]))
_COUNTED_STATUSES = ("loaded", "unchanged", "skipped-duplicate", "failed", "deferred", "ignored")


def raw_asset_key(entity: str) -> AssetKey:
    """``AssetKey(["raw", entity])``: the key dbt sources map to."""
    return AssetKey(["raw", entity])


def md_table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A markdown table for Dagster metadata: the project's one renderer, headers first."""
    return markdown_table(rows, headers)


def _file_rows(report: LoadReport) -> list[tuple[object, ...]]:
    rows = []
    for f in report.files:
        note = f.note or ("; ".join(f.warnings) if f.warnings else "")
        if f.status == "unchanged":
            note = "loaded in an earlier run"
        if f.rows_erased:
            erased = f"{f.rows_erased} row(s) of erased persons: personal fields blanked"
            note = f"{note}; {erased}" if note else erased
        rows.append(
            (
                f.path,
                f.status,
                f.file_format or "",
                f.encoding or "",
                (f.sha256 or "")[:12],
                f.rows_read,
                f.rows_loaded,
                f.rows_quarantined,
                f.blank_rows,
                f.loaded_at.isoformat(sep=" ", timespec="seconds") if f.loaded_at else "",
                note,
            )
        )
    return rows


def report_metadata(report: LoadReport, table_rows: int | None = None) -> dict[str, object]:
    """Asset metadata for a :class:`LoadReport`: counts per file status, rows, reasons, and
    one line per entry of the landing folder (ignored ones with their reason)."""
    reasons = report.reason_counts
    meta: dict[str, object] = {
        f"files_{status.replace('-', '_')}": len(report.with_status(status))  # type: ignore[arg-type]
        for status in _COUNTED_STATUSES
    }
    meta |= {
        "rows_read": report.rows_read,
        "rows_loaded": report.rows_loaded,
        "rows_quarantined": report.rows_quarantined,
        "rows_blank_skipped": report.blank_rows,
        "rows_erased_blanked": report.rows_erased,
        "unknown_columns": MetadataValue.json(report.unknown_columns),
        "warnings": MetadataValue.md(
            "\n".join(f"- {w}" for w in report.warnings) if report.warnings else "None."
        ),
        "quarantine_reasons": MetadataValue.md(
            md_table(["reason", "rows"], list(reasons.items()))
            if reasons
            else "No rows quarantined."
        ),
        "source_files": MetadataValue.md(
            md_table(
                [
                    "file",
                    "status",
                    "format",
                    "encoding",
                    "sha256",
                    "read",
                    "loaded",
                    "quarantined",
                    "blank rows",
                    "loaded_at",
                    "note",
                ],
                _file_rows(report),
            )  # fmt: skip
            if report.files
            else "No files in the landing folder."
        ),
    }
    if table_rows is not None:
        meta["dagster/row_count"] = table_rows
    return meta


def rule_family(rule: str) -> str:
    """The family of a quarantine rule (``invalid date: order_date`` -> ``invalid_type``)."""
    return next((family for prefix, family in RULE_FAMILIES if rule.startswith(prefix)), OTHER)


def family_counts(reason_counts: Mapping[str, int]) -> dict[str, int]:
    """Quarantined rows per family, every family present (0 when none)."""
    counts = dict.fromkeys(FAMILIES, 0)
    for rule, rows in reason_counts.items():
        counts[rule_family(rule)] += int(rows)
    return counts


def load_plot_metadata(report: LoadReport) -> dict[str, MetadataValue]:
    """Plottable numbers of one load (see the module docstring)."""
    read = report.rows_read
    metadata = {
        "rows_read": MetadataValue.int(read),
        "rows_loaded": MetadataValue.int(report.rows_loaded),
        "rows_quarantined": MetadataValue.int(report.rows_quarantined),
        "quarantine_rate": MetadataValue.float(report.rows_quarantined / read if read else 0.0),
    }
    for family, rows in family_counts(report.reason_counts).items():
        metadata[f"quarantined_{family}"] = MetadataValue.int(rows)
    return metadata
