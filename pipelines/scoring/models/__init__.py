"""Prediction models that must beat the naive baseline: 12-month value, churn, prospect
conversion, each decided by a contest on the company's own history.

- :mod:`.matrix` — the model inputs from ``features.account_windows``;
- :mod:`.candidates` — naive baseline, BG/NBD x Gamma-Gamma, gradient boosting, per target;
- :mod:`.contest` — fit on the earlier window, judge on the later, winner scores the as-of date;
- :mod:`.metrics` — capture, Spearman, AUC, Brier, calibration (shared with the backtest).

:func:`predict` runs the three contests and returns the per-account predictions, the contest
table and the model card; the asset (``scores/predictions``) writes them.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import date
from typing import Any

import numpy as np
import pandas as pd

from pipelines.frames import isin, positions
from pipelines.scoring import clv as clv_mod
from pipelines.scoring.models.candidates import bgnbd_outputs
from pipelines.scoring.models.config import ModelsConfig
from pipelines.scoring.models.contest import TARGETS, TargetResult, rescore, run_target
from pipelines.scoring.models.matrix import ACCOUNT_WINDOWS, WINDOW_COLUMNS, vocabularies
from pipelines.scoring.models.store import StoredTraining
from pipelines.scoring.reasons import NO_DATA_EN, NO_DATA_ZH

__all__ = [
    "ACCOUNT_WINDOWS",
    "CONTEST_TYPES",
    "WINDOW_COLUMNS",
    "ModelsConfig",
    "Predictions",
    "predict",
    "rescore_with",
]

CONTEST_TYPES = {
    "as_of_date": "date",
    "target": "varchar",
    "candidate": "varchar",
    "kind": "varchar",
    "metric": "varchar",
    "metric_value": "double",
    "auc": "double",
    "brier": "double",
    "capture_20": "double",
    "spearman": "double",
    "winner": "boolean",
    "model_version": "varchar",
}


@dataclass(frozen=True)
class Predictions:
    """The run's predictions per account, the contests and the card that records them."""

    scores: pd.DataFrame
    results: dict[str, TargetResult]
    model_version: str
    card: dict[str, Any]
    trained_as_of: date

    def contest_rows(self, as_of: date) -> pd.DataFrame:
        """One row per target and candidate, for ``scores.model_contest``."""
        frames = []
        for target, result in self.results.items():
            frame = result.contest.copy()
            frame["target"], frame["metric"] = target, result.metric
            frame["metric_value"] = frame[result.metric]
            frames.append(frame)
        out = pd.concat(frames, ignore_index=True)
        out["as_of_date"], out["model_version"] = as_of, self.model_version
        for column in CONTEST_TYPES:
            if column not in out:
                out[column] = np.nan
        return out[list(CONTEST_TYPES)]


def _scores(accounts: pd.Series, results: dict[str, TargetResult]) -> pd.DataFrame:
    out = pd.DataFrame({"golden_account_id": accounts.to_numpy()})
    names = {"value": "expected_value_12m", "churn": "churn_probability",
             "conversion": "conversion_probability"}  # fmt: skip
    for target, column in names.items():
        result = results[target]
        at = positions(out["golden_account_id"], result.predictions["golden_account_id"])
        known = ~np.isnan(at)
        values = np.full(len(out), np.nan)
        values[known] = result.predictions["prediction"].to_numpy(float)[at[known].astype(int)]
        out[column] = values
        out[f"{target}_model"] = np.where(out[column].notna(), result.winner, None)
    return out


def _reasons(out: pd.DataFrame) -> tuple[pd.Series, pd.Series]:
    value = out["expected_value_12m"].round(0).map("{:,.0f}".format, na_action="ignore")
    churn = (out["churn_probability"] * 100).round(0).map("{:.0f}%".format, na_action="ignore")
    conv = (out["conversion_probability"] * 100).round(1).map("{:.1f}%".format, na_action="ignore")
    en = np.where(
        out["expected_value_12m"].notna(),
        "expected CNY " + value.fillna("") + " in 12m (" + out["value_model"].fillna("") + ")"
        + "; churn risk " + churn.fillna("?") + " (" + out["churn_model"].fillna("") + ")",
        "conversion within 12m " + conv.fillna("?") + " (" + out["conversion_model"].fillna("")
        + ")",
    )  # fmt: skip
    zh = np.where(
        out["expected_value_12m"].notna(),
        "预计12个月金额" + value.fillna("") + "元；流失风险" + churn.fillna("?"),
        "12个月内转化概率" + conv.fillna("?"),
    )
    unknown = out[["expected_value_12m", "churn_probability", "conversion_probability"]].isna()
    none = unknown.all(axis=1).to_numpy()
    en = np.where(none, f"{NO_DATA_EN}: history shorter than the model horizon", en)
    zh = np.where(none, f"{NO_DATA_ZH}：历史短于模型期限", zh)
    return pd.Series(en, index=out.index), pd.Series(zh, index=out.index)


def _conversion_reasons(out: pd.DataFrame, results: dict[str, TargetResult]) -> pd.DataFrame:
    """Why each account's conversion probability is what it is: the winning model and, when
    the history was too short for a contest, that the naive baseline stands in; "not a
    prospect" for paying accounts; "no data" when nothing a horizon back could teach it."""
    conversion = results["conversion"]
    ids = out["golden_account_id"]
    prospect = isin(ids, conversion.predictions["golden_account_id"])
    paying = isin(ids, results["churn"].predictions["golden_account_id"]) & ~prospect
    known = out["conversion_probability"].notna().to_numpy()
    pct = (out["conversion_probability"] * 100).round(1).map("{:.1f}%".format, na_action="ignore")
    naive_en = "; too little history for a contest, naive baseline" if conversion.note else ""
    naive_zh = "；历史不足以比较模型，采用朴素基线" if conversion.note else ""
    en = "conversion within 12m " + pct.fillna("") + f" ({conversion.winner}{naive_en})"
    zh = "12个月内转化概率" + pct.fillna("") + f"（{conversion.winner}{naive_zh}）"
    en = np.where(known, en, f"{NO_DATA_EN}: no prospects a horizon back to learn from")
    zh = np.where(known, zh, f"{NO_DATA_ZH}：一个预测期前没有可供学习的潜在客户")
    en = np.where(paying, "not a prospect: has a paid order", en)
    zh = np.where(paying, "非潜在客户：已有付费订单", zh)
    absent = ~(prospect | paying)
    en = np.where(absent, f"{NO_DATA_EN}: no feature row as of the date", en)
    zh = np.where(absent, f"{NO_DATA_ZH}：该日期没有特征记录", zh)
    return pd.DataFrame({"conversion_reason": en, "conversion_reason_zh": zh}, index=out.index)


def _version(as_of: date, rules_version: str, results: dict[str, TargetResult]) -> str:
    summary = {
        t: [r.winner, r.contest[r.metric].round(6).tolist()] for t, r in sorted(results.items())
    }
    digest = hashlib.sha256(
        json.dumps([rules_version, str(as_of), summary], sort_keys=True, default=str).encode()
    ).hexdigest()[:8]
    return f"models-{as_of:%Y%m%d}-{digest}"


def _card(
    version: str,
    as_of: date,
    cfg: ModelsConfig,
    results: dict[str, TargetResult],
    trained_under: dict[str, str],
) -> dict:
    """The model card: what competed, on which windows, what won and how it calibrates."""
    return {
        "model_version": version,
        "trained_as_of": as_of.isoformat(),
        **trained_under,
        "retrain_every_days": cfg.retrain_every_days,
        "retrain_psi": cfg.retrain_psi,
        "horizon_days": cfg.horizon_days,
        "windows": {
            "fit": "features as of as_of - 2H, outcomes in the following H days",
            "judge": "features as of as_of - H, outcomes up to as_of (unseen by every candidate)",
            "score": "features as of as_of; the winner refitted on the judged window",
        },
        "tie_tolerance": cfg.tie_tolerance,
        "max_drift_logit": cfg.max_drift_logit,
        "targets": {
            t: {
                "metric": r.metric,
                "winner": r.winner,
                "note": r.note,
                "contest": json.loads(r.contest.to_json(orient="records")),
                "calibration": json.loads(r.calibration.to_json(orient="records")),
                "drift_logit": round(r.drift_logit, 6),
            }
            for t, r in results.items()
        },
    }


def _predictions(
    accounts: pd.Series, results: dict[str, TargetResult], version: str, card: dict, trained: date
) -> Predictions:
    out = _scores(accounts, results)
    out["prediction_reason"], out["prediction_reason_zh"] = _reasons(out)
    out[["conversion_reason", "conversion_reason_zh"]] = _conversion_reasons(out, results)
    return Predictions(out, results, version, card, trained)


def predict(
    windows: pd.DataFrame,
    accounts: pd.Series,
    cfg: ModelsConfig,
    clv_cfg: clv_mod.ClvConfig,
    as_of: date,
    rules_version: str,
    trained_under: dict[str, str] | None = None,
) -> Predictions:
    """Run the three contests on ``windows`` (rows of features.account_windows, ordered by
    account and periods_back) and predict for ``accounts`` (golden ids, in order).
    ``rules_version`` (of the models' rules) names the model version; ``trained_under`` (e.g.
    all scoring rules' and the code's versions) is recorded on the card."""
    vocab = vocabularies(windows)
    # One BG/NBD fit per window for all targets (value and churn both read it); stored models
    # keep sharing it, so a day scored with them fits BG/NBD once.
    bgnbd = bgnbd_outputs(clv_cfg, cfg.horizon_days, windows)
    results = {t: run_target(windows, t, cfg, clv_cfg, vocab, bgnbd) for t in TARGETS}
    version = _version(as_of, rules_version, results)
    card = _card(version, as_of, cfg, results, trained_under or {})
    return _predictions(accounts, results, version, card, as_of)


def rescore_with(
    training: StoredTraining, windows: pd.DataFrame, accounts: pd.Series
) -> Predictions:
    """The stored ``training``'s winners scoring the as-of date's rows of ``windows``: no
    contest, no fit (a BG/NBD winner is fitted on the rows it scores, as when it was trained)."""
    results = {t: rescore(r, windows) for t, r in training.results.items()}
    return _predictions(
        accounts, results, training.model_version, training.card, training.trained_as_of
    )
