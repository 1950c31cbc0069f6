"""Conditions in plain words (English and Chinese), with each account's own values:
why a rule granted a tier, what a demoted account lacks."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from pipelines.tiering.conditions import NUMERIC_SCORES, RANK_OPS, SCORE_LABELS, Leaf
from pipelines.tiering.evaluator import Evaluator


def _fmt_scalar(value: Any) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, int | float):
        if abs(value) >= 1000:
            return f"{value:,.0f}"
        return f"{value:.0f}" if float(value).is_integer() else f"{value:.2f}"
    return str(value)


def _fmt_array(x: np.ndarray, integral: bool) -> np.ndarray:
    """Vectorised number formatting: integers plain, large values rounded, else 2 decimals."""
    clean = np.nan_to_num(x)
    whole = np.char.mod("%.0f", np.round(clean))
    if integral:
        out = whole.astype(object)
    else:
        out = np.where(np.abs(clean) >= 1000, whole, np.char.mod("%.2f", clean)).astype(object)
    out[np.isnan(x)] = "n/a"
    return out


def _label(score: str, lang: str) -> str:
    en, zh = SCORE_LABELS.get(score, (score, score))
    return en if lang == "en" else zh


def requirement_text(leaf: Leaf, lang: str, evaluator: Evaluator | None = None) -> str:
    """The requirement itself, e.g. '≥ 0.50' / '≥0.50' or 'in top 5% (rank ≤ 12)'."""
    op, v = leaf.op, leaf.value
    sp = " " if lang == "en" else ""
    symbols = {"gte": "≥", "gt": ">", "lte": "≤", "lt": "<", "eq": "=", "ne": "≠"}
    if op in symbols:
        return f"{symbols[op]}{sp}{_fmt_scalar(v)}"
    if op == "between":
        lo, hi = (_fmt_scalar(x) for x in v)
        return f"between {lo} and {hi}" if lang == "en" else f"介于{lo}与{hi}之间"
    if op in ("in", "not_in"):
        listed = "[" + ", ".join(map(_fmt_scalar, v)) + "]"
        if op == "in":
            return f"in {listed}" if lang == "en" else f"属于{listed}"
        return f"not in {listed}" if lang == "en" else f"不属于{listed}"
    cutoff = evaluator.rank_cutoff(leaf) if evaluator is not None else None
    if op == "top_percent":
        pct = f"{v:g}%"
        if lang == "en":
            return f"in top {pct}" + (f" (rank ≤ {cutoff})" if cutoff is not None else "")
        return f"位列前{pct}" + (f"（排名≤{cutoff}）" if cutoff is not None else "")
    return f"in top {v}" if lang == "en" else f"位列前{v}名"


def value_text(leaf: Leaf, pos: np.ndarray, evaluator: Evaluator, lang: str = "en") -> np.ndarray:
    """The account's value behind a condition, formatted, for rows at positions ``pos``."""
    if leaf.op in RANK_OPS:
        ranks, _ = evaluator.rank(leaf.score)
        r = ranks[pos]
        fmt, unranked = ("rank %d", "unranked") if lang == "en" else ("排名%d", "未排名")
        text = np.char.mod(fmt, np.nan_to_num(r, posinf=0)).astype(object)
        text[np.isinf(r)] = unranked
        return text
    col = evaluator.frame[leaf.score]
    if leaf.score in NUMERIC_SCORES:
        integral = col.dtype.kind in "iu" or str(col.dtype).startswith(("Int", "UInt", "int"))
        return _fmt_array(evaluator.numeric(leaf.score)[pos], integral)
    codes, uniques = pd.factorize(col.to_numpy(dtype=object)[pos], use_na_sentinel=True)
    labels = np.array([_fmt_scalar(v) for v in uniques] + ["n/a"], dtype=object)
    return labels[codes]  # the sentinel -1 picks "n/a"


def leaf_text(leaf: Leaf, pos: np.ndarray, evaluator: Evaluator, lang: str) -> np.ndarray:
    """Text of a condition that holds, with the account's value, for rows at ``pos``:
    'ABC class A', 'P(alive) 0.82 ≥ 0.50' / 'ABC等级A', '存活概率0.82≥0.50'."""
    label = _label(leaf.score, lang)
    values = value_text(leaf, pos, evaluator, lang)
    sp = " " if lang == "en" else ""
    if leaf.op == "eq" or (leaf.op == "in" and len(leaf.value) == 1):
        return (label + sp) + values
    return (label + sp) + values + (sp + requirement_text(leaf, lang, evaluator))


def shortfall_text(leaf: Leaf, pos: np.ndarray, evaluator: Evaluator, lang: str) -> np.ndarray:
    """Text of a condition that fails, current vs required, for rows at ``pos``:
    'P(alive) 0.31, needs ≥ 0.50' / '存活概率0.31，需≥0.50'."""
    label = _label(leaf.score, lang)
    values = value_text(leaf, pos, evaluator, lang)
    need = requirement_text(leaf, lang, evaluator)
    if lang == "en":
        return (label + " ") + values + (", needs " + need)
    return label + values + ("，需" + need)


def join_texts(parts: list[np.ndarray], sep: str) -> np.ndarray:
    """Row-wise join of equally long text arrays, skipping empty pieces."""
    if not parts:
        return np.array([], dtype=object)
    out = np.asarray(parts[0], dtype=object).copy()
    for part in parts[1:]:
        part = np.asarray(part, dtype=object)
        has_out, has_part = out != "", part != ""
        joined = np.where(has_out & has_part, out + sep + part, out)
        out = np.where(~has_out & has_part, part, joined)
    return out
