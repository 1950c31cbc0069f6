"""ABC (Pareto) classes on trailing-12-month net revenue, with the Lorenz curve and Gini.

Accounts are sorted by revenue, largest first; an account is A while the cumulative share
*before* it is under the A cut (so the account that crosses 80% is still A), and likewise B.
Accounts with zero or negative revenue are put in ``zero_revenue_class`` (default C) with
``revenue_share_cum = 1``: they add nothing to the Pareto curve.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from pydantic import Field, model_validator

from pipelines.config.loader import StrictModel


class AbcCuts(StrictModel):
    A: float = Field(gt=0)
    B: float = Field(ge=0)
    C: float = Field(ge=0)


class AbcConfig(StrictModel):
    version: str
    cuts: AbcCuts
    zero_revenue_class: str = "C"
    lorenz_points: int = Field(10, ge=2, le=100)

    @model_validator(mode="after")
    def _sum_100(self) -> AbcConfig:
        total = self.cuts.A + self.cuts.B + self.cuts.C
        if abs(total - 100) > 1e-6:
            raise ValueError(f"cuts must sum to 100, got {total}")
        return self


def abc_classes(revenue: pd.Series, cfg: AbcConfig) -> pd.DataFrame:
    """Return ``abc_class`` and ``revenue_share_cum`` aligned to ``revenue``'s index."""
    rev = pd.to_numeric(revenue, errors="coerce").fillna(0.0).clip(lower=0.0).astype(float)
    total = rev.sum()
    order = np.argsort(-rev.to_numpy(), kind="stable")
    sorted_rev = rev.to_numpy()[order]
    cum = np.cumsum(sorted_rev) / total if total > 0 else np.ones_like(sorted_rev)
    before = cum - (sorted_rev / total if total > 0 else 0.0)
    a_cut, b_cut = cfg.cuts.A / 100, (cfg.cuts.A + cfg.cuts.B) / 100
    cls_sorted = np.where(before < a_cut - 1e-12, "A", np.where(before < b_cut - 1e-12, "B", "C"))
    cls_sorted = np.where(sorted_rev > 0, cls_sorted, cfg.zero_revenue_class)
    share_sorted = np.where(sorted_rev > 0, cum, 1.0)
    cls = np.empty(len(rev), dtype=object)
    share = np.empty(len(rev), dtype=float)
    cls[order] = cls_sorted
    share[order] = share_sorted
    return pd.DataFrame({"abc_class": cls, "revenue_share_cum": share}, index=revenue.index)


def lorenz_curve(revenue: pd.Series, points: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Lorenz curve (share of accounts, share of revenue), accounts sorted ascending."""
    rev = np.sort(pd.to_numeric(revenue, errors="coerce").fillna(0).clip(lower=0).to_numpy(float))
    n = len(rev)
    total = rev.sum()
    x = np.arange(0, n + 1) / max(n, 1)
    y = np.concatenate([[0.0], np.cumsum(rev) / total]) if total > 0 else x.copy()
    if points:
        grid = np.linspace(0, 1, points + 1)
        return grid, np.interp(grid, x, y)
    return x, y


def gini(revenue: pd.Series) -> float:
    """Gini coefficient of revenue (0 = equal, 1 = one account has everything)."""
    x, y = lorenz_curve(revenue)
    if len(x) < 2:
        return 0.0
    return float(1.0 - np.sum((x[1:] - x[:-1]) * (y[1:] + y[:-1])))


def abc_reasons(df: pd.DataFrame) -> tuple[pd.Series, pd.Series]:
    """Plain words for each class (English, Chinese)."""
    share = (df["revenue_share_cum"] * 100).round(1).astype(str)
    en = np.where(
        df["net_revenue_365d"].fillna(0) > 0,
        "class " + df["abc_class"] + ": cumulative 12-month revenue share " + share + "%",
        "class " + df["abc_class"] + ": no net revenue in the last 12 months",
    )
    zh = np.where(
        df["net_revenue_365d"].fillna(0) > 0,
        df["abc_class"] + "类：近12个月收入累计占比" + share + "%",
        df["abc_class"] + "类：近12个月无净收入",
    )
    return pd.Series(en, index=df.index), pd.Series(zh, index=df.index)
