"""Dagster asset of the prediction models: the value, churn and conversion contests on the
company's own history (``features.account_windows``) and the winners' predictions.

Writes ``scores.predictions`` (one row per account), appends the day's contest to
``scores.model_contest`` (rows of that as-of date replaced) and stores the model card under
``data/models/predictions/<model_version>/card.json``.

No ``from __future__ import annotations`` here: Dagster inspects the real ``context`` type.
"""

import json
import os

import numpy as np
import pandas as pd
from dagster import AssetExecutionContext, AssetKey, MaterializeResult, MetadataValue

from pipelines import warehouse as wh
from pipelines.engine import read_model
from pipelines.metadata import markdown_table, numeric_distribution_md
from pipelines.resources import Warehouse
from pipelines.run_context import RunContextResource
from pipelines.scoring import models
from pipelines.scoring.models import CONTEST_TYPES, Predictions
from pipelines.scoring.tables import FEATURES_KEY, base_metadata, score_asset, write_scores
from pipelines.settings import get_paths

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
    cfg, clv_cfg = ctx.config.rules("models"), ctx.config.rules("clv")
    version = ctx.config.rules_version_of("models")
    with warehouse.connect() as con:
        # from the engine that built the feature layer (on Spark through Arrow)
        windows = read_model(
            con, models.ACCOUNT_WINDOWS, models.WINDOW_COLUMNS,
            order_by=("golden_account_id", "periods_back"),
        )  # fmt: skip
        accounts = read_model(con, "features.account_features", ["golden_account_id"])
        result = models.predict(
            windows, accounts["golden_account_id"], cfg, clv_cfg, ctx.as_of, version
        )
        with wh.transaction(con):
            write_scores(con, "predictions", result.scores, ctx, "models", result.model_version)
            wh.replace_rows(
                con, CONTEST_TABLE, result.contest_rows(ctx.as_of), "as_of_date", [ctx.as_of],
                CONTEST_TYPES,
            )  # fmt: skip
    _save_card(result)
    for target, r in result.results.items():
        context.log.info(f"{target}: winner {r.winner} ({r.metric}) {r.note}")
    return MaterializeResult(metadata=base_metadata(result.scores, version, **_metadata(result)))


def _save_card(result: Predictions) -> None:
    folder = get_paths().models_dir / "predictions" / result.model_version
    folder.mkdir(parents=True, exist_ok=True)
    text = json.dumps(result.card, indent=2, ensure_ascii=False, default=str, sort_keys=True)
    tmp = folder / ".card.json.tmp"
    tmp.write_text(text + "\n", encoding="utf-8")
    os.replace(tmp, folder / "card.json")  # a reader sees the whole card or the previous one


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
    ev = np.log10(result.scores["expected_value_12m"].dropna().clip(lower=0) + 1)
    meta["expected_value_12m"] = MetadataValue.md(
        numeric_distribution_md(ev, "log10(1 + expected value 12m)")
    )
    return meta
