"""Vectorised helpers for building the plain-words reason columns."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd


def join_parts(parts: Sequence[pd.Series], sep: str = ", ") -> pd.Series:
    """Join string Series element-wise, skipping empty/null parts (no per-row Python loop)."""
    if not parts:
        return pd.Series(dtype=object)
    out = parts[0].fillna("").astype(str)
    for part in parts[1:]:
        p = part.fillna("").astype(str)
        glue = np.where((out != "") & (p != ""), sep, "")
        out = out + glue + p
    return out


def top_k_labels(
    values: np.ndarray,
    labels: Sequence[str],
    k: int,
    fmt: str = "{:+.1f}",
    min_abs: float = 1e-9,
    index: pd.Index | None = None,
    sep: str = ", ",
) -> pd.Series:
    """For each row of ``values`` (rows x factors), "label +x" for the k largest |values|."""
    values = np.asarray(values, dtype=float)
    n = values.shape[0]
    idx = pd.RangeIndex(n) if index is None else index
    if n == 0:
        return pd.Series([], index=idx, dtype=object)
    order = np.argsort(-np.abs(values), axis=1)[:, :k]
    names = np.asarray(labels, dtype=object)
    parts = []
    for j in range(order.shape[1]):
        col = order[:, j]
        v = values[np.arange(n), col]
        txt = (
            pd.Series(names[col], index=idx).astype(str)
            + " "
            + pd.Series(v, index=idx).map(fmt.format)
        )
        parts.append(txt.where(np.abs(v) >= min_abs, ""))
    return join_parts(parts, sep)
