"""Behaviour points: points x the feature layer's decayed, capped events per type.

Decay, look-back and caps are features, tested where they are computed (dbt unit tests in
dbt_project/models/features/_features__models.yml); this is the score over them.
"""

from __future__ import annotations

import pandas as pd
import pytest

from pipelines.config import ConfigError
from pipelines.config.loader import validate
from pipelines.scoring.behaviour import BehaviourConfig, feature_columns, score_behaviour


def _cfg(**kw) -> BehaviourConfig:
    base = {
        "version": "t",
        "lookback_days": 365,
        "half_life_days": 90,
        "cap_period": "month",
        "types": {
            "meeting": {"points": 15, "cap_per_period": 2, "label_zh": "会议"},
            "web_visit": {"points": 2, "cap_per_period": 100},
            "unsubscribe": {"points": -20, "cap_per_period": 1},
        },
    }
    base.update(kw)
    return BehaviourConfig.model_validate(base)


def _features(rows: dict[str, dict[str, float]]) -> pd.DataFrame:
    frame = pd.DataFrame.from_dict(rows, orient="index").fillna(0.0)
    frame.columns = [f"engagement_{c}" for c in frame.columns]
    frame["activity_data_delivered"] = True
    return frame.rename_axis("golden_account_id").reset_index()


def test_points_are_type_points_times_decayed_events_and_unsubscribes_subtract():
    cfg = _cfg()
    features = _features(
        {
            "a": {"meeting": 3.0, "web_visit": 0.5, "unsubscribe": 0.0},
            "b": {"meeting": 0.0, "web_visit": 1.0, "unsubscribe": 1.0},
            "c": {"meeting": 0.0, "web_visit": 0.0, "unsubscribe": 0.0},
        }
    )
    out = score_behaviour(features[feature_columns(cfg)], cfg).set_index("golden_account_id")
    assert out.loc["a", "behaviour_meeting_points"] == pytest.approx(45.0)
    assert out.loc["a", "behaviour_points"] == pytest.approx(46.0)
    assert out.loc["b", "behaviour_points"] == pytest.approx(-18.0)
    assert out.loc["c", "behaviour_points"] == 0.0
    assert out.loc["a", "behaviour_reason"] == "engagement points: meeting +45.0, web visit +1.0"
    assert out.loc["a", "behaviour_reason_zh"] == "互动得分：会议 +45.0，web_visit +1.0"
    assert "unsubscribe -20" in out.loc["b", "behaviour_reason"]
    assert out.loc["c", "behaviour_reason"] == "no engagement in the look-back window"


def test_only_configured_types_are_read_and_scored():
    cfg = _cfg(types={"meeting": {"points": 10, "cap_per_period": 5}})
    assert feature_columns(cfg) == [
        "golden_account_id",
        "activity_data_delivered",
        "engagement_meeting",
    ]
    features = _features({"a": {"meeting": 1.5, "web_visit": 100.0}})
    out = score_behaviour(features, cfg)
    assert out["behaviour_points"].tolist() == [15.0]
    assert [c for c in out.columns if c.endswith("_points")] == [
        "behaviour_meeting_points",
        "behaviour_points",
    ]


def test_activity_types_must_be_the_landing_contracts(tmp_path):
    """A type the feature layer has no column for is refused when the config is loaded."""
    from pipelines.config.bundle import _check_activity_types
    from pipelines.config.loader import Loaded

    cfg = _cfg(types={"webinar": {"points": 3, "cap_per_period": 2}})
    with pytest.raises(ConfigError, match="types.webinar: not an activity type"):
        _check_activity_types(Loaded(cfg, "t", tmp_path / "behaviour.yaml"))
    with pytest.raises(ConfigError, match="lower_snake_case"):
        validate(
            BehaviourConfig,
            {
                "version": "t",
                "lookback_days": 1,
                "half_life_days": 1,
                "types": {"Web": {"points": 1, "cap_per_period": 1}},
            },
            tmp_path / "behaviour.yaml",
        )


def test_without_any_activity_delivered_points_are_null_with_the_reason_no_data():
    cfg = _cfg()
    features = _features({"a": {"meeting": 0.0, "web_visit": 0.0, "unsubscribe": 0.0}, "b": {}})
    features["activity_data_delivered"] = False
    out = score_behaviour(features[feature_columns(cfg)], cfg).set_index("golden_account_id")
    assert out["behaviour_points"].isna().all()
    assert out["behaviour_meeting_points"].isna().all()
    assert set(out["behaviour_reason"]) == {"no data: no activity records delivered"}
    assert set(out["behaviour_reason_zh"]) == {"无数据：未提供互动记录"}
    # Delivered but silent is a real zero.
    features["activity_data_delivered"] = True
    out = score_behaviour(features[feature_columns(cfg)], cfg).set_index("golden_account_id")
    assert (out["behaviour_points"] == 0.0).all()
