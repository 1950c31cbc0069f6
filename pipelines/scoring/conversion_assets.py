"""Dagster assets of the conversion model: training (or reuse) and scoring, two steps.

``scores/conversion_model`` decides which model the run uses — the stored one while it is
fresh, its rules unchanged and its inputs not drifted, else a new one trained on
``features.lead_features`` — and records the choice for the snapshot. ``scores/conversion``
scores every account of ``features.account_features`` with it, or falls back to the fit
score when there is no model.

No ``from __future__ import annotations`` here: Dagster inspects the real ``context`` type.
"""

import pandas as pd
from dagster import AssetExecutionContext, AssetKey, MaterializeResult, MetadataValue, asset

from pipelines import warehouse as wh
from pipelines.config.loader import combine_versions
from pipelines.engine import read_model
from pipelines.metadata import markdown_table, numeric_distribution_md
from pipelines.partitions import AS_OF_PARTITIONS
from pipelines.resources import Warehouse
from pipelines.run_context import RunContextResource
from pipelines.scoring import conversion
from pipelines.scoring.features import ACCOUNT_FEATURES, LEAD_FEATURES
from pipelines.scoring.metadata import metric_metadata, score_metadata
from pipelines.scoring.tables import FEATURES_KEY, GROUP, base_metadata, write_scores
from pipelines.settings import get_paths

MODEL_KEY = AssetKey(["scores", "conversion_model"])


@asset(
    key=MODEL_KEY,
    group_name=GROUP,
    partitions_def=AS_OF_PARTITIONS,
    deps=[AssetKey(["lead_features"])],
    kinds={"python", "scikitlearn"},
    description=(
        "Chooses the run's conversion model: the stored one (data/models/conversion) unless it "
        "is stale, its rules changed or its score or key features drifted (PSI), else a "
        "calibrated gradient-boosting model trained on features.lead_features, evaluated on "
        "the most recent leads and stored with its card."
    ),
)
def conversion_model(
    context: AssetExecutionContext, warehouse: Warehouse, run: RunContextResource
) -> MaterializeResult:
    ctx = run.ctx
    cfg = ctx.config.rules("conversion")
    models_dir = get_paths().models_dir
    with warehouse.connect(read_only=True) as con:
        leads = read_model(
            con, LEAD_FEATURES, conversion.LEAD_FEATURE_COLUMNS, order_by=("lead_id",)
        )
    # The model depends on the conversion rules and on the engagement features' definition.
    rules_version = combine_versions(
        {name: ctx.config.rules_version_of(name) for name in ("conversion", "behaviour")}
    )
    decision = conversion.choose_model(
        conversion.lead_rows(leads), models_dir, ctx.as_of, rules_version, cfg
    )
    conversion.record_choice(models_dir, ctx.snapshot_id, decision.choice)
    context.log.info(decision.choice.status)
    return MaterializeResult(metadata=model_metadata(decision, len(leads)))


def model_metadata(decision: conversion.ModelDecision, leads: int) -> dict:
    """What an analyst needs to trust (or not) the run's model."""
    choice, card = decision.choice, decision.card
    meta: dict = {
        "leads": MetadataValue.int(leads),
        "model_version": MetadataValue.text(choice.model_version or "none (fit fallback)"),
        "model_status": MetadataValue.text(choice.status),
    }
    if card is not None:
        imp = pd.Series(card["permutation_importance"]).sort_values(ascending=False).head(10)
        meta["holdout_metrics"] = MetadataValue.md(markdown_table(pd.DataFrame([card["metrics"]])))
        meta["roc_auc"] = MetadataValue.float(card["metrics"]["roc_auc"])
        meta.update(metric_metadata(card["metrics"]))  # model_<metric>, plotted per run
        meta["permutation_importance"] = MetadataValue.md(
            markdown_table(pd.DataFrame({"feature": imp.index, "auc_drop": imp.to_numpy()}))
        )
    if decision.trained is not None and len(decision.trained.calibration):
        meta["calibration"] = MetadataValue.md(markdown_table(decision.trained.calibration))
    if decision.drift:
        drift = pd.DataFrame(
            {"feature": list(decision.drift), "psi": list(decision.drift.values())}
        )
        meta["psi"] = MetadataValue.md(markdown_table(drift))
    return meta


@asset(
    key=["scores", "conversion"],
    group_name=GROUP,
    partitions_def=AS_OF_PARTITIONS,
    deps=[FEATURES_KEY, MODEL_KEY, AssetKey(["scores", "fit"])],
    kinds={"python", "duckdb"},
    description=(
        "Conversion probability per account from the run's model, with its two strongest "
        "drivers in words; fit score / 100 (conversion_source = fit_fallback) without a model."
    ),
)
def conversion_scores(
    context: AssetExecutionContext, warehouse: Warehouse, run: RunContextResource
) -> MaterializeResult:
    ctx = run.ctx
    cfg = ctx.config.rules("conversion")
    models_dir = get_paths().models_dir
    choice = conversion.read_choice(models_dir, ctx.snapshot_id)
    with warehouse.connect() as con:
        if choice.model_version is None:
            fit = wh.read_table(con, "scores.fit", ["golden_account_id", "fit_score"])
            df = conversion.fallback_scores(fit, choice.status)
        else:
            model, card = conversion.load_model(models_dir, choice.model_version)
            features = read_model(con, ACCOUNT_FEATURES, conversion.ACCOUNT_FEATURE_COLUMNS)
            df = conversion.score_accounts(model, card, features, cfg)
        model_version = choice.model_version or "fit_fallback"
        write_scores(con, "conversion", df, ctx, "conversion", model_version)
    return MaterializeResult(metadata=base_metadata(
        df, ctx.config.rules_version_of("conversion"),
        model_version=MetadataValue.text(model_version),
        model_status=MetadataValue.text(choice.status),
        probability=MetadataValue.md(numeric_distribution_md(df["conversion_probability"], "conversion probability")),
        **score_metadata(warehouse, "conversion", conversion_probability=df["conversion_probability"]),
    ))  # fmt: skip
