"""RFM: recency, frequency and monetary value per account, binned to 1-5 and mapped to segments.

The values are features (``features.account_features``: ``rfm_recency_days``,
``rfm_frequency``, ``rfm_monetary``, computed in dbt over the ``lookback_days`` of this config,
refunds and cancellations netted). This module scores them: accounts without a paid order in
the look-back get null R/F/M and the ``no_purchase_segment``.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import pandas as pd
from pydantic import Field, model_validator

from pipelines.config.loader import StrictModel


class DimensionRule(StrictModel):
    method: Literal["quantile", "thresholds"]
    bins: Literal[3, 4, 5] | None = None
    thresholds: list[float] | None = None

    @model_validator(mode="after")
    def _check(self) -> DimensionRule:
        if self.method == "quantile" and self.bins is None:
            raise ValueError("method 'quantile' needs 'bins' (3, 4 or 5)")
        if self.method == "thresholds":
            t = self.thresholds or []
            if not 2 <= len(t) <= 4 or sorted(t) != t or len(set(t)) != len(t):
                raise ValueError("'thresholds' needs 2-4 strictly ascending cut points")
        return self

    @property
    def n_scores(self) -> int:
        return self.bins if self.method == "quantile" else len(self.thresholds or []) + 1


class Weights(StrictModel):
    r: float = Field(ge=0)
    f: float = Field(ge=0)
    m: float = Field(ge=0)


class SegmentRule(StrictModel):
    name: str
    zh: str = ""
    r: tuple[int, int]
    f: tuple[int, int]


class RfmConfig(StrictModel):
    version: str
    lookback_days: int = Field(gt=0)
    weights: Weights
    recency: DimensionRule
    frequency: DimensionRule
    monetary: DimensionRule
    segments: list[SegmentRule] = Field(min_length=1)
    no_purchase_segment: str = "No purchase"

    @model_validator(mode="after")
    def _weights_positive(self) -> RfmConfig:
        if self.weights.r + self.weights.f + self.weights.m <= 0:
            raise ValueError("weights must not all be zero")
        return self


# The feature columns RFM reads (features.account_features, where the values are computed).
FEATURE_COLUMNS = ["golden_account_id", "rfm_recency_days", "rfm_frequency", "rfm_monetary"]


def bin_dimension(values: pd.Series, rule: DimensionRule, higher_is_better: bool) -> pd.Series:
    """Score a dimension 1..n (n = best); nulls stay null.

    Quantile bins use the percentile rank (ties averaged), so equal values always share a bin
    and heavy ties can never make bin edges collide.
    """
    s = pd.to_numeric(values, errors="coerce").astype(float)
    out = pd.Series(np.nan, index=s.index)
    present = s.notna()
    if not present.any():
        return out
    v = s[present]
    if rule.method == "quantile":
        n = rule.bins
        pct = v.rank(method="average", pct=True)
        if not higher_is_better:
            pct = 1.0 - pct + 1.0 / len(v)
        score = np.clip(np.ceil(pct * n), 1, n)
    else:
        t = np.asarray(rule.thresholds, dtype=float)
        n = len(t) + 1
        if higher_is_better:
            score = 1 + np.searchsorted(t, v.to_numpy(), side="right")
        else:
            score = n - np.searchsorted(t, v.to_numpy(), side="left")
    out[present] = np.asarray(score, dtype=float)
    return out


def to_five_scale(score: pd.Series, n_scores: int) -> pd.Series:
    """Rescale a 1..n score to the 1..5 scale the segment grid uses."""
    if n_scores == 5:
        return score
    return (1 + (score - 1) * 4 / (n_scores - 1)).round()


def assign_segments(r5: pd.Series, f5: pd.Series, cfg: RfmConfig) -> tuple[pd.Series, pd.Series]:
    """Map (R, F) on the 1-5 scale to segment names (English, Chinese); first rule wins."""
    conds = [r5.between(s.r[0], s.r[1]) & f5.between(s.f[0], s.f[1]) for s in cfg.segments]
    en = np.select(conds, [s.name for s in cfg.segments], default="Other")
    zh = np.select(conds, [s.zh or s.name for s in cfg.segments], default="其他")
    missing = r5.isna() | f5.isna()
    en = pd.Series(en, index=r5.index).where(~missing, cfg.no_purchase_segment)
    zh = pd.Series(zh, index=r5.index).where(~missing, "未购买")
    return en, zh


def rfm_values(features: pd.DataFrame) -> pd.DataFrame:
    """Recency, frequency and monetary value per account; all null without a paid order."""
    df = features[FEATURE_COLUMNS].copy()
    none = pd.to_numeric(df["rfm_frequency"], errors="coerce").fillna(0) == 0
    for column in ("rfm_recency_days", "rfm_frequency", "rfm_monetary"):
        df[column] = pd.to_numeric(df[column], errors="coerce").astype(float).where(~none)
    return df


def score_rfm(features: pd.DataFrame, cfg: RfmConfig) -> pd.DataFrame:
    """Per account: the RFM values, rfm_r/f/m (1..n), rfm_score (weighted, 1-5), rfm_segment
    and reasons."""
    df = rfm_values(features)
    df["rfm_r"] = bin_dimension(df["rfm_recency_days"], cfg.recency, higher_is_better=False)
    df["rfm_f"] = bin_dimension(df["rfm_frequency"], cfg.frequency, higher_is_better=True)
    df["rfm_m"] = bin_dimension(df["rfm_monetary"], cfg.monetary, higher_is_better=True)
    r5 = to_five_scale(df["rfm_r"], cfg.recency.n_scores)
    f5 = to_five_scale(df["rfm_f"], cfg.frequency.n_scores)
    m5 = to_five_scale(df["rfm_m"], cfg.monetary.n_scores)
    w = cfg.weights
    total = w.r + w.f + w.m
    df["rfm_score"] = (w.r * r5 + w.f * f5 + w.m * m5) / total
    df["rfm_segment"], df["rfm_segment_zh"] = assign_segments(r5, f5, cfg)
    recency = df["rfm_recency_days"].round().astype("Int64").astype(str)
    freq = df["rfm_frequency"].round().astype("Int64").astype(str)
    money = df["rfm_monetary"].fillna(0).map("{:,.0f}".format)
    has = df["rfm_frequency"].notna()
    df["rfm_reason"] = np.where(
        has,
        df["rfm_segment"]
        + ": last paid order "
        + recency
        + " days ago, "
        + freq
        + " paid orders, CNY "
        + money
        + f" net in {cfg.lookback_days} days",
        f"no paid order in the last {cfg.lookback_days} days",
    )
    df["rfm_reason_zh"] = np.where(
        has,
        df["rfm_segment_zh"]
        + "：最近一次付费订单距今"
        + recency
        + "天，"
        + freq
        + "笔订单，净额"
        + money
        + "元",
        f"近{cfg.lookback_days}天无付费订单",
    )
    return df
