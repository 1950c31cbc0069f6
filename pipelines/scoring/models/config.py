"""The prediction models' rules (config/scoring/models.yaml)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator

from pipelines.config.loader import StrictModel


class HgbSettings(StrictModel):
    """scikit-learn HistGradientBoosting* settings shared by the regressor and classifiers."""

    max_iter: int = Field(200, ge=10)
    learning_rate: float = Field(0.06, gt=0)
    max_leaf_nodes: int = Field(15, ge=2)
    min_samples_leaf: int = Field(40, ge=1)
    l2_regularization: float = Field(1.0, ge=0)


class ModelsConfig(StrictModel):
    """Horizon, contest and fitting settings of the value, churn and conversion models."""

    version: str
    horizon_days: int = Field(365, ge=30, le=730)
    seed: int = 42
    tie_tolerance: float = Field(0.005, ge=0)
    min_rows: int = Field(200, ge=10)
    min_positive: int = Field(20, ge=1)
    # With too little history for a contest, the candidate a target publishes instead of its
    # naive baseline (when it can be fitted on the as-of date's rows; else the naive one).
    without_contest: dict[str, str] = {}
    # Fits see at most this many rows (a fixed-seed sample); prediction covers everyone.
    max_train_rows: int = Field(100_000, ge=1000)
    hgb: HgbSettings = HgbSettings()
    # Training schedule (pipelines/scoring/models/store.py): a run scores with the newest stored
    # training at most retrain_every_days - 1 days older than its date under the same rules and
    # code (1 = train on every run), unless a target's predictions drifted from the training
    # date's by a population stability index above retrain_psi.
    retrain_every_days: int = Field(7, ge=1, le=365)
    retrain_psi: float = Field(0.2, gt=0)
    calibration_bins: int = Field(10, ge=2)
    # Carry the base rate's drift forward, per target: the probabilities of the as-of date are
    # shifted, in log-odds, by what the winner trained and calibrated a horizon earlier missed
    # on the later window (its mean vs the observed rate), at most this far either way. A
    # target not named (or 0) is not shifted.
    max_drift_logit: dict[Literal["churn", "conversion"], float] = {"churn": 1.0}

    @field_validator("max_drift_logit")
    @classmethod
    def _non_negative(cls, bounds: dict[str, float]) -> dict[str, float]:
        negative = sorted(t for t, b in bounds.items() if b < 0)
        if negative:
            raise ValueError(f"must be >= 0 (log-odds), not for {', '.join(negative)}")
        return bounds

    # The backtest (pipelines/backtest): the snapshots published this many days ago, found
    # up to backtest_slack_days earlier, judged on what happened since; a published score
    # more than backtest_tolerance worse than its naive baseline fails the WARN check.
    backtest_horizons_days: list[int] = Field([365, 180], min_length=1)
    backtest_slack_days: int = Field(7, ge=0)
    backtest_tolerance: float = Field(0.01, ge=0)
