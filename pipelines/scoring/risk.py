"""Risk score and level from credit rating, overdue amounts, lawsuits, abnormal operation and
payment behaviour (refund rate).

External data (rating, overdue, lawsuits, abnormal operation) comes from the risk provider
with its own ``risk_as_of_date``. When that is missing or older than ``max_age_days`` the
account is ``risk_stale``: external points are not trusted (counted as 0) and ``risk_level`` is
``stale_level`` ("unknown") unless internal payment behaviour alone reaches "high" — a known
bad payer stays high even without fresh bureau data.
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
    stale_level: str = "unknown"


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


def score_risk(accounts: pd.DataFrame, cfg: RiskConfig) -> pd.DataFrame:
    """Per-account component points, ``risk_score`` (0-100), ``risk_level``, ``risk_stale``, reasons.

    ``accounts`` holds :data:`FEATURE_COLUMNS`; ``risk_age_days`` is the age of the latest
    assessment on the as-of date (null without one).
    """
    idx = accounts.index
    age_days = pd.to_numeric(accounts["risk_age_days"], errors="coerce").astype(float)
    stale = (age_days.isna() | (age_days > cfg.max_age_days)).to_numpy()

    rating = accounts["credit_rating"].astype("string").str.strip().str.upper()
    rating_pts = rating.map({k.upper(): v for k, v in cfg.credit_rating_points.items()}).astype(
        float
    )
    rating_pts = rating_pts.fillna(cfg.missing_rating_points).to_numpy()
    overdue_pts = band_points(accounts["overdue_amount_cny"], cfg.overdue_bands)
    lawsuits = pd.to_numeric(accounts["lawsuit_count"], errors="coerce").fillna(0).to_numpy(float)
    lawsuit_pts = np.minimum(lawsuits * cfg.lawsuit_points_each, cfg.lawsuit_points_max)
    abnormal = accounts["abnormal_operation"].astype("boolean").fillna(False).to_numpy(bool)
    abnormal_pts = np.where(abnormal, cfg.abnormal_operation_points, 0.0)
    refund_pts = band_points(accounts["refund_rate"], cfg.refund_rate_bands)

    external = {
        "credit_rating": rating_pts,
        "overdue": overdue_pts,
        "lawsuits": lawsuit_pts,
        "abnormal_operation": abnormal_pts,
    }
    out = pd.DataFrame({"golden_account_id": accounts["golden_account_id"].to_numpy()}, index=idx)
    for name, pts in external.items():
        out[f"risk_{name}_points"] = np.where(stale, 0.0, pts)
    out["risk_refund_rate_points"] = refund_pts
    comp_cols = [c for c in out.columns if c.endswith("_points")]
    out["risk_score"] = out[comp_cols].sum(axis=1).clip(0, 100)
    level = np.select(
        [out["risk_score"] >= cfg.levels.high, out["risk_score"] >= cfg.levels.medium],
        ["high", "medium"],
        "low",
    )
    out["risk_level"] = np.where(stale & (level != "high"), cfg.stale_level, level)
    out["risk_stale"] = stale
    out["risk_age_days"] = age_days.to_numpy()

    def part(mask: np.ndarray, text: pd.Series | str) -> pd.Series:
        return pd.Series(np.where(mask, text, ""), index=idx)

    fresh = ~stale
    overdue_txt = "overdue CNY " + pd.to_numeric(
        accounts["overdue_amount_cny"], errors="coerce"
    ).fillna(0).map("{:,.0f}".format)
    refund_txt = (
        "refund rate "
        + (pd.to_numeric(accounts["refund_rate"], errors="coerce").fillna(0) * 100)
        .round(0)
        .astype(int)
        .astype(str)
        + "%"
    )
    en = join_parts(
        [
            part(stale, "risk data stale or missing"),
            part(fresh & (rating_pts > 0), "credit rating " + rating.fillna("unrated")),
            part(fresh & (overdue_pts > 0), overdue_txt),
            part(fresh & (lawsuit_pts > 0), lawsuits.astype(int).astype(str) + " lawsuits"),
            part(fresh & abnormal, "abnormal operation listed"),
            part(refund_pts > 0, refund_txt),
        ],
        "; ",
    )
    zh = join_parts(
        [
            part(stale, "风险数据过期或缺失"),
            part(fresh & (rating_pts > 0), "信用评级" + rating.fillna("无")),
            part(
                fresh & (overdue_pts > 0),
                "逾期" + overdue_txt.str.replace("overdue CNY ", "") + "元",
            ),
            part(fresh & (lawsuit_pts > 0), lawsuits.astype(int).astype(str) + "起诉讼"),
            part(fresh & abnormal, "经营异常"),
            part(refund_pts > 0, "退款率" + refund_txt.str.replace("refund rate ", "")),
        ],
        "；",
    )
    out["risk_reason"] = "risk " + out["risk_level"] + ": " + en.replace("", "no risk signals")
    out["risk_reason_zh"] = "风险" + out["risk_level"] + "：" + zh.replace("", "无风险信号")
    return out
