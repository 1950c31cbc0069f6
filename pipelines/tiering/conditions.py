"""A small, safe condition language over the score columns, evaluated vectorised.

A condition is YAML data, never code:

- a leaf ``{score: p_alive, gte: 0.5}`` with exactly one operator out of
  ``eq ne in not_in gte gt lte lt between top_percent top_n``;
- a group ``{all: [...]}`` or ``{any: [...]}``.

``top_percent`` / ``top_n`` rank the score descending among paying accounts (rows with
``has_paid_order`` true when that column exists), ties broken by ``golden_account_id``
ascending so the result is deterministic.

Every condition can be evaluated with thresholds shifted by a margin: ``mode=+1`` is the
stricter reading (harder to pass), ``mode=-1`` the looser one. Hysteresis uses the pair.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

# Score columns of scores.account_scores that rules may reference, by kind.
NUMERIC_SCORES = frozenset(
    {
        "net_revenue_365d",
        "net_revenue_lifetime",
        "rfm_recency_days",
        "rfm_frequency",
        "rfm_monetary",
        "rfm_r",
        "rfm_f",
        "rfm_m",
        "rfm_score",
        "revenue_share_cum",
        "cluster_id",
        "behaviour_points",
        "fit_score",
        "conversion_probability",
        "expected_purchases_12m",
        "p_alive",
        "churn_risk",
        "clv_12m",
        "clv_percentile",
        "risk_score",
    }
)
CATEGORICAL_SCORES = frozenset(
    {
        "rfm_segment",
        "abc_class",
        "cluster_label",
        "conversion_source",
        "risk_level",
        "has_paid_order",
        "risk_stale",
    }
)
KNOWN_SCORES = NUMERIC_SCORES | CATEGORICAL_SCORES

# Plain-word labels for reasons (English, Chinese).
SCORE_LABELS: dict[str, tuple[str, str]] = {
    "net_revenue_365d": ("net revenue 12m", "近12个月净收入"),
    "net_revenue_lifetime": ("lifetime net revenue", "累计净收入"),
    "rfm_recency_days": ("days since last order", "距上次下单天数"),
    "rfm_frequency": ("order count", "下单次数"),
    "rfm_monetary": ("RFM monetary", "RFM金额"),
    "rfm_r": ("RFM R", "RFM近度分"),
    "rfm_f": ("RFM F", "RFM频度分"),
    "rfm_m": ("RFM M", "RFM额度分"),
    "rfm_score": ("RFM score", "RFM得分"),
    "rfm_segment": ("RFM segment", "RFM分群"),
    "abc_class": ("ABC class", "ABC等级"),
    "revenue_share_cum": ("cumulative revenue share", "累计收入占比"),
    "cluster_id": ("cluster", "聚类"),
    "cluster_label": ("cluster", "聚类"),
    "behaviour_points": ("behaviour points", "行为积分"),
    "fit_score": ("fit score", "匹配度得分"),
    "conversion_probability": ("conversion probability", "转化概率"),
    "conversion_source": ("conversion source", "转化来源"),
    "expected_purchases_12m": ("expected purchases 12m", "预计12个月购买次数"),
    "p_alive": ("P(alive)", "存活概率"),
    "churn_risk": ("churn risk", "流失风险"),
    "clv_12m": ("CLV 12m", "12个月客户终身价值"),
    "clv_percentile": ("CLV percentile", "CLV分位"),
    "risk_score": ("risk score", "风险分"),
    "risk_level": ("risk level", "风险等级"),
    "risk_stale": ("risk data stale", "风险数据过期"),
    "has_paid_order": ("has paid order", "有付费订单"),
}

CATEGORICAL_OPS = ("eq", "ne", "in", "not_in")
NUMERIC_OPS = ("gte", "gt", "lte", "lt", "between")
RANK_OPS = ("top_percent", "top_n")
ALL_OPS = CATEGORICAL_OPS + NUMERIC_OPS + RANK_OPS


class ConditionError(ValueError):
    """A condition is malformed; the message starts with the sub-path of the bad key."""


@dataclass(frozen=True)
class Leaf:
    score: str
    op: str
    value: Any  # scalar, tuple of values (in/not_in) or (lo, hi) (between)

    def leaves(self) -> Iterator[Leaf]:
        yield self


@dataclass(frozen=True)
class AllOf:
    items: tuple[Condition, ...]

    def leaves(self) -> Iterator[Leaf]:
        for item in self.items:
            yield from item.leaves()


@dataclass(frozen=True)
class AnyOf:
    items: tuple[Condition, ...]

    def leaves(self) -> Iterator[Leaf]:
        for item in self.items:
            yield from item.leaves()


Condition = Leaf | AllOf | AnyOf


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _fail(path: str, message: str) -> ConditionError:
    return ConditionError(f"{path}: {message}" if path else message)


def _number(value: Any, path: str, op: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _fail(_join(path, op), f"expected a number, got {value!r}")
    return float(value)


def parse_condition(raw: Any, path: str = "") -> Condition:
    """Parse YAML data into a condition tree, naming the bad key on error."""
    if not isinstance(raw, Mapping):
        raise _fail(path, f"a condition must be a mapping, got {type(raw).__name__}")
    keys = set(raw)
    groups = keys & {"all", "any"}
    if groups:
        if len(keys) != 1:
            raise _fail(path, f"a group takes exactly one key ('all' or 'any'), got {sorted(keys)}")
        key = groups.pop()
        items = raw[key]
        if not isinstance(items, list) or not items:
            raise _fail(_join(path, key), "expected a non-empty list of conditions")
        parsed = tuple(
            parse_condition(item, f"{_join(path, key)}[{i}]") for i, item in enumerate(items)
        )
        return AllOf(parsed) if key == "all" else AnyOf(parsed)

    if "score" not in keys:
        raise _fail(path, f"expected 'all', 'any' or 'score', got {sorted(map(str, keys))}")
    score = raw["score"]
    if score not in KNOWN_SCORES:
        raise _fail(path, f"unknown score {score!r}")
    unknown = keys - {"score"} - set(ALL_OPS)
    if unknown:
        bad = sorted(map(str, unknown))[0]
        raise _fail(_join(path, bad), f"unknown operator {bad!r} (use one of {', '.join(ALL_OPS)})")
    ops = [k for k in keys if k in ALL_OPS]
    if len(ops) != 1:
        raise _fail(path, f"a leaf takes exactly one operator, got {sorted(ops) or 'none'}")
    op = ops[0]
    value = raw[op]
    if op in NUMERIC_OPS + RANK_OPS and score not in NUMERIC_SCORES:
        raise _fail(_join(path, op), f"operator {op!r} needs a numeric score; {score!r} is not")
    if op in ("gte", "gt", "lte", "lt"):
        return Leaf(score, op, _number(value, path, op))
    if op == "between":
        if not isinstance(value, list) or len(value) != 2:
            raise _fail(_join(path, op), "expected [low, high]")
        lo, hi = (_number(v, path, op) for v in value)
        if lo > hi:
            raise _fail(_join(path, op), f"low {lo} is above high {hi}")
        return Leaf(score, op, (lo, hi))
    if op == "top_percent":
        pct = _number(value, path, op)
        if not 0 < pct <= 100:
            raise _fail(_join(path, op), f"expected a percent in (0, 100], got {value!r}")
        return Leaf(score, op, pct)
    if op == "top_n":
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise _fail(_join(path, op), f"expected a positive integer, got {value!r}")
        return Leaf(score, op, int(value))
    if op in ("in", "not_in"):
        if not isinstance(value, list) or not value:
            raise _fail(_join(path, op), "expected a non-empty list")
        return Leaf(score, op, tuple(value))
    if isinstance(value, list | dict):
        raise _fail(_join(path, op), f"expected a single value, got {value!r}")
    return Leaf(score, op, value)


# ---------------------------------------------------------------------------------------
# Evaluation


def _shift(value: float, delta: float) -> float:
    # Rounded so that e.g. 0.5 + 0.05 compares as 0.55, not 0.5500000000000001.
    return round(value + delta, 10)


def shifted_leaf(leaf: Leaf, mode: int, margins: Mapping[str, float], rank_margin: float) -> Leaf:
    """The leaf with thresholds moved by the margin: mode +1 stricter, -1 looser, 0 as is."""
    if mode == 0:
        return leaf
    if leaf.op in NUMERIC_OPS:
        m = float(margins.get(leaf.score, 0.0)) * mode
        if m == 0:
            return leaf
        if leaf.op in ("gte", "gt"):
            return Leaf(leaf.score, leaf.op, _shift(leaf.value, m))
        if leaf.op in ("lte", "lt"):
            return Leaf(leaf.score, leaf.op, _shift(leaf.value, -m))
        lo, hi = leaf.value
        return Leaf(leaf.score, leaf.op, (_shift(lo, m), _shift(hi, -m)))
    if leaf.op in RANK_OPS and rank_margin:
        factor = 1.0 - mode * rank_margin
        if leaf.op == "top_percent":
            return Leaf(leaf.score, leaf.op, min(100.0, max(1e-9, leaf.value * factor)))
        return Leaf(leaf.score, leaf.op, max(1, int(round(leaf.value * factor))))
    return leaf


class Evaluator:
    """Evaluates conditions over one score frame, caching columns, ranks and leaf masks."""

    def __init__(
        self,
        frame: pd.DataFrame,
        margins: Mapping[str, float] | None = None,
        rank_margin: float = 0.0,
    ) -> None:
        self.frame = frame
        self.n = len(frame)
        self.margins = dict(margins or {})
        self.rank_margin = rank_margin
        self._numeric: dict[str, np.ndarray] = {}
        self._ranks: dict[str, tuple[np.ndarray, int]] = {}
        self._masks: dict[Leaf, np.ndarray] = {}
        if "has_paid_order" in frame.columns:
            self.paying = frame["has_paid_order"].astype("boolean").fillna(False).to_numpy(bool)
        else:
            self.paying = np.ones(self.n, dtype=bool)

    def numeric(self, score: str) -> np.ndarray:
        if score not in self._numeric:
            self._numeric[score] = pd.to_numeric(self.frame[score], errors="coerce").to_numpy(
                dtype=float, na_value=np.nan
            )
        return self._numeric[score]

    def rank(self, score: str) -> tuple[np.ndarray, int]:
        """1-based descending rank among the ranked population (inf outside it), and its size."""
        if score not in self._ranks:
            values = self.numeric(score)
            population = self.paying & ~np.isnan(values)
            idx = np.flatnonzero(population)
            ids = self.frame["golden_account_id"].to_numpy(dtype=object)[idx].astype(str)
            order = np.lexsort((ids, -values[idx]))
            ranks = np.full(self.n, np.inf)
            ranks[idx[order]] = np.arange(1, len(idx) + 1)
            self._ranks[score] = (ranks, len(idx))
        return self._ranks[score]

    def rank_cutoff(self, leaf: Leaf) -> int:
        _, size = self.rank(leaf.score)
        if leaf.op == "top_n":
            return int(leaf.value)
        return math.ceil(size * leaf.value / 100.0 - 1e-9)

    def leaf_mask(self, leaf: Leaf) -> np.ndarray:
        if leaf in self._masks:
            return self._masks[leaf]
        op, v = leaf.op, leaf.value
        if op in NUMERIC_OPS:
            x = self.numeric(leaf.score)
            with np.errstate(invalid="ignore"):
                if op == "gte":
                    mask = x >= v
                elif op == "gt":
                    mask = x > v
                elif op == "lte":
                    mask = x <= v
                elif op == "lt":
                    mask = x < v
                else:
                    mask = (x >= v[0]) & (x <= v[1])
        elif op in RANK_OPS:
            ranks, _ = self.rank(leaf.score)
            mask = ranks <= self.rank_cutoff(leaf)
        else:
            col = self.frame[leaf.score]
            present = col.notna().to_numpy(bool)
            if op in ("eq", "ne"):
                hit = col.isin([v]).to_numpy(bool)
            else:
                hit = col.isin(list(v)).to_numpy(bool)
            mask = hit if op in ("eq", "in") else present & ~hit
        self._masks[leaf] = np.asarray(mask, dtype=bool)
        return self._masks[leaf]

    def mask(self, cond: Condition, mode: int = 0) -> np.ndarray:
        """Boolean array: rows where the condition holds (thresholds shifted by ``mode``)."""
        if isinstance(cond, Leaf):
            return self.leaf_mask(shifted_leaf(cond, mode, self.margins, self.rank_margin))
        parts = [self.mask(item, mode) for item in cond.items]
        return (
            np.logical_and.reduce(parts) if isinstance(cond, AllOf) else np.logical_or.reduce(parts)
        )


# ---------------------------------------------------------------------------------------
# Plain-word descriptions


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


def satisfied_leaves(cond: Condition, evaluator: Evaluator) -> list[tuple[Leaf, np.ndarray]]:
    """Each leaf with the rows where it is part of a path that makes ``cond`` hold.

    For ``all`` every leaf counts where the group holds; for ``any`` only the items that hold.
    Used to explain a rule with the conditions that actually granted it.
    """
    out: list[tuple[Leaf, np.ndarray]] = []

    def walk(node: Condition, within: np.ndarray) -> None:
        if isinstance(node, Leaf):
            out.append((node, within & evaluator.leaf_mask(node)))
        elif isinstance(node, AllOf):
            held = within & evaluator.mask(node)
            for item in node.items:
                walk(item, held)
        else:
            for item in node.items:
                walk(item, within & evaluator.mask(item))

    walk(cond, np.ones(evaluator.n, dtype=bool))
    return out
