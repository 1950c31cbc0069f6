"""The raw gates, judged per load batch and remembered: Great Expectations and quarantine rate.

Plain functions over a DuckDB connection; the Dagster checks (``checks.py`` and the raw
asset checks of ``pipelines/ingest/assets.py``) only turn a :class:`GateReport` into a check
result. On every run, for one gate and one entity:

1. held files that were removed or replaced in the landing folder are withdrawn
   (:func:`~pipelines.quality.gate_state.withdraw_missing_files`);
2. every batch without a verdict, and every batch whose verdict is ``failed``, is judged
   (again): a batch whose files were all withdrawn is ``withdrawn``, an accepted failure
   ``accepted``; a batch published before gate state was kept counts as ``passed``;
3. the check fails while any batch is ``failed``, naming its files, with the line to add to
   ``config/acceptances.yaml`` to accept it.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import duckdb

from pipelines.history import list_snapshots
from pipelines.partitions import business_date_of
from pipelines.quality.acceptances import AcceptancesFile, file_ref
from pipelines.quality.batches import load_raw_batch
from pipelines.quality.config import QualityConfig, freshness_parameters
from pipelines.quality.gate_state import (
    Batch,
    LoadedFile,
    Verdict,
    ensure_tables,
    latest_snapshot_created_at,
    load_batches,
    outstanding,
    record,
    states,
    withdraw_missing_files,
)
from pipelines.quality.gx_runner import ValidationOutcome, validate_frame
from pipelines.quality.results import write_validation_results

Judge = Callable[[Batch], Verdict]
_BOUNDS = re.compile(r" \(.*\)$")


@dataclass
class GateReport:
    """What one gate decided in one run, for one entity."""

    gate: str
    entity: str
    judged: list[Verdict] = field(default_factory=list)
    outstanding: list[Verdict] = field(default_factory=list)
    withdrawn: list[LoadedFile] = field(default_factory=list)
    outcomes: list[ValidationOutcome] = field(default_factory=list)  # GX results of this run

    @property
    def blocking(self) -> bool:
        return bool(self.outstanding)

    @property
    def warned(self) -> bool:
        return any(v.status == "warned" for v in self.judged)

    @property
    def passed(self) -> bool:
        return not self.blocking and not self.warned

    def clause(self) -> str:
        """The blocked-run clause: every outstanding failure, most recent last."""
        return ", ".join(v.detail for v in self.outstanding)

    def acceptance_snippet(self, today: date) -> str:
        """YAML to paste into config/acceptances.yaml to accept every outstanding failure."""
        entries = []
        for v in self.outstanding:
            refs = ", ".join(f'"{file_ref(f.path, f.sha256)}"' for f in v.files)
            entries.append(
                f"  - check: {self.gate}\n    entity: {self.entity}\n    files: [{refs}]\n"
                f"    accepted_by: <your handle>\n    accepted_on: {today}\n"
                '    reason: "<why these rows are right>"'
            )
        return "\n".join(entries)


def files_label(files: tuple[LoadedFile, ...] | list[LoadedFile]) -> str:
    if len(files) <= 2:
        return " and ".join(f.path for f in files)
    return f"{files[0].path} and {len(files) - 1} more files"


def run_file_gate(
    con: duckdb.DuckDBPyConnection,
    gate: str,
    entity: str,
    judge: Judge,
    *,
    run_id: str,
    landing_dir: Path,
    serving_dir: Path,
    acceptances: AcceptancesFile,
) -> GateReport:
    """Judge what needs judging for ``gate`` on ``entity`` and return the report (module
    docstring). ``judge`` decides one batch: passed, warned or failed."""
    ensure_tables(con)
    report = GateReport(gate, entity)
    report.withdrawn = withdraw_missing_files(con, entity, landing_dir, run_id)
    known = states(con, gate, entity)
    published_until = latest_snapshot_created_at(list_snapshots(serving_dir / "snapshots"))
    for batch in load_batches(con, entity):
        status = known.get(batch.batch)
        if status is not None and status != "failed":
            continue
        if not batch.files:
            verdict = Verdict(gate, entity, batch.batch, "withdrawn", "every file withdrawn")
        elif status is None and published_until and batch.loaded_at <= published_until:
            verdict = Verdict(gate, entity, batch.batch, "passed",
                              "published before gate state was kept", tuple(batch.files))  # fmt: skip
        else:
            verdict = _accepted(judge(batch), batch, acceptances)
        report.judged.append(verdict)
    record(con, report.judged, run_id)
    report.outstanding = outstanding(con, gate, entity)
    return report


def _accepted(verdict: Verdict, batch: Batch, acceptances: AcceptancesFile) -> Verdict:
    if verdict.status != "failed":
        return verdict
    found = acceptances.for_files(verdict.gate, verdict.entity, batch.shas)
    if not found:
        return verdict
    note = " | ".join(a.note() for a in found)
    return Verdict(
        verdict.gate, verdict.entity, verdict.batch, "accepted", verdict.detail,
        verdict.files, note,
    )  # fmt: skip


# --------------------------------------------------------------------------- quarantine rate


def _rule(reason: str) -> str:
    """``negative amount (amount_cny)`` from ``negative amount: amount_cny=-100.00``."""
    head = reason.split("=", 1)[0]
    name, _, column = head.rpartition(": ")
    if not name:
        return head.strip()
    # "date out of range (before ... or after ...): col" keeps only "date out of range".
    name = _BOUNDS.sub("", name).strip()
    return f"{name} ({column.strip()})"


def quarantine_judge(con: duckdb.DuckDBPyConnection, threshold: float, severity: str) -> Judge:
    """Judge a batch by the share of its files' rows that went to quarantine."""

    def judge(batch: Batch) -> Verdict:
        shas = batch.shas
        read, quarantined = con.execute(
            "select coalesce(sum(rows_read), 0), coalesce(sum(rows_quarantined), 0) "
            "from raw._file_manifest where entity = ? and run_id = ? and status = 'loaded' "
            "and list_contains(?, sha256)",
            [batch.entity, batch.batch, shas],
        ).fetchone()
        rate = quarantined / read if read else 0.0
        files = tuple(batch.files)
        if rate <= threshold:
            return Verdict("quarantine_rate", batch.entity, batch.batch, "passed",
                           f"{batch.entity} quarantine {rate:.1%} in {files_label(files)}", files)  # fmt: skip
        reasons = con.execute(
            "select reason from raw._quarantine where entity = ? and run_id = ? "
            "and list_contains(?, source_file)",
            [batch.entity, batch.batch, [f.path for f in batch.files]],
        ).fetchall()
        counts: dict[str, int] = {}
        for (reason,) in reasons:
            counts[_rule(reason)] = counts.get(_rule(reason), 0) + 1
        ranked = sorted(counts.items(), key=lambda x: (-x[1], x[0]))
        top = ", ".join(f"{n} {rule}" for rule, n in ranked[:5])
        if len(ranked) > 5:
            top += f" and {len(ranked) - 5} more kinds"
        detail = (
            f"{batch.entity} quarantine {rate:.1%} > {threshold:.1%} in {files_label(files)}: {top}"
        )
        status = "failed" if severity == "ERROR" else "warned"
        return Verdict("quarantine_rate", batch.entity, batch.batch, status, detail, files)

    return judge


# --------------------------------------------------------------------------- Great Expectations


def _failure_summary(outcome: ValidationOutcome, limit: int = 3) -> str:
    parts = []
    for r in outcome.errors[:limit]:
        what = r.expectation_type.removeprefix("expect_").replace("_", " ")
        on = f" on {r.column}" if r.column else ""
        share = "" if r.unexpected_percent is None else f" ({r.unexpected_percent:.1f}% of rows)"
        parts.append(f"{what}{on}{share}")
    more = len(outcome.errors) - limit
    return ", ".join(parts) + (f" and {more} more" if more > 0 else "")


def gx_judge(
    con: duckdb.DuckDBPyConnection, config: QualityConfig, run_id: str, outcomes: list
) -> Judge:
    """Judge a batch with the entity's Great Expectations suite; every validation is appended
    to ``quality.validation_results`` and to ``outcomes`` (for the check's metadata)."""

    def judge(batch: Batch) -> Verdict:
        entity, gate, files = batch.entity, f"gx_{batch.entity}", tuple(batch.files)
        policy = config.policy(entity)
        frame = load_raw_batch(con, entity, batch.batch, policy.max_rows, batch.shas)
        if frame.total_rows == 0:
            return Verdict(gate, entity, batch.batch, "passed",
                           f"no rows loaded from {files_label(files)}", files)  # fmt: skip
        # A raw batch is a delivery: its dates are judged against the day it was loaded, not
        # the run's as-of date (a backfill for a past date loads today's files).
        loaded_on = business_date_of(frame.frame["_loaded_at"].max())
        outcome = validate_frame(
            frame.frame, entity, freshness_parameters(loaded_on, policy),
            run_name=run_id, config=config,
        )  # fmt: skip
        if frame.sampled:
            outcome.notes.append(
                f"{files_label(files)}: {frame.total_rows} rows, validated a deterministic "
                f"sample of {outcome.element_count} (hash order)."
            )
        write_validation_results(
            con, outcome, run_id=run_id, asset_key=f"raw/{entity}",
            batch_row_count=frame.total_rows, sampled=frame.sampled,
        )  # fmt: skip
        outcomes.append(outcome)
        if outcome.errors:
            detail = (
                f"{entity} GX suite failed on {files_label(files)}: {_failure_summary(outcome)}"
            )
            return Verdict(gate, entity, batch.batch, "failed", detail, files)
        status = "warned" if outcome.warnings else "passed"
        detail = f"{entity} GX suite: {len(outcome.warnings)} WARN expectation(s) failed"
        return Verdict(gate, entity, batch.batch, status, detail, files)

    return judge
