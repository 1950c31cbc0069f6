"""The one sentence a blocked run says: what failed, and that the published tiers did not move.

Every blocking check that fails puts its clause (e.g. ``orders quarantine 50.0% > 5.0% in
orders/x.csv: 120 negative amount (amount_cny)``) on its result and on the run's
``stratum/blocked`` tag, followed by the snapshot still in force, so an operator reading the
Runs list, the launcher's output or an alert knows what to fix and that BI saw no change.
"""

from __future__ import annotations

from pathlib import Path

from pipelines.history import current, list_snapshots

BLOCKED_TAG = "stratum/blocked"
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
