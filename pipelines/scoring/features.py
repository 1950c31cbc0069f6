"""The feature layer seen from Python: its settings (passed to dbt) and where it lives.

Per-account features are computed by the dbt models ``features.account_features`` and
``features.account_windows`` (dbt_project/models/features); score modules are formulas over
their columns. The windows and the decay those models use are scoring rules, kept where
analysts edit them (``config/scoring/rfm.yaml``, ``behaviour.yaml``); :func:`feature_settings`
turns them into the ``feature_settings`` dbt var, so they have one source and are covered by
the rules version stamped on the scores.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pipelines.ingest.contracts import ACTIVITY_TYPES

if TYPE_CHECKING:  # the score configs import this module for its column names
    from pipelines.scoring.behaviour import BehaviourConfig
    from pipelines.scoring.models.config import ModelsConfig
    from pipelines.scoring.rfm import RfmConfig

ACCOUNT_FEATURES = "features.account_features"

# ACTIVITY_TYPES: the landing contract's; the feature model has an engagement_<type> column for
# each (dbt macro activity_types(), kept equal by tests/scoring/test_scoring_features.py).
__all__ = ["ACCOUNT_FEATURES", "ACTIVITY_TYPES", "engagement_column"]


def engagement_column(activity_type: str) -> str:
    """The feature column holding the decayed, capped events of one activity type."""
    return f"engagement_{activity_type}"


def feature_settings(
    rfm: RfmConfig, behaviour: BehaviourConfig, models: ModelsConfig | None = None
) -> dict[str, Any]:
    """The ``feature_settings`` dbt var (see dbt_project/macros/features.sql); the outcome
    horizon of features.account_windows is the prediction models' (config/scoring/models.yaml)."""
    return {
        "rfm_lookback_days": rfm.lookback_days,
        "outcome_horizon_days": models.horizon_days if models is not None else 365,
        "engagement": {
            "lookback_days": behaviour.lookback_days,
            "half_life_days": float(behaviour.half_life_days),
            "cap_period": behaviour.cap_period,
            "caps": {name: rule.cap_per_period for name, rule in sorted(behaviour.types.items())},
        },
    }
