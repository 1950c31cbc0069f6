"""How much the book moved since the previous snapshot, and whether that is believable.

Plain functions (no Dagster). A run's accounts, orders and net revenue over the last 365 days
(from ``marts.customer_360``) and its tier sizes (from ``tiers.customer_tier``) are compared
with the previous in-force snapshot — the latest as-of date before the run's, the same
predecessor the tier step compares with — against the bounds of ``config/quality.yaml``
(``volume``). Each published snapshot records these figures in ``volumes.json`` beside its
Parquet file (written by the publish step with :func:`run_volumes`); for a snapshot published
before that file existed, accounts, revenue and tier sizes are read from its Parquet file.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

import duckdb

from pipelines import warehouse as wh
from pipelines.history import SnapshotInfo
from pipelines.metadata import markdown_table
from pipelines.quality.config import ChangeBound, VolumeBounds

VOLUMES_FILE = "volumes.json"
PROFILE_METRICS = ("accounts", "orders_365d", "net_revenue_365d")


@dataclass(frozen=True)
class Change:
    """One metric: previous and current value, relative change and the bound's verdict."""

    metric: str
    previous: float | None
    current: float
    bound: ChangeBound
    judged: bool  # False: no previous value, or both values under the bound's min_base

    @property
    def change(self) -> float | None:
        if self.previous is None:
            return None
        if self.previous == 0:
            return 0.0 if self.current == 0 else math.inf
        return (self.current - self.previous) / self.previous

    @property
    def ok(self) -> bool:
        change = self.change
        if not self.judged or change is None:
            return True
        return -self.bound.max_drop <= change <= self.bound.max_rise

    def describe(self, previous_id: str) -> str:
        """``accounts 30 vs 300 in snapshot X (-90.0%, more than the 20.0% drop allowed)``."""
        change = self.change
        shown = "new" if change == math.inf else f"{change:+.1%}"
        text = f"{self.metric} {_num(self.current)} vs {_num(self.previous)} in snapshot {previous_id} ({shown}"
        if self.ok:
            return text + ")"
        if change is not None and change < 0:
            return text + f", more than the {self.bound.max_drop:.0%} drop allowed)"
        return text + f", more than the {self.bound.max_rise:.0%} rise allowed)"


def _num(value: float | None) -> str:
    if value is None:
        return "n/a"
    return f"{value:,.0f}" if abs(value) >= 100 or float(value).is_integer() else f"{value:,.2f}"


def profile_volumes(con: duckdb.DuckDBPyConnection) -> dict[str, float]:
    """Accounts, orders and net revenue (last 365 days) of this run's ``marts.customer_360``."""
    accounts, orders, revenue = con.execute(
        "select count(*), coalesce(sum(orders_365d), 0), coalesce(sum(net_revenue_365d), 0) "
        "from marts.customer_360"
    ).fetchone()
    return {"accounts": accounts, "orders_365d": float(orders), "net_revenue_365d": float(revenue)}


def tier_volumes(con: duckdb.DuckDBPyConnection) -> dict[str, int]:
    """Accounts per tier of this run's ``tiers.customer_tier``."""
    return dict(con.execute("select tier, count(*) from tiers.customer_tier group by 1").fetchall())


def run_volumes(con: duckdb.DuckDBPyConnection) -> dict:
    """What a snapshot records in ``volumes.json``: the profile metrics (those the run's
    ``marts.customer_360`` has columns for) and the tier sizes."""
    columns = set(wh.table_columns(con, "marts.customer_360"))
    profile = profile_volumes(con) if {"orders_365d", "net_revenue_365d"} <= columns else {}
    return {**profile, "tiers": tier_volumes(con)}


def snapshot_volumes(con: duckdb.DuckDBPyConnection, serving_dir: Path, info: SnapshotInfo) -> dict:
    """The figures of a published snapshot (``volumes.json``, else read from its Parquet file:
    orders are then unknown)."""
    folder = (serving_dir / info.parquet_path).parent
    recorded = folder / VOLUMES_FILE
    if recorded.exists():
        return json.loads(recorded.read_text())
    path = (serving_dir / info.parquet_path).as_posix()
    revenue = con.execute(
        "select coalesce(sum(net_revenue_365d), 0) from read_parquet(?)", [path]
    ).fetchone()[0]
    tiers = dict(
        con.execute("select tier, count(*) from read_parquet(?) group by 1", [path]).fetchall()
    )
    return {"accounts": info.row_count, "net_revenue_365d": float(revenue), "tiers": tiers}


def compare(
    previous: dict[str, float], current: dict[str, float], bounds: dict[str, ChangeBound]
) -> list[Change]:
    """One :class:`Change` per metric of ``current`` (``bounds`` by metric name)."""
    changes = []
    for metric, value in current.items():
        bound = bounds[metric]
        before = previous.get(metric)
        judged = before is not None and max(before, value) >= bound.min_base
        changes.append(Change(metric, before, value, bound, judged))
    return changes


def profile_changes(previous: dict, current: dict, bounds: VolumeBounds) -> list[Change]:
    by_metric = {m: getattr(bounds, m) for m in PROFILE_METRICS}
    return compare(previous, {m: current[m] for m in PROFILE_METRICS}, by_metric)


def tier_changes(previous: dict, current: dict[str, int], bounds: VolumeBounds) -> list[Change]:
    """Tier sizes (``tier A``, ...) over every tier in either snapshot."""
    before = {f"tier {t}": float(n) for t, n in (previous.get("tiers") or {}).items()}
    now = {
        f"tier {t}": float(current.get(t, 0))
        for t in sorted(set(current) | set(previous.get("tiers") or {}))
    }
    before = {k: before.get(k, 0.0) for k in now}
    return compare(before, now, dict.fromkeys(now, bounds.tier_size))


def changes_markdown(changes: list[Change]) -> str:
    rows = []
    for c in changes:
        change = c.change
        shown = "" if change is None else ("new" if change == math.inf else f"{change:+.1%}")
        allowed = f"-{c.bound.max_drop:.0%} to +{c.bound.max_rise:.0%}"
        verdict = "ok" if c.ok else "OUT OF BOUNDS"
        if not c.judged:
            verdict = (
                "not judged (no previous value)"
                if c.previous is None
                else f"not judged (< {c.bound.min_base:g})"
            )
        rows.append((c.metric, _num(c.previous), _num(c.current), shown, allowed, verdict))
    return markdown_table(
        rows,
        ["metric", "previous", "current", "change", "allowed", "verdict"],
        right_align={"previous", "current", "change"},
    )
