"""Behaviour score: decayed, capped engagement points per activity type.

Each event is worth ``points x 0.5 ** (age_days / half_life_days)``. Within one type and one
calendar period an account's events are capped at ``cap_per_period``: when there are more, the
period's decayed sum is scaled by ``cap / count`` so spam-like bursts cannot dominate. Negative
types (unsubscribe) subtract.

The decayed, capped event sums are features (``features.account_features``,
``engagement_<type>``, computed in dbt with this file's look-back, half-life, cap period and
caps); the score is ``points x`` that sum per type. When no activity was delivered at all
(``activity_data_delivered`` false) the points are null with the reason "no data".
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import pandas as pd
from pydantic import Field, field_validator

from pipelines.config.loader import StrictModel
from pipelines.scoring.features import engagement_column
from pipelines.scoring.reasons import mark_no_data, top_k_labels


class ActivityRule(StrictModel):
    points: float
    cap_per_period: int = Field(gt=0)
    label_zh: str = ""


class BehaviourConfig(StrictModel):
    version: str
    lookback_days: int = Field(gt=0)
    half_life_days: float = Field(gt=0)
    cap_period: Literal["week", "month", "quarter"] = "month"
    types: dict[str, ActivityRule] = Field(min_length=1)
    top_reasons: int = Field(2, ge=1)

    @field_validator("types")
    @classmethod
    def _names(cls, v: dict[str, ActivityRule]) -> dict[str, ActivityRule]:
        bad = [k for k in v if not k.replace("_", "").isalnum() or not k.islower()]
        if bad:
            raise ValueError(f"activity type names must be lower_snake_case: {bad}")
        return v


def feature_columns(cfg: BehaviourConfig) -> list[str]:
    """The feature columns the score reads."""
    return [
        "golden_account_id",
        "activity_data_delivered",
        *(engagement_column(name) for name in cfg.types),
    ]


def points_by_type(features: pd.DataFrame, cfg: BehaviourConfig) -> pd.DataFrame:
    """Points per account (rows, indexed by golden_account_id) and activity type (columns)."""
    return pd.DataFrame(
        {
            name: pd.to_numeric(features[engagement_column(name)]).fillna(0.0).to_numpy(float)
            * rule.points
            for name, rule in cfg.types.items()
        },
        index=pd.Index(features["golden_account_id"].to_numpy(), name="golden_account_id"),
    )


def score_behaviour(features: pd.DataFrame, cfg: BehaviourConfig) -> pd.DataFrame:
    """Wide per-account frame: ``behaviour_<type>_points``, ``behaviour_points`` and reasons."""
    wide = points_by_type(features, cfg)
    out = pd.DataFrame(index=wide.index)
    for name in cfg.types:
        out[f"behaviour_{name}_points"] = wide[name].round(3)
    out["behaviour_points"] = wide.sum(axis=1).round(3)

    # Reasons: the types with the largest absolute contribution, strongest first.
    vals = wide.to_numpy()
    en_labels = [n.replace("_", " ") for n in cfg.types]
    zh_labels = [r.label_zh or n for n, r in cfg.types.items()]
    en = top_k_labels(vals, en_labels, cfg.top_reasons, min_abs=0.05, index=wide.index)
    zh = top_k_labels(vals, zh_labels, cfg.top_reasons, min_abs=0.05, index=wide.index, sep="，")
    out["behaviour_reason"] = np.where(
        en != "", "engagement points: " + en, "no engagement in the look-back window"
    )
    out["behaviour_reason_zh"] = np.where(zh != "", "互动得分：" + zh, "近期无互动")
    # Without an activity export nobody's engagement is known: null, not 0 points.
    delivered = features["activity_data_delivered"].astype("boolean").fillna(False).to_numpy(bool)
    mark_no_data(
        out,
        ~delivered,
        [c for c in out.columns if c.endswith("_points")],
        ("behaviour_reason", "behaviour_reason_zh"),
        "no activity records delivered",
        "未提供互动记录",
    )
    return out.reset_index()
