"""The one sentence a blocked run says: what failed, and that the published tiers did not move.

Every blocking check that fails puts its clause (e.g. ``orders quarantine 50.0% > 5.0% in
orders/x.csv: 120 negative amount (amount_cny)``) on its result and on the run's
``stratum/blocked`` tag, followed by the snapshot still in force, so an operator reading the
Runs list, the launcher's output or an alert (``pipelines/alerts`` records the tag as the
run's reason) knows what to fix and that BI saw no change. Blocking checks that do not write
their own clause (dbt tests, the identity limits, the tier invariant) get one from their
result when the run ends (:func:`complete_blocked_tag`), so no blocked run goes without.
"""

from __future__ import annotations

from pathlib import Path

from dagster import AssetCheckSeverity, DagsterEventType, DagsterInstance

from pipelines.alerts.record import BLOCKED_TAG, FailedCheck, check_sentence
from pipelines.history import current, list_snapshots
from pipelines.privacy.masking import scrub_text

__all__ = ["BLOCKED_TAG", "add_clause", "blocked_sentence", "clause_of", "complete_blocked_tag"]
_SEPARATOR = " — "


def in_force_note(serving_dir: Path) -> str:
    """``published tiers unchanged: snapshot X (as of D) stays in force`` (or nothing yet)."""
    latest = current(list_snapshots(serving_dir / "snapshots"))
    if latest is None:
        return "nothing was published (no snapshot exists yet)"
    return (
        f"published tiers unchanged: snapshot {latest.snapshot_id} (as of {latest.as_of_date}) "
        "stays in force"
    )


def blocked_sentence(clauses: list[str], serving_dir: Path) -> str:
    """The clauses of every blocking failure, then the in-force note, as one sentence."""
    return "; ".join(clauses) + _SEPARATOR + in_force_note(serving_dir) + "."


def add_clause(existing_tag: str | None, clause: str, serving_dir: Path) -> str:
    """The run's ``stratum/blocked`` tag with ``clause`` added (once) to what it already says."""
    clause = clause.replace("; ", ", ")  # "; " separates the clauses of several checks
    clauses = []
    if existing_tag:
        clauses = [c for c in existing_tag.split(_SEPARATOR)[0].split("; ") if c]
    if clause not in clauses:
        clauses.append(clause)
    return blocked_sentence(clauses, serving_dir)


def clause_of(sentence: str) -> str:
    """The failure part of a blocked sentence (what :func:`blocked_sentence` was given)."""
    return sentence.split(_SEPARATOR)[0]


def complete_blocked_tag(instance: DagsterInstance, run_id: str, serving_dir: Path) -> str | None:
    """Add to run ``run_id``'s ``stratum/blocked`` tag a clause for every blocking check that
    failed with ERROR severity in it without giving its own (no ``blocked`` metadata). Returns
    the tag (None when nothing blocked the run)."""
    run = instance.get_run_by_id(run_id)
    if run is None:
        return None
    before = text = run.tags.get(BLOCKED_TAG)
    records = instance.all_logs(run_id, of_type=DagsterEventType.ASSET_CHECK_EVALUATION)
    for record in records:
        data = record.dagster_event.event_specific_data  # type: ignore[union-attr]
        failed = not data.passed and data.severity == AssetCheckSeverity.ERROR
        if not failed or not data.blocking or "blocked" in data.metadata:
            continue
        metadata = {k: v.value for k, v in data.metadata.items()}
        asset = data.asset_key.to_user_string()
        check = FailedCheck(asset, data.check_name, data.description, metadata)
        text = add_clause(text, scrub_text(check_sentence(check)), serving_dir)
    if text != before:
        instance.add_run_tags(run_id, {BLOCKED_TAG: text})
    return text
