"""Dagster asset of the prediction models: the value, churn and conversion contests on the
company's own history (``features.account_windows``) and the winners' predictions.

Writes ``scores.predictions`` (one row per account), appends the day's contest to
``scores.model_contest`` (rows of that as-of date replaced) and stores the model card and the
fitted winners under ``data/models/predictions/<model_version>/`` (:mod:`.models.store`) when
it trains; between trainings it scores with the stored winners.

No ``from __future__ import annotations`` here: Dagster inspects the real ``context`` type.
"""

import numpy as np
import pandas as pd
from dagster import AssetExecutionContext, AssetKey, MaterializeResult, MetadataValue

from pipelines import warehouse as wh
from pipelines.engine import read_model
from pipelines.metadata import markdown_table, numeric_distribution_md
from pipelines.resources import Warehouse
from pipelines.run_context import RunContextResource
from pipelines.scoring import models
from pipelines.scoring.models import CONTEST_TYPES, Predictions, store
from pipelines.scoring.tables import FEATURES_KEY, base_metadata, score_asset, write_scores
from pipelines.settings import comparable_code_version, get_paths

WINDOWS_KEY = AssetKey(["account_windows"])
CONTEST_TABLE = "scores.model_contest"


@score_asset(
    "predictions",
    "12-month value, churn and prospect-conversion predictions of the models that won the "
    "contest against the naive baseline on the company's own history (config/scoring/models.yaml).",
    deps=(FEATURES_KEY, WINDOWS_KEY),
)
def prediction_scores(
    context: AssetExecutionContext, warehouse: Warehouse, run: RunContextResource
) -> MaterializeResult:
    ctx = run.ctx
    cfg = ctx.config.rules("models")
    with warehouse.connect() as con:
        # from the engine that built the feature layer (on Spark through Arrow)
        windows = read_model(
            con, models.ACCOUNT_WINDOWS, models.WINDOW_COLUMNS,
            order_by=("golden_account_id", "periods_back"),
        )  # fmt: skip
        accounts = read_model(con, "features.account_features", ["golden_account_id"])
        result, training = _scheduled(
            ctx, cfg, windows, accounts["golden_account_id"], retrain=run.rebuild
        )
        with wh.transaction(con):
            write_scores(con, "predictions", result.scores, ctx, "models", result.model_version)
            if training["trained"]:  # a day that scores with a stored model held no contest
                wh.replace_rows(
                    con, CONTEST_TABLE, result.contest_rows(ctx.as_of), "as_of_date",
                    [ctx.as_of], CONTEST_TYPES,
                )  # fmt: skip
    if training["trained"]:
        stored = store.StoredTraining.of(
            result.model_version, result.trained_as_of, result.card, result.results
        )
        store.save(get_paths().models_dir, stored, ctx.code_version)
    context.log.info(f"models {result.model_version}: {training['reason']}")
    for target, r in result.results.items():
        context.log.info(f"{target}: winner {r.winner} ({r.metric}) {r.note}")
    version = ctx.config.rules_version_of("models")
    meta = {**_metadata(result), **_training_metadata(result, training, ctx.as_of)}
    return MaterializeResult(metadata=base_metadata(result.scores, version, **meta))


def _scheduled(
    ctx,
    cfg: models.ModelsConfig,
    windows: pd.DataFrame,
    accounts: pd.Series,
    retrain: bool = False,
) -> tuple[Predictions, dict]:
    """The day's predictions: from the newest stored training the schedule allows (see
    pipelines/scoring/models/store.py) when its predictions have not drifted, else from a new
    training (always when ``retrain``: a rebuild asked for). Also what was decided and why."""
    found = None
    if not retrain:
        found = store.latest(
            get_paths().models_dir, ctx.as_of, cfg.retrain_every_days, ctx.rules_version,
            ctx.code_version,
        )  # fmt: skip
    reason = f"no stored training of the last {cfg.retrain_every_days} days under these rules"
    if retrain:
        reason = "a rebuild was asked for (run config rebuild: true, make run REBUILD=1)"
    elif not comparable_code_version(ctx.code_version):
        reason = f"code version {ctx.code_version!r} is not comparable: trained on every run"
    elif cfg.retrain_every_days == 1:
        reason = "retrain_every_days is 1: trained on every run"
    psi: dict[str, float] = {}
    if found is not None:
        try:
            stored = store.load(found)
            result = models.rescore_with(stored, windows, accounts)
        except Exception as exc:  # noqa: BLE001 - any failure to reuse means: train instead
            reason = f"stored training {found.parent.name} unusable ({type(exc).__name__}: {exc})"
        else:
            psi = store.drift(stored, {t: r.predictions for t, r in result.results.items()})
            drifted = {t: v for t, v in psi.items() if v > cfg.retrain_psi}
            if not drifted:
                age = (ctx.as_of - stored.trained_as_of).days
                reason = (
                    f"scored with the training of {stored.trained_as_of} ({age} days old, "
                    f"retrained every {cfg.retrain_every_days}); largest drift PSI "
                    f"{max(psi.values(), default=0.0):.3f} <= {cfg.retrain_psi}"
                )
                return result, {"trained": False, "reason": reason, "psi": psi}
            reason = "predictions drifted since the training of " + (
                f"{stored.trained_as_of}: "
                + ", ".join(f"{t} PSI {v:.3f}" for t, v in sorted(drifted.items()))
                + f" > {cfg.retrain_psi}"
            )
    trained_under = {"rules_version": ctx.rules_version, "code_version": ctx.code_version}
    result = models.predict(
        windows, accounts, cfg, ctx.config.rules("clv"), ctx.as_of,
        ctx.config.rules_version_of("models"), trained_under,
    )  # fmt: skip
    return result, {"trained": True, "reason": "trained: " + reason, "psi": psi}


def _training_metadata(result: Predictions, training: dict, as_of) -> dict:
    """Whether the day trained or scored with a stored training, why, and the drift."""
    meta = {
        "trained_this_run": MetadataValue.bool(training["trained"]),
        "trained_as_of": MetadataValue.text(result.trained_as_of.isoformat()),
        "model_age_days": MetadataValue.int((as_of - result.trained_as_of).days),
        "training_decision": MetadataValue.text(training["reason"]),
    }
    for target, value in training["psi"].items():
        meta[f"{target}_drift_psi"] = MetadataValue.float(float(value))
    return meta


def _metadata(result: Predictions) -> dict:
    """The contest per target (numbers an analyst can plot over as-of dates) and tables."""
    meta: dict = {"model_version": MetadataValue.text(result.model_version)}
    for target, r in result.results.items():
        contest = r.contest.drop(columns=["description", "error"], errors="ignore")
        meta[f"{target}_contest"] = MetadataValue.md(markdown_table(contest.round(4)))
        meta[f"{target}_winner"] = MetadataValue.text(r.winner)
        won = r.contest.loc[r.contest["winner"], r.metric]
        if len(won) and pd.notna(won.iloc[0]):
            meta[f"{target}_{r.metric}"] = MetadataValue.float(float(won.iloc[0]))
        if len(r.calibration):
            meta[f"{target}_calibration"] = MetadataValue.md(markdown_table(r.calibration.round(4)))
        if target != "value":
            meta[f"{target}_drift_logit"] = MetadataValue.float(round(float(r.drift_logit), 6))
    ev = np.log10(result.scores["expected_value_12m"].dropna().clip(lower=0) + 1)
    meta["expected_value_12m"] = MetadataValue.md(
        numeric_distribution_md(ev, "log10(1 + expected value 12m)")
    )
    return meta
