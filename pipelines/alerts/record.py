"""What one failed or blocked run was, in one sentence: plain data, no Dagster here.

:func:`describe_failure` turns the facts of a failed run (its tags, the steps that failed and
the checks that failed) into a :class:`RunAlert`. A run stopped by a blocking check carries
its own sentence in the ``stratum/blocked`` tag (written by the checks); otherwise the
sentence is built from the failed checks and steps. Every sentence is scrubbed of emails and
phone numbers (:func:`pipelines.privacy.masking.scrub_text`) before it is stored or sent.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import date, datetime
from typing import Any, Literal

from pipelines.privacy.masking import scrub_text

BLOCKED_TAG = "stratum/blocked"
FAILURE_TAG = "stratum/failure"  # the alert's sentence, put on runs that carry no blocked tag
FailureKind = Literal["blocked", "step_failure", "run_failure"]
MAX_REASON_CHARS = 500


@dataclass(frozen=True)
class FailedCheck:
    """A blocking check that failed with ERROR severity."""

    asset: str  # e.g. "raw/orders"
    name: str  # e.g. "quarantine_rate"
    description: str | None = None
    metadata: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class FailedStep:
    step_key: str
    message: str
    is_check_gate: bool = False  # the step failed because a blocking check failed


@dataclass(frozen=True)
class RunAlert:
    """One row of ``quality.run_alerts`` (and the body of a webhook post)."""

    run_id: str
    job_name: str
    as_of_date: date | None
    trigger: str
    snapshot_id: str | None
    failure_kind: FailureKind
    reason: str
    failed_steps: str
    failed_at: datetime  # naive UTC, like every timestamp in the warehouse
    webhook_status: str = "not configured"

    def as_json(self) -> dict[str, Any]:
        row = asdict(self)
        row["as_of_date"] = self.as_of_date.isoformat() if self.as_of_date else None
        row["failed_at"] = self.failed_at.isoformat(timespec="seconds") + "Z"
        row["text"] = self.headline()
        return row

    def headline(self) -> str:
        """One line for a chat message."""
        kind = "blocked" if self.failure_kind == "blocked" else "failed"
        as_of = self.as_of_date.isoformat() if self.as_of_date else "no as-of date"
        return f"Stratum run {self.run_id[:8]} ({as_of}, {self.trigger}) {kind}: {self.reason}"


def _first_line(text: str, limit: int = 200) -> str:
    line = next((ln.strip() for ln in text.splitlines() if ln.strip()), "").rstrip(".;")
    return line if len(line) <= limit else line[: limit - 1] + "…"


def _numbers(metadata: Mapping[str, Any], limit: int = 4) -> str:
    shown = [
        f"{k} {v:.4g}" if isinstance(v, float) else f"{k} {v}"
        for k, v in metadata.items()
        if isinstance(v, int | float) and not isinstance(v, bool)
    ]
    return ", ".join(shown[:limit])


def check_sentence(check: FailedCheck) -> str:
    """``raw/orders quarantine_rate`` plus its description or its numbers."""
    detail = check.description or _numbers(check.metadata)
    return f"{check.asset} {check.name}" + (f" ({detail})" if detail else "")


def published_note(snapshot_id: str | None, published: Sequence[str], in_force: str | None) -> str:
    """Whether the run's snapshot reached BI, and what BI shows instead."""
    if snapshot_id and snapshot_id in published:
        return f"its snapshot {snapshot_id} was published before the failure."
    if in_force:
        return f"the published tiers are unchanged (snapshot {in_force} is still in force)."
    return "nothing has been published yet."


def describe_failure(
    *,
    run_id: str,
    job_name: str,
    tags: Mapping[str, str],
    failed_at: datetime,
    trigger: str,
    failed_checks: Sequence[FailedCheck],
    failed_steps: Sequence[FailedStep],
    run_message: str | None,
    published: Sequence[str] = (),
    in_force: str | None = None,
) -> RunAlert:
    """The alert of one failed run: its kind and one sentence saying what failed."""
    snapshot_id = tags.get("stratum/snapshot_id")
    note = published_note(snapshot_id, published, in_force)
    other_steps = [s for s in failed_steps if not s.is_check_gate]
    if tags.get(BLOCKED_TAG):
        kind: FailureKind = "blocked"
        reason = tags[BLOCKED_TAG]
    elif failed_checks or any(s.is_check_gate for s in failed_steps):
        kind = "blocked"
        checks = "; ".join(check_sentence(c) for c in failed_checks) or "a blocking check"
        reason = f"Blocked by {checks}: nothing downstream ran, so {note}"
    elif other_steps:
        kind = "step_failure"
        first = other_steps[0]
        more = f" (and {len(other_steps) - 1} more step(s))" if len(other_steps) > 1 else ""
        reason = f"Step {first.step_key} failed{more}: {_first_line(first.message)}; {note}"
    else:
        kind = "run_failure"
        reason = f"{_first_line(run_message or 'The run failed before any step ran')}; {note}"
    as_of = tags.get("dagster/partition")
    return RunAlert(
        run_id=run_id,
        job_name=job_name,
        as_of_date=date.fromisoformat(as_of) if as_of else None,
        trigger=trigger,
        snapshot_id=snapshot_id,
        failure_kind=kind,
        reason=scrub_text(reason)[:MAX_REASON_CHARS],
        failed_steps=", ".join(s.step_key for s in failed_steps),
        failed_at=failed_at,
    )
