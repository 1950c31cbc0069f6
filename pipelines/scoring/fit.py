"""Fit score: how closely an account matches the ideal customer profile, 0-100.

Every rule's points are kept as a column ``fit_<rule>_points`` and they sum exactly to
``fit_score``; the reason text lists the rules that gave the most and the attributes that were
missing. An account with none of the attributes the rules read has no fit score (null, reason
"no data"), not 0: nothing is known about it.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from pydantic import Field, model_validator

from pipelines.config.loader import StrictModel
from pipelines.scoring.reasons import join_parts, mark_no_data


class Band(StrictModel):
    min: float
    score: float = Field(ge=0, le=1)


class FitRule(StrictModel):
    column: str
    weight: float = Field(gt=0)
    label: str
    label_zh: str = ""
    scores: dict[str, float] | None = None
    bands: list[Band] | None = None
    default: float = Field(0.0, ge=0, le=1)
    missing: float = Field(0.0, ge=0, le=1)

    @model_validator(mode="after")
    def _one_kind(self) -> FitRule:
        if (self.scores is None) == (self.bands is None):
            raise ValueError("give exactly one of 'scores' (categorical) or 'bands' (numeric)")
        if self.scores is not None and any(not 0 <= v <= 1 for v in self.scores.values()):
            raise ValueError("'scores' values must be within [0, 1]")
        if self.bands is not None and [b.min for b in self.bands] != sorted(
            b.min for b in self.bands
        ):
            raise ValueError("'bands' must be in ascending 'min' order")
        return self


class FitConfig(StrictModel):
    version: str
    rules: dict[str, FitRule] = Field(min_length=1)
    top_reasons: int = Field(3, ge=1)


def rule_match(values: pd.Series, rule: FitRule) -> pd.Series:
    """Match in [0, 1] of one attribute against one rule."""
    if rule.scores is not None:
        lookup = {str(k).strip().lower(): v for k, v in rule.scores.items()}
        key = values.astype("string").str.strip().str.lower()
        match = key.map(lookup).astype(float).fillna(rule.default)
        return match.where(key.notna(), rule.missing).astype(float)
    num = pd.to_numeric(values, errors="coerce").astype(float)
    mins = np.array([b.min for b in rule.bands], dtype=float)
    scores = np.array([b.score for b in rule.bands], dtype=float)
    pos = np.searchsorted(mins, num.fillna(-np.inf).to_numpy(), side="right") - 1
    out = np.where(pos >= 0, scores[np.clip(pos, 0, None)], 0.0)
    return pd.Series(np.where(num.isna(), rule.missing, out), index=values.index)


def feature_columns(cfg: FitConfig) -> list[str]:
    """The feature columns the rules read (features.account_features)."""
    return ["golden_account_id", *sorted({r.column for r in cfg.rules.values()})]


def score_fit(accounts: pd.DataFrame, cfg: FitConfig) -> pd.DataFrame:
    """Per-account ``fit_<rule>_points``, ``fit_score`` (their sum, 0-100) and reasons."""
    total_weight = sum(r.weight for r in cfg.rules.values())
    out = pd.DataFrame(
        {"golden_account_id": accounts["golden_account_id"].to_numpy()}, index=accounts.index
    )
    points = {}
    for name, rule in cfg.rules.items():
        if rule.column not in accounts:
            raise KeyError(
                f"fit rule '{name}': column '{rule.column}' is not a column of "
                "features.account_features"
            )
        max_points = 100.0 * rule.weight / total_weight
        points[name] = rule_match(accounts[rule.column], rule) * max_points
        out[f"fit_{name}_points"] = points[name]
    pts = pd.DataFrame(points)
    out["fit_score"] = pts.sum(axis=1)
    en, zh = _reasons(accounts, pts, cfg, out.index)
    score = out["fit_score"].round(0).astype(int).astype(str)
    out["fit_reason"] = "ICP fit " + score + ": " + en
    out["fit_reason_zh"] = "画像匹配度" + score + "：" + zh
    columns = sorted({r.column for r in cfg.rules.values()})
    unknown = accounts[columns].isna().all(axis=1).to_numpy()
    return mark_no_data(
        out,
        unknown,
        [c for c in out.columns if c.endswith("_points") or c == "fit_score"],
        ("fit_reason", "fit_reason_zh"),
        "none of " + ", ".join(r.label for r in cfg.rules.values()) + " known",
        "、".join(r.label_zh or r.label for r in cfg.rules.values()) + "均未知",
    )


def _reasons(
    accounts: pd.DataFrame, pts: pd.DataFrame, cfg: FitConfig, index: pd.Index
) -> tuple[pd.Series, pd.Series]:
    """Strongest rules first, as "industry 30/30"; then the attributes that are missing."""
    total_weight = sum(r.weight for r in cfg.rules.values())
    names = list(cfg.rules)
    maxes = np.array([100.0 * cfg.rules[n].weight / total_weight for n in names])
    vals = pts.to_numpy()
    order = np.argsort(-vals, axis=1)[:, : cfg.top_reasons]
    rows = np.arange(len(vals))
    labels_en = np.array([cfg.rules[n].label for n in names])
    labels_zh = np.array([cfg.rules[n].label_zh or n for n in names])
    en_parts, zh_parts = [], []
    for j in range(order.shape[1]):
        col = order[:, j]
        frac = (
            pd.Series(vals[rows, col], index=index).round(0).astype(int).astype(str)
            + "/"
            + pd.Series(maxes[col], index=index).round(0).astype(int).astype(str)
        )
        en_parts.append(pd.Series(labels_en[col], index=index) + " " + frac)
        zh_parts.append(pd.Series(labels_zh[col], index=index) + " " + frac)
    for r in cfg.rules.values():
        missing = accounts[r.column].isna().to_numpy()
        en_parts.append(pd.Series(np.where(missing, f"{r.label} unknown", ""), index=index))
        zh_parts.append(
            pd.Series(np.where(missing, f"{r.label_zh or r.label}未知", ""), index=index)
        )
    return join_parts(en_parts, "; "), join_parts(zh_parts, "；")
