"""Landing files that hold erased persons' data, or outlived their retention, are removed.

A loaded file's rows live in ``raw`` (with erased persons blanked), so the file itself is no
longer needed once loaded; its manifest rows stay, with ``removed_at`` and ``removed_by``, and
keep its sha256, so dropping the same bytes again loads nothing. A file is removed only when
its current content is the content that was loaded (a newer file under the same name stays).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import duckdb

from pipelines.ingest.loader import sha256_file
from pipelines.privacy.personal_data import PERSONAL_FIELDS
from pipelines.settings import ERASURE_REQUESTS


@dataclass(frozen=True)
class LandingFile:
    """A landing file with the requests (or retention rule) it is removed for."""

    entity: str
    path: str  # relative to the landing dir, as in the manifest
    sha256: str
    reasons: tuple[str, ...]


def files_with_erased_data(con: duckdb.DuckDBPyConnection) -> list[LandingFile]:
    """Loaded (or duplicate) files, not removed yet, whose content holds rows of erased
    contacts or quarantined rows of erased persons, and every loaded request file; each with
    the request ids it is removed for."""
    sources = " union all ".join(
        f"select '{entity}' as entity, t._sha256 as sha256, c.request_id "
        f"from raw.{entity} as t join privacy.erased_contacts as c using (contact_id)"
        for entity in PERSONAL_FIELDS
    )
    rows = con.execute(
        f"""
        with held as (
            {sources}
            union all
            select m.entity, m.sha256, 'registered requests'
            from raw._file_manifest as m where m.entity = '{ERASURE_REQUESTS}'
        )
        select m.entity, m.path, m.sha256, list(distinct held.request_id order by held.request_id)
        from raw._file_manifest as m
        join held on held.entity = m.entity and held.sha256 = m.sha256
        where m.status in ('loaded', 'skipped-duplicate') and m.removed_at is null
        group by all
        order by m.entity, m.path
        """
    ).fetchall()
    return [LandingFile(e, p, s, tuple(r)) for e, p, s, r in rows]


def expired_files(con: duckdb.DuckDBPyConnection, cutoff: datetime) -> list[LandingFile]:
    """Loaded files (and duplicates of them) loaded before ``cutoff`` (UTC), not removed yet."""
    rows = con.execute(
        """
        select m.entity, m.path, m.sha256
        from raw._file_manifest as m
        join raw._file_manifest as l on l.entity = m.entity and l.sha256 = m.sha256
            and l.status = 'loaded'
        where m.status in ('loaded', 'skipped-duplicate') and m.removed_at is null
            and l.loaded_at < ?
        order by m.entity, m.path
        """,
        [cutoff],
    ).fetchall()
    why = f"loaded before {cutoff:%Y-%m-%d %H:%M} UTC"
    return [LandingFile(e, p, s, (why,)) for e, p, s in rows]


def remove_files(
    con: duckdb.DuckDBPyConnection,
    landing_dir: Path,
    files: list[LandingFile],
    removed_by: str,
    now: datetime,
) -> list[LandingFile]:
    """Delete the files whose content is still the loaded one and record it in the manifest.
    Returns the files removed (files already gone are recorded as removed too)."""
    removed = []
    for f in files:
        path = landing_dir / f.path
        if path.is_file() and sha256_file(path) != f.sha256:
            continue  # another content under the same name: not the file that was loaded
        if path.is_file():
            path.unlink()
            removed.append(f)
        con.execute(
            "update raw._file_manifest set removed_at = ?, removed_by = ? "
            "where entity = ? and path = ? and sha256 = ? and removed_at is null",
            [now, f"{removed_by}: {', '.join(f.reasons)}", f.entity, f.path, f.sha256],
        )
    return removed


def still_present(landing_dir: Path, files: list[LandingFile]) -> list[LandingFile]:
    """The files that are still in the landing folder with their loaded content."""
    return [
        f
        for f in files
        if (landing_dir / f.path).is_file() and sha256_file(landing_dir / f.path) == f.sha256
    ]
