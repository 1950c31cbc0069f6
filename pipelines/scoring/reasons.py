"""Vectorised helpers for building the plain-words reason columns, and the one way a score
says it has no inputs ("no data": null score, never 0)."""

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


NO_DATA_EN = "no data"
NO_DATA_ZH = "无数据"


def mark_no_data(
    out: pd.DataFrame,
    missing: np.ndarray,
    score_columns: Sequence[str],
    reason_columns: tuple[str, str],
    what_en: str,
    what_zh: str,
) -> pd.DataFrame:
    """Rows of ``out`` where ``missing`` holds get null ``score_columns`` and the reason
    "no data: <what>" (English and Chinese reason columns): a score without inputs is
    unknown, and a tier rule over it is not met (null never passes a condition)."""
    missing = np.asarray(missing, dtype=bool)
    if not missing.any():
        return out
    for column in score_columns:
        out[column] = out[column].astype(float).where(~missing)
    en, zh = reason_columns
    out.loc[missing, en] = f"{NO_DATA_EN}: {what_en}"
    out.loc[missing, zh] = f"{NO_DATA_ZH}：{what_zh}"
    return out
