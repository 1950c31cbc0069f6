"""Turning the simulation's integer days (relative to as_of) into dates and timestamps."""

from __future__ import annotations

from datetime import date

import numpy as np

# Latest timestamp the landing files may carry: the export ran at the start of the as-of day.
LAST_SECOND = -1


def to_timestamp(as_of: date, day: np.ndarray, sec: np.ndarray | int = 0) -> np.ndarray:
    """``as_of + day days + sec seconds`` as datetime64[s], capped one second before as_of.

    The cap keeps every landing timestamp at or before the run date, whatever the caller adds.
    """
    offset = np.asarray(day, dtype=np.int64) * 86_400 + np.asarray(sec, dtype=np.int64)
    offset = np.minimum(offset, LAST_SECOND)
    return np.datetime64(as_of, "s") + offset.astype("timedelta64[s]")


def to_date(as_of: date, day: np.ndarray) -> np.ndarray:
    """``as_of + day days`` as datetime64[D]."""
    return np.datetime64(as_of, "D") + np.asarray(day, dtype=np.int64).astype("timedelta64[D]")
