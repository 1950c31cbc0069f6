"""Which model a run scores with: the stored one when still good, else a new one."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import pandas as pd

from pipelines.scoring.conversion.config import ConversionConfig
from pipelines.scoring.conversion.registry import (
    ModelChoice,
    drift_report,
    load_latest_model,
    retrain_reason,
    save_model,
)
from pipelines.scoring.conversion.training import TrainResult, train_conversion_model


@dataclass
class ModelDecision:
    """The choice plus what led to it (drift measured, the training attempt if any)."""

    choice: ModelChoice
    card: dict | None
    drift: dict[str, float] = field(default_factory=dict)
    trained: TrainResult | None = None


def recent_leads(leads: pd.DataFrame, as_of: date, days: int) -> pd.DataFrame:
    """Leads created in the ``days`` before the as-of date: the drift sample."""
    created = pd.to_datetime(leads["created_at"])
    return leads[created > pd.Timestamp(as_of) - pd.Timedelta(days=days)]


def choose_model(
    leads: pd.DataFrame,
    models_dir: Path,
    as_of: date,
    rules_version: str,
    cfg: ConversionConfig,
) -> ModelDecision:
    """Reuse the stored model trained for the latest date up to ``as_of`` unless it is stale,
    its rules changed or it drifted; otherwise train (and store) a new one. With too few
    converted leads the choice is no model at all."""
    stored = load_latest_model(models_dir, as_of)
    drift: dict[str, float] = {}
    if stored is not None:
        drift = drift_report(
            stored[0], stored[1], recent_leads(leads, as_of, cfg.drift_window_days), cfg
        )
    reason = retrain_reason(stored[1] if stored else None, as_of, rules_version, cfg, drift)
    if reason is None:
        card = stored[1]
        status = f"reused stored model {card['model_version']}"
        return ModelDecision(ModelChoice(card["model_version"], status), card, drift)
    result = train_conversion_model(leads, cfg, as_of, rules_version)
    status = f"retrain ({reason}): {result.message}"
    if result.model is None:
        return ModelDecision(ModelChoice(None, status), None, drift, result)
    save_model(result.model, result.card, models_dir)
    return ModelDecision(
        ModelChoice(result.card["model_version"], status), result.card, drift, result
    )
