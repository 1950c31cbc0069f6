"""Behaviour points: decay halves at the half-life, caps per period, negative signals."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import duckdb
import pandas as pd
import pytest

from pipelines.scoring.behaviour import BehaviourConfig, behaviour_points_by_type, score_behaviour

AS_OF = date(2024, 6, 30)
END = datetime(2024, 7, 1)  # the as-of day counts in full: ages are measured from its end


def _cfg(**kw) -> BehaviourConfig:
    base = {
        "version": "t",
        "lookback_days": 365,
        "half_life_days": 90,
        "cap_period": "month",
        "types": {
            "meeting": {"points": 15, "cap_per_period": 2},
            "web_visit": {"points": 2, "cap_per_period": 100},
            "unsubscribe": {"points": -20, "cap_per_period": 1},
        },
    }
    base.update(kw)
    return BehaviourConfig.model_validate(base)


def _con(rows: list[tuple[str, str, datetime]]) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    con.execute("create schema marts")
    frame = pd.DataFrame(rows, columns=["golden_account_id", "activity_type", "occurred_at"])
    con.register("f", frame)
    con.execute("create table marts.activities as select * from f")
    return con


def test_decay_halves_at_half_life():
    con = _con([("a", "web_visit", END), ("b", "web_visit", END - timedelta(days=90))])
    pts = behaviour_points_by_type(con, AS_OF, _cfg()).set_index("golden_account_id")["points"]
    assert pts["a"] == pytest.approx(2.0)
    assert pts["b"] == pytest.approx(1.0)


def test_cap_per_type_per_month_and_negative_points():
    same_month = [("a", "meeting", datetime(2024, 6, d)) for d in (27, 28, 29, 30)]
    other_month = [("a", "meeting", datetime(2024, 5, 30))]
    con = _con(same_month + other_month + [("b", "unsubscribe", END), ("b", "web_visit", END)])
    cfg = _cfg(half_life_days=1e9)  # no decay: isolate the cap
    by_type = behaviour_points_by_type(con, AS_OF, cfg)
    out = score_behaviour(pd.Series(["a", "b", "c"]), by_type, cfg).set_index("golden_account_id")
    # June: 4 meetings capped to 2 (30 pts); May: 1 meeting (15 pts)
    assert out.loc["a", "behaviour_meeting_points"] == pytest.approx(45.0)
    assert out.loc["b", "behaviour_points"] == pytest.approx(-18.0)
    assert out.loc["c", "behaviour_points"] == 0.0
    assert out.loc["a", "behaviour_reason"].startswith("engagement points: meeting +45")
    assert "unsubscribe -20" in out.loc["b", "behaviour_reason"]
    assert out.loc["c", "behaviour_reason"] == "no engagement in the look-back window"


def test_activities_outside_window_are_ignored():
    con = _con(
        [("a", "web_visit", END - timedelta(days=400)), ("a", "web_visit", END + timedelta(days=1))]
    )
    assert behaviour_points_by_type(con, AS_OF, _cfg()).empty
