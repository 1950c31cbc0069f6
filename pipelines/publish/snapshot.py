"""Write immutable tier snapshots and put them in force; no Dagster here.

Nothing here knows about Dagster: functions take a DuckDB connection to the warehouse and
paths, so they are easy to test and to call from a notebook.

A snapshot is a folder ``snapshots/<snapshot_id>/`` holding everything BI is shown for it:
the tiers (``customer_tier.parquet``), the change tables computed against the previous
snapshot (``tier_ledger``, ``downgrade_notices``, ``migration_matrix``, ``tier_kpis``), the
identity review queue of the run (``identity_review``) and the golden-id redirects in force
(``golden_id_redirects``: retired id -> survivor), as Parquet; its volumes (``volumes.json``)
and ``manifest.json``. Publishing one, in order:

1. the folder is written in a hidden staging area *outside* ``snapshots/``
   (``.staging/<snapshot_id>-<random>/``), so no reader, not even a glob over
   ``snapshots/*/customer_tier.parquet`` (DuckDB globs match hidden folders), can see it;
2. the serving database is built beside the live one (``.<name>.<random>.building.duckdb``),
   from the published snapshot folders *plus* the staged one (:mod:`pipelines.publish.serving`);
3. **commit**: the staging folder is renamed to ``snapshots/<snapshot_id>/`` — one atomic
   rename; from this instant the snapshot and its change tables are published
   (:mod:`pipelines.history` lists only such folders), and never before;
4. the new serving file replaces the live one with ``os.replace``.

A reader sees either the old state or the new one, never a half-written file or folder. A run
that dies before step 3 published nothing; its leftovers are swept at the start of the next
run (:mod:`pipelines.recovery`). One that dies between 3 and 4 left a published snapshot the
serving file does not list yet: the next run rebuilds the serving file when it starts (and a
re-execution of the same run finds its snapshot committed and only finishes the swap).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import uuid
from dataclasses import asdict, fields
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from pipelines import warehouse as wh
from pipelines.history import MANIFEST_FILE, SNAPSHOT_FILE, SnapshotInfo
from pipelines.publish.contract import CUSTOMER_TIER_COLUMNS, PUBLISHED_MODEL, SERVING_TIER_TABLES
from pipelines.publish.serving import (
    build_serving_db,
    change_table_select,
    rebuild_serving,
    serving_lags,
    swap_serving_db,
)
from pipelines.publish.text_safety import safe_text_sql
from pipelines.publish.tier_history import history_sql
from pipelines.quality.volume import VOLUMES_FILE, run_volumes
from pipelines.run_context import RunContext
from pipelines.tiering.store import TierTableError, check_tier_table

STAGING_DIR = ".staging"  # under the serving dir, beside (not inside) snapshots/


class SnapshotExistsError(RuntimeError):
    """A snapshot id was about to be written twice; snapshots are immutable."""


class PublishContractError(RuntimeError):
    """The rows to publish do not have the published contract's columns."""


def snapshot_select_sql(con: duckdb.DuckDBPyConnection, snapshot_id: str) -> str:
    """The SELECT that produces one snapshot: the dbt model ``tiers.published_customer_tier``
    (built for this run after the tier step), its columns checked against the contract, text
    made safe for spreadsheets."""
    if not wh.table_exists(con, PUBLISHED_MODEL):
        raise PublishContractError(
            f"{PUBLISHED_MODEL} does not exist: run the dbt_publish_models step first"
        )
    present = wh.table_columns(con, PUBLISHED_MODEL)
    expected = [name for name, _, _ in CUSTOMER_TIER_COLUMNS]
    if present != expected:
        missing = [c for c in expected if c not in present]
        extra = [c for c in present if c not in expected]
        raise PublishContractError(
            f"{PUBLISHED_MODEL} does not match the published contract (missing: "
            f"{', '.join(missing) or '-'}; unexpected: {', '.join(extra) or '-'}; or another "
            "order): rebuild it with dbt_publish_models"
        )
    ids, _ = wh.distinct_values(con, PUBLISHED_MODEL, "snapshot_id")
    if ids != [snapshot_id]:
        raise TierTableError(
            f"{PUBLISHED_MODEL} holds snapshot(s) {', '.join(map(str, ids))}, not this run's "
            f"{snapshot_id}: build it in this run (dbt_publish_models) before publishing"
        )
    # Text BI exports to spreadsheets: no control characters, no leading formula sign.
    exprs = ", ".join(
        f"{safe_text_sql(name) if dtype == 'VARCHAR' else name} as {name}"
        for name, dtype, _ in CUSTOMER_TIER_COLUMNS
    )
    return f"select {exprs} from {PUBLISHED_MODEL} order by golden_account_id"


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _write_change_tables(con: duckdb.DuckDBPyConnection, folder: Path, snapshot_id: str) -> None:
    """This snapshot's rows of each change table, with the published columns and types (an
    empty file with that schema when the tier step has not produced the table). A "latest"
    table (no snapshot id: the identity review queue, the golden-id redirects) is copied
    whole, as this run left it."""
    for name, (source, _, scope) in SERVING_TIER_TABLES.items():
        present = set(wh.table_columns(con, source))
        target = wh.literal((folder / f"{name}.parquet").as_posix())
        if present and scope == "latest":
            sql, params = f"{change_table_select(name, present)} from {source}", []
        elif present:
            sql = f"{change_table_select(name, present)} from {source} where snapshot_id = ?"
            params = [snapshot_id]
        else:
            sql, params = f"{change_table_select(name, set())} where false", []
        con.execute(f"copy ({sql}) to {target} (format parquet, compression zstd)", params)


def stage_snapshot(
    con: duckdb.DuckDBPyConnection, serving_dir: Path, ctx: RunContext
) -> tuple[SnapshotInfo, Path]:
    """Write this run's snapshot folder into the hidden staging area; returns its manifest and
    the folder. Nothing is published until :func:`commit_snapshot`."""
    row_count = check_tier_table(con, ctx.snapshot_id)
    staging_root = serving_dir / STAGING_DIR
    staging_root.mkdir(parents=True, exist_ok=True)
    staging_dir = staging_root / f"{ctx.snapshot_id}-{uuid.uuid4().hex[:8]}"
    staging_dir.mkdir()
    try:
        target = staging_dir / SNAPSHOT_FILE
        sql = snapshot_select_sql(con, ctx.snapshot_id)
        con.execute(
            f"copy ({sql}) to {wh.literal(target.as_posix())} (format parquet, compression zstd)"
        )
        _write_change_tables(con, staging_dir, ctx.snapshot_id)
        volumes = run_volumes(con)
        (staging_dir / VOLUMES_FILE).write_text(json.dumps(volumes, indent=2, sort_keys=True))
        info = SnapshotInfo(
            snapshot_id=ctx.snapshot_id,
            as_of_date=ctx.as_of.isoformat(),
            created_at=datetime.now(UTC).replace(tzinfo=None).isoformat(timespec="microseconds"),
            row_count=row_count,
            policy_version=ctx.policy_version,
            rules_version=ctx.rules_version,
            code_version=ctx.code_version,
            run_id=ctx.run_id,
            parquet_path=f"snapshots/{ctx.snapshot_id}/{SNAPSHOT_FILE}",
            parquet_sha256=_sha256(target),
        )
        # The manifest is written last: a folder without one is never a snapshot.
        (staging_dir / MANIFEST_FILE).write_text(json.dumps(asdict(info), indent=2) + "\n")
        for path in staging_dir.iterdir():
            path.chmod(0o444)
    except BaseException:
        shutil.rmtree(staging_dir, ignore_errors=True)
        raise
    return info, staging_dir


def commit_snapshot(staging_dir: Path, info: SnapshotInfo, snapshots_dir: Path) -> None:
    """Publish a staged snapshot: one atomic directory rename."""
    snapshots_dir.mkdir(parents=True, exist_ok=True)
    os.rename(staging_dir, snapshots_dir / info.snapshot_id)


def _read_manifest(folder: Path) -> SnapshotInfo:
    data = json.loads((folder / MANIFEST_FILE).read_text())
    return SnapshotInfo(**{f.name: data[f.name] for f in fields(SnapshotInfo)})


def _same_tiers(con: duckdb.DuckDBPyConnection, staged: Path, committed: Path) -> bool:
    """True when two snapshot files hold the same rows (byte-equal files are)."""
    if _sha256(staged) == _sha256(committed):
        return True
    a, b = wh.literal(staged.as_posix()), wh.literal(committed.as_posix())
    differ = con.execute(
        f"select (select count(*) from (from read_parquet({a}) except all "
        f"from read_parquet({b}))) + (select count(*) from (from read_parquet({b}) "
        f"except all from read_parquet({a})))"
    ).fetchall()[0][0]
    return differ == 0


def _already_published(
    con: duckdb.DuckDBPyConnection, staged: tuple[SnapshotInfo, Path], committed: Path
) -> SnapshotInfo:
    """The committed manifest when an earlier attempt of this run (a re-execution of a run
    killed after its commit) published the same tiers; :class:`SnapshotExistsError` when the
    snapshot id was published with other content (snapshots are immutable)."""
    info, folder = staged
    if not _same_tiers(con, folder / SNAPSHOT_FILE, committed / SNAPSHOT_FILE):
        raise SnapshotExistsError(
            f"snapshot {info.snapshot_id} is already published ({committed}) with other "
            "content; snapshots are immutable. This run re-executes one that published it: "
            "launch a new run of the partition to publish another snapshot for the date."
        )
    return _read_manifest(committed)


def publish(
    con: duckdb.DuckDBPyConnection, serving_dir: Path, serving_db: Path, ctx: RunContext
) -> tuple[SnapshotInfo, dict[str, int], str]:
    """Stage, build, commit, swap (see the module docstring). Returns the snapshot's manifest,
    the serving tables' row counts and how the tier history was built (``extended``,
    ``rebuilt``; ``unchanged`` when this run's snapshot was published already)."""
    snapshots_dir = serving_dir / "snapshots"
    info, staging_dir = stage_snapshot(con, serving_dir, ctx)
    committed = snapshots_dir / info.snapshot_id
    try:
        if committed.exists():
            info = _already_published(con, (info, staging_dir), committed)
            shutil.rmtree(staging_dir, ignore_errors=True)
            counts = (
                rebuild_serving(serving_dir, serving_db)
                if serving_lags(serving_dir, serving_db)
                else {}
            )
            return info, counts, "rebuilt" if counts else "unchanged"
        built, counts, history = build_serving_db(con, serving_dir, serving_db, (info, staging_dir))
    except BaseException:
        shutil.rmtree(staging_dir, ignore_errors=True)
        raise
    try:
        commit_snapshot(staging_dir, info, snapshots_dir)
    except BaseException:
        built.unlink(missing_ok=True)
        shutil.rmtree(staging_dir, ignore_errors=True)
        raise
    swap_serving_db(built, serving_db)
    return info, counts, history


__all__ = [
    "PublishContractError",
    "SnapshotExistsError",
    "build_serving_db",
    "commit_snapshot",
    "history_sql",
    "publish",
    "stage_snapshot",
    "swap_serving_db",
]
