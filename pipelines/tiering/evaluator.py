"""Evaluating conditions over a score frame, vectorised, with thresholds shifted for
hysteresis (``mode`` +1 stricter, -1 looser)."""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np
import pandas as pd

from pipelines.tiering.conditions import NUMERIC_OPS, RANK_OPS, AllOf, Condition, Leaf


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
