"""Landing deliveries cut from a generated history: what was known by a date, and the rest.

Used where a test needs the same world delivered in parts (point-in-time reproduction, the
reliability template): each part is written as CSV in the landing contract's formats.
"""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import pandas as pd

# The column that dates each row in business time, per entity.
DATED_BY = {
    "crm_accounts": "updated_at",
    "crm_contacts": "updated_at",
    "crm_leads": "updated_at",
    "crm_activities": "updated_at",
    "orders": "updated_at",
    "risk": "as_of_date",
    "surveys": "survey_date",
}
DATE_COLUMNS = {"order_date", "as_of_date", "survey_date"}
MONEY_COLUMNS = {"amount_cny", "refund_amount_cny", "overdue_amount_cny", "annual_revenue_cny"}


def as_text(frame: pd.DataFrame) -> pd.DataFrame:
    """A frame as an export would write it (the landing contract's formats)."""
    out = pd.DataFrame(index=frame.index)
    for col in frame.columns:
        values = frame[col]
        if col in DATE_COLUMNS:
            out[col] = values.dt.strftime("%Y-%m-%d")
        elif pd.api.types.is_datetime64_any_dtype(values):
            out[col] = values.dt.strftime("%Y-%m-%d %H:%M:%S")
        elif col in MONEY_COLUMNS:
            out[col] = values.map(lambda v: "" if pd.isna(v) else f"{v:.2f}")
        elif pd.api.types.is_bool_dtype(values):
            out[col] = values.map({True: "true", False: "false"})
        else:
            out[col] = values.astype("string")
    return out


def deliver(landing: Path, frames: dict[str, pd.DataFrame], part: str) -> None:
    """Write each non-empty frame as ``landing/<entity>/<entity>_<part>.csv``."""
    for entity, frame in frames.items():
        if frame.empty:
            continue
        folder = landing / entity
        folder.mkdir(parents=True, exist_ok=True)
        as_text(frame).to_csv(folder / f"{entity}_{part}.csv", index=False)


def split_by_date(
    frames: dict[str, pd.DataFrame], day: date
) -> tuple[dict[str, pd.DataFrame], dict[str, pd.DataFrame]]:
    """Rows dated by the end of ``day``, and the rest (delivered later)."""
    end = pd.Timestamp(day + timedelta(days=1))
    by_day, after = {}, {}
    for entity, frame in frames.items():
        known = frame[DATED_BY[entity]] < end
        by_day[entity], after[entity] = frame[known], frame[~known]
    return by_day, after
