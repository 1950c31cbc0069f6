"""The next day's delivery for the daily-run benchmark: about 1% new orders and activities.

A day in the life of the generator's world: orders and activities are what grows every day,
so the day's files hold new orders and new activities of existing accounts, as many as
``fraction`` of what is already there, dated on the new day, in the formats the world's
exports use (Parquet). Rows are copies of existing ones picked by a hash of their id (so the
same world gives the same day, byte for byte), with new ids, the new day's dates, and amounts
and types drawn from the real distribution.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

from pipelines import warehouse as wh


def _files(landing: Path, entity: str) -> list[str]:
    return sorted(str(p) for p in (landing / entity).glob("*.parquet"))


def write_increment(landing: Path, day: date, fraction: float = 0.01) -> dict[str, int]:
    """Write ``orders/orders_<day>.parquet`` and ``crm_activities/crm_activities_<day>.parquet``
    under ``landing``; returns the rows written per entity."""
    per_mille = max(1, round(fraction * 1000))
    stamp = day.isoformat()
    written = {}
    with wh.connection(":memory:") as con:
        queries = {
            "orders": f"""
                select * replace (
                    'D{day:%Y%m%d}-' || order_id as order_id,
                    date '{stamp}' as order_date,
                    timestamp '{stamp} 18:00:00' as updated_at)
                from read_parquet($files)
                where hash(order_id) % 1000 < {per_mille}
                order by order_id""",
            "crm_activities": f"""
                select * replace (
                    'D{day:%Y%m%d}-' || activity_id as activity_id,
                    timestamp '{stamp} 10:00:00'
                        + to_seconds(hash(activity_id) % 28800) as occurred_at,
                    timestamp '{stamp} 19:00:00' as updated_at)
                from read_parquet($files)
                where hash(activity_id) % 1000 < {per_mille}
                order by activity_id""",
        }
        for entity, sql in queries.items():
            files = _files(landing, entity)
            if not files:
                continue
            target = landing / entity / f"{entity}_{stamp}.parquet"
            con.execute(
                f"copy ({sql}) to '{target}' (format parquet, compression zstd)",
                {"files": files},
            )
            rows = con.execute("select count(*) from read_parquet(?)", [str(target)]).fetchall()
            written[entity] = rows[0][0]
    return written
