"""One pipeline run at a time per data directory, whoever starts it.

Every run writes the same DuckDB warehouse, so two runs must never interleave — whether they
come from ``make run``, the UI, the schedule, the sensor or a second terminal. The run holds an
exclusive ``flock`` on ``<data dir>/warehouse/.pipeline-run.lock`` from its first step to its
end; the file says which run holds it. The kernel drops the lock when the process dies, even
on SIGKILL, so a killed run never blocks the next one.
"""

from __future__ import annotations

import fcntl
import json
import os
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO

LOCK_NAME = ".pipeline-run.lock"


class RunInProgressError(RuntimeError):
    """Another run holds the data directory."""


@dataclass
class RunLock:
    path: Path
    handle: IO[str]

    def release(self) -> None:
        if self.handle.closed:
            return
        try:
            self.handle.seek(0)
            self.handle.truncate()
            self.handle.flush()
            fcntl.flock(self.handle, fcntl.LOCK_UN)
        finally:
            self.handle.close()


def lock_path(data_dir: Path) -> Path:
    return data_dir / "warehouse" / LOCK_NAME


def holder(data_dir: Path) -> dict | None:
    """Who holds the lock (run id, as-of date, pid, since), or None when nobody does."""
    path = lock_path(data_dir)
    if not path.exists():
        return None
    with path.open("r+") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            text = path.read_text() or "{}"
            try:
                return json.loads(text)
            except json.JSONDecodeError:
                return {"run_id": "unknown"}
        fcntl.flock(fh, fcntl.LOCK_UN)
    return None


def peek(data_dir: Path) -> dict | None:
    """Who holds the lock, read without touching the lock itself (so a sensor probing every
    minute can never make a starting run find the lock taken): the recorded holder if its
    process is alive on this host. A released lock is empty; a killed holder's pid is gone."""
    path = lock_path(data_dir)
    try:
        info = json.loads(path.read_text() or "{}")
    except (OSError, json.JSONDecodeError):
        return None
    pid = info.get("pid")
    if not isinstance(pid, int):
        return None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    except PermissionError:  # alive, another user's
        pass
    # The pid may have been reused since its holder was killed: confirm with the lock itself
    # (only in this rare case can the probe overlap with a run taking the lock).
    return holder(data_dir)


def acquire(data_dir: Path, run_id: str, as_of: str) -> RunLock:
    """Take the run lock or raise :class:`RunInProgressError` naming the run that holds it."""
    path = lock_path(data_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle = path.open("a+")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        info = holder(data_dir) or {}
        raise RunInProgressError(
            f"another pipeline run is in progress on {data_dir}: run "
            f"{info.get('run_id', 'unknown')} (as of {info.get('as_of', '?')}, pid "
            f"{info.get('pid', '?')}, since {info.get('since', '?')}). Wait for it to finish "
            "or stop it (docs/operations.md); this run changed nothing."
        ) from None
    handle.seek(0)
    handle.truncate()
    since = datetime.now(UTC).isoformat(timespec="seconds")
    handle.write(json.dumps({"run_id": run_id, "as_of": as_of, "pid": os.getpid(), "since": since}))
    handle.flush()
    return RunLock(path, handle)
