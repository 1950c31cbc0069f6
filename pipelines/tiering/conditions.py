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

This module is the language (parsing, the leaves a rule reads); evaluation over a score frame
is in ``evaluator.py``, the plain-word descriptions in ``condition_text.py``.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from pipelines.contracts import policy_scores

# Score columns of scores.account_scores that rules may reference, by kind, and their words:
# from the account_scores contract (dbt_project/models/scores/_scores__models.yml, meta
# tier_policy / label_en / label_zh), the one place that interface is written.
NUMERIC_SCORES, CATEGORICAL_SCORES, SCORE_LABELS = policy_scores()
KNOWN_SCORES = NUMERIC_SCORES | CATEGORICAL_SCORES

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
