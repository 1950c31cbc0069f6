"""Dagster metadata of the ingestion: the asset keys and the tables an analyst reads."""

from __future__ import annotations

from collections.abc import Sequence

from dagster import AssetKey, MetadataValue

from pipelines.ingest.manifest import LoadReport

_COUNTED_STATUSES = ("loaded", "unchanged", "skipped-duplicate", "failed", "deferred", "ignored")


def raw_asset_key(entity: str) -> AssetKey:
    """``AssetKey(["raw", entity])``: the key dbt sources map to."""
    return AssetKey(["raw", entity])


def md_table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A markdown table for Dagster metadata (pipes and newlines in cells escaped)."""

    def cell(v: object) -> str:
        return str(v).replace("|", "\\|").replace("\n", " ")

    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def _file_rows(report: LoadReport) -> list[tuple[object, ...]]:
    rows = []
    for f in report.files:
        note = f.note or ("; ".join(f.warnings) if f.warnings else "")
        if f.status == "unchanged":
            note = "loaded in an earlier run"
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
