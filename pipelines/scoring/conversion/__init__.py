"""Lead conversion probability: a calibrated gradient-boosting model on historical leads.

Split by responsibility:

- :mod:`.features` — model inputs from the feature layer (``features.lead_features`` for
  training, ``features.account_features`` for scoring: the same dbt definitions);
- :mod:`.training` — the time split, calibrated HistGradientBoosting, holdout metrics, the
  model card;
- :mod:`.registry` — stored models, drift (PSI) and retraining decisions, the run's choice;
- :mod:`.lifecycle` — reuse or retrain, as the training asset does it;
- :mod:`.explain` — per-account probability and its drivers in words; the fit-score fallback.

Training is its own asset (``scores/conversion_model``); scoring (``scores/conversion``) uses
the model it chose.
"""

from pipelines.scoring.conversion.config import ConversionConfig, HgbParams
from pipelines.scoring.conversion.explain import explain, fallback_scores, score_accounts
from pipelines.scoring.conversion.features import (
    ACCOUNT_FEATURE_COLUMNS,
    CATEGORICAL,
    LEAD_FEATURE_COLUMNS,
    account_rows,
    lead_rows,
    model_matrix,
)
from pipelines.scoring.conversion.lifecycle import ModelDecision, choose_model
from pipelines.scoring.conversion.registry import (
    ModelChoice,
    drift_report,
    load_latest_model,
    load_model,
    psi,
    read_choice,
    record_choice,
    retrain_reason,
    save_model,
)
from pipelines.scoring.conversion.training import (
    TrainResult,
    build_model,
    calibration_table,
    time_split,
    train_conversion_model,
)

__all__ = [
    "ACCOUNT_FEATURE_COLUMNS",
    "CATEGORICAL",
    "LEAD_FEATURE_COLUMNS",
    "ConversionConfig",
    "HgbParams",
    "ModelChoice",
    "ModelDecision",
    "TrainResult",
    "account_rows",
    "build_model",
    "calibration_table",
    "choose_model",
    "drift_report",
    "explain",
    "fallback_scores",
    "lead_rows",
    "load_latest_model",
    "load_model",
    "model_matrix",
    "psi",
    "read_choice",
    "record_choice",
    "retrain_reason",
    "save_model",
    "score_accounts",
    "time_split",
    "train_conversion_model",
]
