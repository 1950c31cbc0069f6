"""The conversion model's rules (config/scoring/conversion.yaml)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from pipelines.config.loader import StrictModel
from pipelines.scoring.conversion.features import CATEGORICAL, NUMERIC


class HgbParams(StrictModel):
    max_iter: int = Field(200, ge=10)
    learning_rate: float = Field(0.05, gt=0)
    max_leaf_nodes: int = Field(15, ge=2)
    min_samples_leaf: int = Field(20, ge=1)


class ConversionConfig(StrictModel):
    """Training, reuse, drift and explanation settings. The engagement features' look-back
    and half-life are the feature layer's (config/scoring/behaviour.yaml)."""

    version: str
    holdout_fraction: float = Field(0.2, gt=0, lt=1)
    min_positive: int = Field(50, ge=1)
    min_holdout_positive: int = Field(10, ge=1)
    max_age_days: int = Field(30, ge=0)
    psi_threshold: float = Field(0.2, gt=0)
    drift_window_days: int = Field(90, gt=0)
    drift_min_rows: int = Field(200, ge=1)
    # Features never monitored for PSI (the score still is): counts over *all* prior history
    # grow with the calendar, so recent leads always look "drifted" on them.
    drift_exclude: list[str] = ["prior_paid_orders", "log_prior_net_revenue"]
    calibration: Literal["isotonic", "sigmoid"] = "isotonic"
    calibration_cv: int = Field(3, ge=2)
    explain_features: int = Field(6, ge=1)
    seed: int = 42
    hgb: HgbParams = HgbParams()

    @property
    def numeric_features(self) -> list[str]:
        return list(NUMERIC)

    @property
    def features(self) -> list[str]:
        return CATEGORICAL + self.numeric_features
