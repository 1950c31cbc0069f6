"""Blocking volume checks against the previous in-force snapshot (Dagster layer).

* ``volume`` on ``customer_360``: accounts, orders and net revenue of the last 365 days —
  stops scoring, tiering and publishing;
* ``tier_volume`` on ``tiers/customer_tier``: accounts per tier — stops publishing. Not
  judged when the run's tier policy differs from the previous snapshot's (a policy change is
  reviewed with ``pipelines.tiering.whatif``, and its tier sizes are expected to move).

A change beyond the bounds of ``config/quality.yaml`` fails the check until the delivery
behind it is fixed or withdrawn (removed or replaced in the landing folder: the files loaded
since the last published snapshot are the suspects) or the change is accepted for the run's
as-of date in ``config/acceptances.yaml``. Verdicts are kept in ``quality.gate_state``.
"""

# No "from __future__ import annotations": Dagster inspects the real annotation types.

from typing import Any

from dagster import (
    AssetCheckExecutionContext,
    AssetCheckResult,
    AssetCheckSeverity,
    AssetKey,
    MetadataValue,
    asset_check,
)

from pipelines.history import list_snapshots, previous_in_force
from pipelines.partitions import AS_OF_PARTITIONS, business_today
from pipelines.quality.blocked import blocked_sentence
from pipelines.quality.checks import CUSTOMER_360_KEY, tag_blocked_run
from pipelines.quality.file_gates import files_label
from pipelines.quality.gate_state import (
    Verdict,
    ensure_tables,
    latest_snapshot_created_at,
    record,
    unpublished_files,
)
from pipelines.quality.volume import (
    Change,
    changes_markdown,
    profile_changes,
    profile_volumes,
    snapshot_volumes,
    tier_changes,
    tier_volumes,
)
from pipelines.resources import Warehouse
from pipelines.run_context import RunContext, RunContextResource
from pipelines.settings import get_paths

CUSTOMER_TIER_KEY = AssetKey(["tiers", "customer_tier"])
ENTITY_OF_GATE = {"volume": "customer_360", "tier_volume": "customer_tier"}


def _accept_snippet(gate: str, ctx: RunContext, failing: list[Change]) -> str:
    metrics = ", ".join(c.metric for c in failing)
    return (
        "If a delivery is wrong, fix or remove it in the landing folder and run again. If the "
        "change is real, accept it in config/acceptances.yaml:\n\n```yaml\n"
        f"  - check: {gate}\n    as_of: {ctx.as_of}\n    metrics: [{metrics}]\n"
        f"    accepted_by: <your handle>\n    accepted_on: {business_today()}\n"
        '    reason: "<why this change is real>"\n```'
    )


def judge_volume(
    gate: str, ctx: RunContext, changes: list[Change], previous_id: str, con: Any
) -> tuple[Verdict, list[Change]]:
    """The verdict of one volume gate (accepted when config/acceptances.yaml covers every
    metric out of bounds); the failed verdict lists the not yet published files as suspects."""
    failing = [c for c in changes if not c.ok]
    entity, batch = ENTITY_OF_GATE[gate], ctx.as_of.isoformat()
    if not failing:
        return Verdict(gate, entity, batch, "passed", "within bounds"), failing
    detail = ", ".join(c.describe(previous_id) for c in failing)
    accepted = ctx.config.acceptances.model.for_volume(gate, ctx.as_of)
    if accepted and (not accepted.metrics or {c.metric for c in failing} <= set(accepted.metrics)):
        return Verdict(gate, entity, batch, "accepted", detail, (), accepted.note()), failing
    published = latest_snapshot_created_at(list_snapshots(get_paths().snapshots_dir))
    suspects = tuple(f for _, _, f in unpublished_files(con, published))
    return Verdict(gate, entity, batch, "failed", detail, suspects), failing


def run_volume_gate(gate: str, ctx: RunContext, warehouse: Warehouse) -> AssetCheckResult:
    """Compare this run with the previous in-force snapshot for ``gate`` (module docstring)."""
    paths = get_paths()
    previous = previous_in_force(paths.snapshots_dir, ctx.as_of)
    bounds = ctx.config.quality.model.volume
    if previous is None:
        return AssetCheckResult(
            passed=True, metadata={"note": "No earlier snapshot to compare with."}
        )
    if gate == "tier_volume" and previous.policy_version != ctx.policy_version:
        return AssetCheckResult(
            passed=True,
            metadata={
                "previous_snapshot_id": previous.snapshot_id,
                "note": f"Tier policy changed ({previous.policy_version} -> "
                f"{ctx.policy_version}): tier sizes are not compared.",
            },
        )
    with warehouse.connect() as con:
        ensure_tables(con)
        before = snapshot_volumes(con, paths.serving_dir, previous)
        if gate == "volume":
            changes = profile_changes(before, profile_volumes(con), bounds)
        else:
            changes = tier_changes(before, tier_volumes(con), bounds)
        verdict, failing = judge_volume(gate, ctx, changes, previous.snapshot_id, con)
        record(con, [verdict], ctx.run_id)
    metadata: dict[str, Any] = {
        "previous_snapshot_id": previous.snapshot_id,
        "previous_as_of": previous.as_of_date,
        "changes": MetadataValue.md(changes_markdown(changes)),
        "status": verdict.status,
    }
    if verdict.acceptance:
        metadata["acceptance"] = verdict.acceptance
    if verdict.blocking:
        metadata["blocked"] = blocked_sentence([verdict.detail], paths.serving_dir)
        metadata["suspect_files"] = MetadataValue.md(
            files_label(verdict.files) if verdict.files else "none (no file loaded since then)"
        )
        metadata["to_accept"] = MetadataValue.md(_accept_snippet(gate, ctx, failing))
    return AssetCheckResult(
        passed=not verdict.blocking,
        severity=AssetCheckSeverity.ERROR if verdict.blocking else AssetCheckSeverity.WARN,
        metadata=metadata,
    )


@asset_check(
    asset=CUSTOMER_360_KEY,
    name="volume",
    blocking=True,
    partitions_def=AS_OF_PARTITIONS,
    description="Accounts, orders and net revenue (last 365 days) moved no more than the "
    "bounds of config/quality.yaml since the previous in-force snapshot; accept a real "
    "change in config/acceptances.yaml.",
)
def volume(
    context: AssetCheckExecutionContext, warehouse: Warehouse, run: RunContextResource
) -> AssetCheckResult:
    result = run_volume_gate("volume", run.ctx, warehouse)
    tag_blocked_run(context, result)
    return result


@asset_check(
    asset=CUSTOMER_TIER_KEY,
    name="tier_volume",
    blocking=True,
    partitions_def=AS_OF_PARTITIONS,
    description="Each tier's size moved no more than config/quality.yaml allows since the "
    "previous in-force snapshot (same policy); accept a real change in "
    "config/acceptances.yaml.",
)
def tier_volume(
    context: AssetCheckExecutionContext, warehouse: Warehouse, run: RunContextResource
) -> AssetCheckResult:
    result = run_volume_gate("tier_volume", run.ctx, warehouse)
    tag_blocked_run(context, result)
    return result


volume_checks = [volume, tier_volume]
