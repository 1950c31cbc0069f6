"""What the blocking gates decided, kept across runs: ``quality.gate_state``. No Dagster here.

A gate judges a *batch* — for the raw gates, the files one run loaded into ``raw.<entity>``
(``batch`` = that run's id); for the volume gates, one as-of date — and its verdict stays:

* ``passed`` / ``warned`` (failed a WARN-severity rule): final, never judged again;
* ``failed``: blocks every later run, whichever run it is, and is judged again on each run
  until it becomes ``accepted`` (config/acceptances.yaml), ``withdrawn`` (every file of the
  batch removed or replaced in the landing folder) or passes (e.g. after the rule changed).

A batch that no gate judged yet — its run was killed before its checks — is judged by the
next run, so a gate cannot be walked around by rerunning.

Withdrawn files are listed in ``quality.withdrawn_files``; staging leaves their rows out
(``dbt_project/macros/withdrawn_files.sql``). Only files the pipeline is being held for can
be withdrawn: files of a failed raw batch, or files not yet published while the latest volume
verdict is a failure. Any other file may be archived or deleted from the landing folder
without effect.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import duckdb

from pipelines import warehouse as wh
from pipelines.ingest.loader import sha256_file, utc_now
from pipelines.ingest.manifest import ensure_raw_schema

STATE_TABLE = "quality.gate_state"
WITHDRAWN_TABLE = "quality.withdrawn_files"
MANIFEST_TABLE = "raw._file_manifest"
VOLUME_GATES = ("volume", "tier_volume")

_DDL = f"""
create schema if not exists quality;
create table if not exists {STATE_TABLE} (
    gate varchar not null,
    entity varchar not null,
    batch varchar not null,
    status varchar not null,
    detail varchar,
    files json,
    acceptance varchar,
    judged_run_id varchar,
    judged_at timestamp
);
create table if not exists {WITHDRAWN_TABLE} (
    entity varchar not null,
    path varchar not null,
    sha256 varchar not null,
    batch varchar,
    withdrawn_run_id varchar,
    withdrawn_at timestamp,
    reason varchar
);
"""


@dataclass(frozen=True)
class LoadedFile:
    path: str  # relative to the landing dir
    sha256: str


@dataclass
class Batch:
    """The files one run loaded for an entity (withdrawn files left out)."""

    entity: str
    batch: str  # the loading run's id
    loaded_at: datetime
    files: list[LoadedFile] = field(default_factory=list)

    @property
    def shas(self) -> list[str]:
        return [f.sha256 for f in self.files]


@dataclass(frozen=True)
class Verdict:
    """One gate's judgement of one batch."""

    gate: str
    entity: str
    batch: str
    status: str  # passed | warned | failed | accepted | withdrawn
    detail: str
    files: tuple[LoadedFile, ...] = ()
    acceptance: str | None = None

    @property
    def blocking(self) -> bool:
        return self.status == "failed"


def ensure_tables(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(_DDL)


def load_batches(con: duckdb.DuckDBPyConnection, entity: str) -> list[Batch]:
    """Every load batch of ``entity`` (its manifest rows with status ``loaded``), oldest first,
    without its withdrawn files (a batch whose files were all withdrawn comes back empty)."""
    ensure_raw_schema(con)  # an older manifest gains its status column (all rows 'loaded')
    rows = con.execute(
        f"""
        select m.run_id, min(m.loaded_at) over (partition by m.run_id), m.path, m.sha256,
               w.sha256 is not null as withdrawn
        from {MANIFEST_TABLE} as m
        left join (select distinct entity, sha256 from {WITHDRAWN_TABLE}) as w
            on w.entity = m.entity and w.sha256 = m.sha256
        where m.entity = ? and m.status = 'loaded'
        order by 2, m.run_id, m.path
        """,
        [entity],
    ).fetchall()
    batches: dict[str, Batch] = {}
    for run_id, loaded_at, path, sha, withdrawn in rows:
        batch = batches.setdefault(run_id, Batch(entity, run_id, loaded_at))
        if not withdrawn:
            batch.files.append(LoadedFile(path, sha))
    return list(batches.values())


def states(con: duckdb.DuckDBPyConnection, gate: str, entity: str) -> dict[str, str]:
    """``{batch: status}`` of one gate for one entity."""
    return dict(
        con.execute(
            f"select batch, status from {STATE_TABLE} where gate = ? and entity = ?",
            [gate, entity],
        ).fetchall()
    )


def record(con: duckdb.DuckDBPyConnection, verdicts: list[Verdict], run_id: str) -> None:
    """Replace the stored verdict of each judged batch (one transaction)."""
    if not verdicts:
        return
    now = utc_now()
    with wh.transaction(con):
        for v in verdicts:
            con.execute(
                f"delete from {STATE_TABLE} where gate = ? and entity = ? and batch = ?",
                [v.gate, v.entity, v.batch],
            )
            files = json.dumps([{"path": f.path, "sha256": f.sha256} for f in v.files])
            con.execute(
                f"insert into {STATE_TABLE} values (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [v.gate, v.entity, v.batch, v.status, v.detail, files, v.acceptance, run_id, now],
            )


def outstanding(con: duckdb.DuckDBPyConnection, gate: str, entity: str) -> list[Verdict]:
    """Stored failed verdicts of one gate and entity (what keeps blocking), oldest first."""
    rows = con.execute(
        f"select batch, detail, files from {STATE_TABLE} "
        "where gate = ? and entity = ? and status = 'failed' order by judged_at, batch",
        [gate, entity],
    ).fetchall()
    return [
        Verdict(gate, entity, batch, "failed", detail, _files(files))
        for batch, detail, files in rows
    ]


def _files(text: str | None) -> tuple[LoadedFile, ...]:
    return tuple(LoadedFile(f["path"], f["sha256"]) for f in json.loads(text or "[]"))


def latest_snapshot_created_at(snapshots: list) -> datetime | None:
    """When the newest published snapshot was created (naive UTC), from their manifests."""
    created = [datetime.fromisoformat(s.created_at) for s in snapshots]
    return max(created) if created else None


def unpublished_files(
    con: duckdb.DuckDBPyConnection, published_until: datetime | None
) -> list[tuple[str, str, LoadedFile]]:
    """(entity, batch, file) of every file loaded after the newest published snapshot was
    created (all files when nothing was published), withdrawn ones left out."""
    ensure_raw_schema(con)
    rows = con.execute(
        f"""
        select m.entity, m.run_id, m.path, m.sha256 from {MANIFEST_TABLE} as m
        where m.status = 'loaded' and (? is null or m.loaded_at > ?)
          and not exists (select 1 from {WITHDRAWN_TABLE} as w
                          where w.entity = m.entity and w.sha256 = m.sha256)
        order by m.entity, m.loaded_at, m.path
        """,
        [published_until, published_until],
    ).fetchall()
    return [(e, b, LoadedFile(p, s)) for e, b, p, s in rows]


def _held_files(con: duckdb.DuckDBPyConnection, entity: str) -> list[tuple[str, str, LoadedFile]]:
    """(batch, reason, file) of the files of ``entity`` the pipeline is held for: files of a
    batch a raw gate failed, and the suspects of the latest volume verdict if it failed."""
    held = []
    for gate, batch, files in con.execute(
        f"select gate, batch, files from {STATE_TABLE} "
        "where entity = ? and status = 'failed' order by judged_at",
        [entity],
    ).fetchall():
        held += [(batch, f"{gate} failed", f) for f in _files(files)]
    latest = con.execute(
        f"select gate, status, files from {STATE_TABLE} where list_contains(?, gate) "
        "order by judged_at desc limit 1",
        [list(VOLUME_GATES)],
    ).fetchone()
    if latest and latest[1] == "failed":
        # Suspects are landing paths: "<entity>/<file>".
        held += [
            ("", f"{latest[0]} failed", f)
            for f in _files(latest[2])
            if f.path.split("/", 1)[0] == entity
        ]
    return held


def withdraw_missing_files(
    con: duckdb.DuckDBPyConnection, entity: str, landing_dir: Path, run_id: str
) -> list[LoadedFile]:
    """Withdraw every held file of ``entity`` that is no longer in the landing folder with the
    same content (removed, or replaced by a corrected version). Returns the files withdrawn.
    A file the pipeline removed itself (erasure or retention, ``removed_at`` in the manifest)
    was not withdrawn by anyone: it stays held."""
    ensure_tables(con)
    ensure_raw_schema(con)  # an older manifest gains its removed_at column
    withdrawn = []
    seen = {
        sha
        for (sha,) in con.execute(
            f"select sha256 from {WITHDRAWN_TABLE} where entity = ? "
            "union select sha256 from raw._file_manifest "
            "where entity = ? and removed_at is not null",
            [entity, entity],
        ).fetchall()
    }
    for batch, reason, f in _held_files(con, entity):
        if f.sha256 in seen:
            continue
        seen.add(f.sha256)
        path = landing_dir / f.path
        if path.is_file() and sha256_file(path) == f.sha256:
            continue
        how = "replaced in" if path.is_file() else "removed from"
        con.execute(
            f"insert into {WITHDRAWN_TABLE} values (?, ?, ?, ?, ?, ?, ?)",
            [entity, f.path, f.sha256, batch, run_id, utc_now(),
             f"{reason}; the file was {how} the landing folder"],
        )  # fmt: skip
        withdrawn.append(f)
    return withdrawn
