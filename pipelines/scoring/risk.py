"""Risk score and level from credit rating, overdue amounts, lawsuits, abnormal operation and
payment behaviour (refund rate).

External data (rating, overdue, lawsuits, abnormal operation) comes from the risk provider
with its own ``risk_as_of_date``. Two different cases have no trusted external data:

- no record at all: ``risk_level`` is ``missing_level`` ("unknown"), ``risk_stale`` false —
  nothing is out of date, there is nothing; with no payment history either, ``risk_score`` is
  null ("no data");
- a record older than ``max_age_days``: ``risk_stale`` true, ``risk_level`` ``stale_level``
  ("stale"), the old external points are not trusted (counted as 0).

Either way internal payment behaviour alone can still reach "high": a known bad payer stays
high without fresh bureau data.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from pydantic import Field, model_validator

from pipelines.config.loader import StrictModel
from pipelines.scoring.reasons import join_parts


class PointsBand(StrictModel):
    min: float
    points: float


class Levels(StrictModel):
    medium: float
    high: float

    @model_validator(mode="after")
    def _order(self) -> Levels:
        if not self.medium < self.high:
            raise ValueError("'medium' must be below 'high'")
        return self


class RiskConfig(StrictModel):
    version: str
    max_age_days: int = Field(gt=0)
    credit_rating_points: dict[str, float]
    missing_rating_points: float = 0.0
    overdue_bands: list[PointsBand] = Field(min_length=1)
    lawsuit_points_each: float = Field(ge=0)
    lawsuit_points_max: float = Field(ge=0)
    abnormal_operation_points: float = Field(ge=0)
    refund_rate_bands: list[PointsBand] = Field(min_length=1)
    levels: Levels
    stale_level: str = "stale"
    missing_level: str = "unknown"


def band_points(values: pd.Series, bands: list[PointsBand]) -> np.ndarray:
    """Points of the highest band whose ``min`` <= value; nulls and values below all bands -> 0."""
    mins = np.array([b.min for b in bands], dtype=float)
    pts = np.array([b.points for b in bands], dtype=float)
    order = np.argsort(mins)
    mins, pts = mins[order], pts[order]
    num = pd.to_numeric(values, errors="coerce").astype(float).to_numpy()
    pos = np.searchsorted(mins, np.nan_to_num(num, nan=-np.inf), side="right") - 1
    return np.where((pos >= 0) & ~np.isnan(num), pts[np.clip(pos, 0, None)], 0.0)


# The feature columns the score reads (features.account_features).
FEATURE_COLUMNS = [
    "golden_account_id",
    "credit_rating",
    "overdue_amount_cny",
    "lawsuit_count",
    "abnormal_operation",
    "risk_as_of_date",
    "risk_age_days",
    "refund_rate",
]


def component_points(accounts: pd.DataFrame, cfg: RiskConfig) -> dict[str, np.ndarray]:
    """Points per component before staleness is applied: the four external ones (rating,
    overdue, lawsuits, abnormal operation) and internal payment behaviour (refund rate)."""
    rating = accounts["credit_rating"].astype("string").str.strip().str.upper()
    rating_pts = rating.map({k.upper(): v for k, v in cfg.credit_rating_points.items()})
    lawsuits = pd.to_numeric(accounts["lawsuit_count"], errors="coerce").fillna(0).to_numpy(float)
    abnormal = accounts["abnormal_operation"].astype("boolean").fillna(False).to_numpy(bool)
    return {
        "credit_rating": rating_pts.astype(float).fillna(cfg.missing_rating_points).to_numpy(),
        "overdue": band_points(accounts["overdue_amount_cny"], cfg.overdue_bands),
        "lawsuits": np.minimum(lawsuits * cfg.lawsuit_points_each, cfg.lawsuit_points_max),
        "abnormal_operation": np.where(abnormal, cfg.abnormal_operation_points, 0.0),
        "refund_rate": band_points(accounts["refund_rate"], cfg.refund_rate_bands),
    }


def _reasons(
    accounts: pd.DataFrame, points: dict[str, np.ndarray], stale: np.ndarray, missing: np.ndarray
) -> tuple[pd.Series, pd.Series]:
    """The risk signals behind the level, in English and Chinese (empty when none)."""
    idx = accounts.index

    def part(mask: np.ndarray, text: pd.Series | str) -> pd.Series:
        return pd.Series(np.where(mask, text, ""), index=idx)

    fresh = ~stale & ~missing
    age = pd.to_numeric(accounts["risk_age_days"], errors="coerce").fillna(0).astype(int)
    rating = accounts["credit_rating"].astype("string").str.strip().str.upper()
    lawsuits = pd.to_numeric(accounts["lawsuit_count"], errors="coerce").fillna(0).astype(int)
    overdue = pd.to_numeric(accounts["overdue_amount_cny"], errors="coerce").fillna(0)
    overdue = overdue.map("{:,.0f}".format)
    refund = pd.to_numeric(accounts["refund_rate"], errors="coerce").fillna(0) * 100
    refund = refund.round(0).astype(int).astype(str) + "%"
    shown = {
        "rating": fresh & (points["credit_rating"] > 0),
        "overdue": fresh & (points["overdue"] > 0),
        "lawsuits": fresh & (points["lawsuits"] > 0),
        "abnormal": fresh
        & accounts["abnormal_operation"].astype("boolean").fillna(False).to_numpy(bool),
        "refund": points["refund_rate"] > 0,
    }
    en = join_parts([
        part(missing, "no risk record"),
        part(stale, "risk data stale (" + age.astype(str) + " days old)"),
        part(shown["rating"], "credit rating " + rating.fillna("unrated")),
        part(shown["overdue"], "overdue CNY " + overdue),
        part(shown["lawsuits"], lawsuits.astype(str) + " lawsuits"),
        part(shown["abnormal"], "abnormal operation listed"),
        part(shown["refund"], "refund rate " + refund),
    ], "; ")  # fmt: skip
    zh = join_parts([
        part(missing, "无风险记录"),
        part(stale, "风险数据过期（" + age.astype(str) + "天前）"),
        part(shown["rating"], "信用评级" + rating.fillna("无")),
        part(shown["overdue"], "逾期" + overdue + "元"),
        part(shown["lawsuits"], lawsuits.astype(str) + "起诉讼"),
        part(shown["abnormal"], "经营异常"),
        part(shown["refund"], "退款率" + refund),
    ], "；")  # fmt: skip
    return en, zh


def score_risk(accounts: pd.DataFrame, cfg: RiskConfig) -> pd.DataFrame:
    """Per-account component points, ``risk_score`` (0-100), ``risk_level``, ``risk_stale``, reasons.

    ``accounts`` holds :data:`FEATURE_COLUMNS`; ``risk_age_days`` is the age of the latest
    assessment on the as-of date (null without one). Stale or missing external data counts 0
    points; see the module docstring for the levels.
    """
    age_days = pd.to_numeric(accounts["risk_age_days"], errors="coerce").astype(float)
    missing = age_days.isna().to_numpy()
    stale = (age_days > cfg.max_age_days).to_numpy()
    untrusted = missing | stale
    points = component_points(accounts, cfg)
    out = pd.DataFrame(
        {"golden_account_id": accounts["golden_account_id"].to_numpy()}, index=accounts.index
    )
    for name in ("credit_rating", "overdue", "lawsuits", "abnormal_operation"):
        out[f"risk_{name}_points"] = np.where(untrusted, 0.0, points[name])
    out["risk_refund_rate_points"] = points["refund_rate"]
    comp_cols = [c for c in out.columns if c.endswith("_points")]
    out["risk_score"] = out[comp_cols].sum(axis=1).clip(0, 100)
    level = np.select(
        [out["risk_score"] >= cfg.levels.high, out["risk_score"] >= cfg.levels.medium],
        ["high", "medium"],
        "low",
    )
    low_known = level != "high"
    level = np.where(stale & low_known, cfg.stale_level, level)
    out["risk_level"] = np.where(missing & low_known, cfg.missing_level, level)
    out["risk_stale"] = stale
    out["risk_age_days"] = age_days.to_numpy()
    en, zh = _reasons(accounts, points, stale, missing)
    out["risk_reason"] = "risk " + out["risk_level"] + ": " + en.replace("", "no risk signals")
    out["risk_reason_zh"] = "风险" + out["risk_level"] + "：" + zh.replace("", "无风险信号")
    # Neither a risk record nor a payment history: no score, not a "low" 0.
    no_inputs = missing & pd.to_numeric(accounts["refund_rate"], errors="coerce").isna().to_numpy()
    out["risk_score"] = out["risk_score"].where(~no_inputs)
    return out
