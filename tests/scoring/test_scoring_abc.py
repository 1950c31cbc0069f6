"""ABC classes, Lorenz curve and Gini."""

from __future__ import annotations

import pandas as pd
import pytest

from pipelines.scoring.abc import AbcConfig, abc_classes, gini, lorenz_curve


def test_pareto_classes_and_zero_revenue():
    cfg = AbcConfig(version="t", cuts={"A": 80, "B": 15, "C": 5})
    rev = pd.Series([700.0, 150.0, 100.0, 30.0, 20.0, 0.0, -5.0], index=list("abcdefg"))
    out = abc_classes(rev, cfg)
    # a: before 0% -> A; b: before 70% -> A (crosses 80%); c: before 85% -> B; d: 95% -> C
    assert out["abc_class"].tolist() == ["A", "A", "B", "C", "C", "C", "C"]
    assert out.loc["b", "revenue_share_cum"] == pytest.approx(0.85)
    assert out.loc["f", "revenue_share_cum"] == 1.0
    none_cfg = AbcConfig(version="t", cuts={"A": 80, "B": 15, "C": 5}, zero_revenue_class="none")
    assert abc_classes(rev, none_cfg).loc[["f", "g"], "abc_class"].tolist() == ["none", "none"]


def test_cuts_must_sum_to_100():
    with pytest.raises(ValueError, match="sum to 100"):
        AbcConfig(version="t", cuts={"A": 80, "B": 15, "C": 10})


def test_gini_extremes_and_lorenz():
    assert gini(pd.Series([5.0] * 10)) == pytest.approx(0.0, abs=1e-12)
    assert gini(pd.Series([0.0] * 9 + [1.0])) == pytest.approx(0.9)
    x, y = lorenz_curve(pd.Series([1.0, 1.0, 2.0]), points=4)
    assert x[0] == 0 and y[-1] == pytest.approx(1.0) and (y <= x + 1e-12).all()
