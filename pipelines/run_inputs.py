"""What a run is built from, and whether the snapshot in force for its date already is that.

A run's result depends on: its as-of date, the code, every configuration file, the landing
files loaded so far (history is as-occurred: a run reads every version dated up to its date)
and those withdrawn from a blocked delivery, and the previous in-force snapshot (the tier
stage's starting state). :class:`RunInputs` names them; the ingest step records them in
``raw._run_inputs`` under the run's snapshot id before anything is built, so the inputs of
every published snapshot are known.

:func:`unchanged_snapshot` is the no-change fast path: a rerun of a date that loads no new
file and finds the in-force snapshot of that date built from exactly the same inputs would
publish the same tiers again; it publishes nothing instead (the ingest step materializes no
raw asset, so every later step is skipped). Never taken when the code version cannot tell
two versions apart (a modified checkout, ``-dirty``, or ``unknown``), and never when a file
of this run failed or was deferred: that run must fail or warn as before.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from datetime import date
from pathlib import Path

import duckdb

from pipelines import warehouse as wh
from pipelines.config.loader import combine_versions
from pipelines.history import SnapshotInfo, in_force, list_snapshots, previous_in_force
from pipelines.ingest.loader import utc_now
from pipelines.quality.gate_state import WITHDRAWN_TABLE
from pipelines.run_context import RunContext
from pipelines.settings import comparable_code_version

RUN_INPUTS_TABLE = "raw._run_inputs"
_DDL = f"""
create table if not exists {RUN_INPUTS_TABLE} (
    snapshot_id varchar, run_id varchar, as_of_date date, inputs_version varchar,
    code_version varchar, config_version varchar, files_version varchar, files_loaded bigint,
    previous_snapshot_id varchar, recorded_at timestamp
)"""
# A file in one of these states changes nothing: it was loaded before, is a copy of a loaded
# file, or is not a landing file at all.
QUIET_STATUSES = frozenset({"unchanged", "skipped-duplicate", "ignored"})


@dataclass(frozen=True)
class RunInputs:
    """Everything beside the warehouse's own state that a run's result depends on."""

    as_of: date
    code_version: str
    config_version: str
    files_version: str  # the loaded landing files, by entity and content
    files_loaded: int
    previous_snapshot_id: str | None

    @property
    def version(self) -> str:
        parts = {k: str(v) for k, v in asdict(self).items()}
        return combine_versions(parts)


def current_inputs(
    con: duckdb.DuckDBPyConnection, ctx: RunContext, snapshots_dir: Path
) -> RunInputs:
    """The inputs of a run of ``ctx`` on the warehouse as it is now (after ingest)."""
    files = con.execute(
        "select entity, sha256 from raw._file_manifest where status = 'loaded' "
        "order by entity, sha256"
    ).fetchall()
    # A withdrawn file stays loaded in raw but is left out by staging (quality.gate_state).
    withdrawn = []
    if wh.table_exists(con, WITHDRAWN_TABLE):
        withdrawn = con.execute(
            f"select distinct entity, sha256 from {WITHDRAWN_TABLE} order by entity, sha256"
        ).fetchall()
    previous = previous_in_force(snapshots_dir, ctx.as_of)
    return RunInputs(
        as_of=ctx.as_of,
        code_version=ctx.code_version,
        config_version=combine_versions(ctx.config.versions),
        files_version=hashlib.sha256(json.dumps([files, withdrawn]).encode()).hexdigest()[:16],
        files_loaded=len(files),
        previous_snapshot_id=previous.snapshot_id if previous else None,
    )


def record_inputs(con: duckdb.DuckDBPyConnection, ctx: RunContext, inputs: RunInputs) -> None:
    """Record what the run's snapshot will be built from (replacing an earlier record of the
    same snapshot id: a re-execution of the whole run)."""
    con.execute(_DDL)
    con.execute(f"delete from {RUN_INPUTS_TABLE} where snapshot_id = ?", [ctx.snapshot_id])
    con.execute(
        f"insert into {RUN_INPUTS_TABLE} values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            ctx.snapshot_id, ctx.run_id, inputs.as_of, inputs.version, inputs.code_version,
            inputs.config_version, inputs.files_version, inputs.files_loaded,
            inputs.previous_snapshot_id, utc_now(),
        ],
    )  # fmt: skip


def unchanged_snapshot(
    con: duckdb.DuckDBPyConnection,
    inputs: RunInputs,
    snapshots_dir: Path,
    serving_db: Path,
) -> SnapshotInfo | None:
    """The in-force snapshot of ``inputs.as_of`` if it was built from exactly ``inputs`` and
    the serving database exists; else None (the run must build)."""
    if not comparable_code_version(inputs.code_version) or not serving_db.exists():
        return None
    same_day = [s for s in in_force(list_snapshots(snapshots_dir)) if s.as_of == inputs.as_of]
    if not same_day:
        return None
    if not wh.table_exists(con, RUN_INPUTS_TABLE):
        return None
    recorded = con.execute(
        f"select inputs_version from {RUN_INPUTS_TABLE} where snapshot_id = ?",
        [same_day[0].snapshot_id],
    ).fetchall()
    return same_day[0] if recorded and recorded[0][0] == inputs.version else None
