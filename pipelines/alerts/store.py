"""Where alerts are kept: a spool of pending files, then ``quality.run_alerts`` in the warehouse.

A running pipeline may hold the warehouse (DuckDB allows one writer process) for minutes, and
the alert sensor must neither wait that long nor make the run wait. So an alert is first
written to ``<quality dir>/run_alerts/pending/<run_id>.json`` (atomically, one file per run:
idempotent), then flushed into the warehouse in one short transaction with a short lock wait;
when the warehouse is busy the files stay and the next sensor tick tries again. Nothing is
lost and nothing is recorded twice (the run id is the key).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from dataclasses import replace
from datetime import date, datetime
from pathlib import Path

import duckdb
import pandas as pd

from pipelines import warehouse as wh
from pipelines.alerts.record import RunAlert
from pipelines.resources import Warehouse

ALERTS_TABLE = "quality.run_alerts"

_DDL = f"""
create schema if not exists quality;
create table if not exists {ALERTS_TABLE} (
    run_id varchar primary key,
    job_name varchar not null,
    as_of_date date,
    trigger varchar,
    snapshot_id varchar,
    failure_kind varchar not null,
    reason varchar not null,
    failed_steps varchar,
    failed_at timestamp not null,
    recorded_at timestamp not null,
    webhook_status varchar
);
"""
COLUMNS = [
    "run_id", "job_name", "as_of_date", "trigger", "snapshot_id", "failure_kind", "reason",
    "failed_steps", "failed_at", "webhook_status",
]  # fmt: skip


def pending_dir(quality_dir: Path) -> Path:
    return quality_dir / "run_alerts" / "pending"


def spool(alert: RunAlert, quality_dir: Path) -> Path:
    """Write (or overwrite) the pending file of ``alert``; returns its path."""
    folder = pending_dir(quality_dir)
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"{alert.run_id}.json"
    tmp = folder / f".{alert.run_id}.json.tmp"
    tmp.write_text(json.dumps(alert.as_json(), ensure_ascii=False), encoding="utf-8")
    os.replace(tmp, target)  # a reader sees the whole file or none
    return target


def _from_json(data: dict) -> RunAlert:
    values = {k: data.get(k) for k in COLUMNS}
    values["as_of_date"] = date.fromisoformat(data["as_of_date"]) if data["as_of_date"] else None
    values["failed_at"] = datetime.fromisoformat(data["failed_at"].rstrip("Z"))
    return RunAlert(**values)


def pending(quality_dir: Path) -> list[tuple[Path, RunAlert]]:
    """Every alert not yet in the warehouse, oldest failure first."""
    folder = pending_dir(quality_dir)
    found = [
        (p, _from_json(json.loads(p.read_text(encoding="utf-8"))))
        for p in sorted(folder.glob("*.json"))
        if not p.name.startswith(".")
    ]
    return sorted(found, key=lambda item: item[1].failed_at)


def update_pending(path: Path, alert: RunAlert, webhook_status: str) -> RunAlert:
    """Record the webhook outcome on a pending alert."""
    updated = replace(alert, webhook_status=webhook_status)
    spool(updated, path.parent.parent.parent)
    return updated


def write_alerts(con: duckdb.DuckDBPyConnection, alerts: Iterable[RunAlert]) -> int:
    """Insert or replace ``alerts`` in ``quality.run_alerts`` in one transaction."""
    rows = [{k: getattr(a, k) for k in COLUMNS} for a in alerts]
    if not rows:
        return 0
    con.execute(_DDL)
    frame = pd.DataFrame(rows, columns=COLUMNS)
    frame["as_of_date"] = pd.to_datetime(frame["as_of_date"]).dt.date
    con.register("_alerts", frame)
    try:
        with wh.transaction(con):
            con.execute(
                f"insert or replace into {ALERTS_TABLE} by name "
                "select *, (now() at time zone 'UTC') as recorded_at from _alerts"
            )
    finally:
        con.unregister("_alerts")
    return len(rows)


def flush(warehouse: Warehouse, quality_dir: Path, lock_timeout_s: float) -> tuple[int, int]:
    """Move pending alerts into the warehouse: (written, still pending). A warehouse held by a
    run for longer than ``lock_timeout_s`` leaves them pending (no error)."""
    waiting = pending(quality_dir)
    if not waiting:
        return 0, 0
    try:
        with warehouse.connect(lock_timeout_s=lock_timeout_s) as con:
            written = write_alerts(con, [alert for _, alert in waiting])
    except wh.WarehouseLockedError:
        return 0, len(waiting)
    for path, _ in waiting:
        path.unlink(missing_ok=True)
    return written, 0
