"""Dagster assets for the scores: read the feature layer, call a score module, write
``scores.<name>`` keyed by golden_account_id.

Every table is stamped with ``as_of_date`` and ``rules_version`` (and ``model_version`` for
models); every asset reports row count, a distribution table + inline chart and versions.
The combined ``scores.account_scores`` is a dbt model over these tables (the
``dbt_score_models`` asset); the prediction models' asset (value, churn, conversion) is in
``model_assets.py``, the shared reading, stamping and writing in ``tables.py``.

No ``from __future__ import annotations`` here: Dagster inspects the real ``context`` type.
"""

import numpy as np
import pandas as pd
from dagster import AssetExecutionContext, MaterializeResult, MetadataValue

from pipelines import warehouse as wh
from pipelines.metadata import (
    category_distribution_md,
    line_chart_md,
    markdown_table,
    numeric_distribution_md,
)
from pipelines.resources import Warehouse
from pipelines.run_context import RunContextResource
from pipelines.scoring import abc as abc_mod
from pipelines.scoring import behaviour as behaviour_mod
from pipelines.scoring import cluster_runs
from pipelines.scoring import clustering as clustering_mod
from pipelines.scoring import clv as clv_mod
from pipelines.scoring import fit as fit_mod
from pipelines.scoring import rfm as rfm_mod
from pipelines.scoring import risk as risk_mod
from pipelines.scoring.metadata import RISK_LEVELS, score_metadata, share_metadata
from pipelines.scoring.model_assets import prediction_scores
from pipelines.scoring.tables import base_metadata, read_features, score_asset, write_scores


@score_asset("rfm", "RFM bins, weighted score and segment per account (config/scoring/rfm.yaml).")
def rfm_scores(
    context: AssetExecutionContext, warehouse: Warehouse, run: RunContextResource
) -> MaterializeResult:
    ctx = run.ctx
    cfg = ctx.config.rules("rfm")
    with warehouse.connect() as con:
        features = read_features(con, rfm_mod.FEATURE_COLUMNS)
        df = rfm_mod.score_rfm(features, cfg)
        write_scores(con, "rfm", df, ctx, "rfm")
    return MaterializeResult(metadata=base_metadata(
        df, ctx.config.rules_version_of("rfm"),
        segments=MetadataValue.md(category_distribution_md(df["rfm_segment"], "RFM segments")),
        rfm_score=MetadataValue.md(numeric_distribution_md(df["rfm_score"], "rfm_score")),
        **score_metadata(warehouse, "rfm", rfm_score=df["rfm_score"]),
    ))  # fmt: skip


@score_asset("abc", "Pareto A/B/C classes on trailing-12-month net revenue, Lorenz curve, Gini.")
def abc_scores(
    context: AssetExecutionContext, warehouse: Warehouse, run: RunContextResource
) -> MaterializeResult:
    ctx = run.ctx
    cfg = ctx.config.rules("abc")
    with warehouse.connect() as con:
        acc = read_features(con, ["golden_account_id", "net_revenue_365d"])
        df = pd.concat([acc, abc_mod.abc_classes(acc["net_revenue_365d"], cfg)], axis=1)
        df["abc_reason"], df["abc_reason_zh"] = abc_mod.abc_reasons(df)
        write_scores(con, "abc", df, ctx, "abc")
    return MaterializeResult(
        metadata=base_metadata(
            df,
            ctx.config.rules_version_of("abc"),
            **_abc_metadata(df, cfg),
            **score_metadata(warehouse, "abc"),
            **share_metadata("abc_share", df["abc_class"], "ABC"),
        )
    )


def _abc_metadata(df: pd.DataFrame, cfg: abc_mod.AbcConfig) -> dict:
    x, y = abc_mod.lorenz_curve(df["net_revenue_365d"], cfg.lorenz_points)
    g = abc_mod.gini(df["net_revenue_365d"])
    lorenz = pd.DataFrame({"share_of_accounts": x, "share_of_revenue": y})
    chart = line_chart_md(x, y, f"Lorenz curve (Gini {g:.2f})", diagonal=True)
    return {
        "gini": MetadataValue.float(g),
        "classes": MetadataValue.md(category_distribution_md(df["abc_class"], "ABC classes")),
        "lorenz": MetadataValue.md(markdown_table(lorenz) + "\n\n" + chart),
    }


@score_asset("clusters", "K-means segments with ids matched to the previous run's centroids.")
def cluster_scores(
    context: AssetExecutionContext, warehouse: Warehouse, run: RunContextResource
) -> MaterializeResult:
    ctx = run.ctx
    cfg, version = ctx.config.rules("clustering"), ctx.config.rules_version_of("clustering")
    with warehouse.connect() as con:
        features = read_features(con, clustering_mod.feature_columns(cfg))
        history = (
            wh.read_table(
                con, cluster_runs.CENTROIDS, order_by=("as_of_date", "cluster_id", "feature")
            )
            if wh.table_exists(con, cluster_runs.CENTROIDS)
            else pd.DataFrame()
        )
        result = cluster_runs.cluster_scores(
            features, cfg, history, ctx.as_of, version, ctx.code_version, refit=run.rebuild
        )
        with wh.transaction(con):
            write_scores(con, "clusters", result.scores, ctx, "clustering", result.model_version)
            wh.replace_rows(
                con,
                cluster_runs.CENTROIDS,
                result.centroids,
                "as_of_date",
                [ctx.as_of],
                cluster_runs.CENTROID_TYPES,
            )
    return MaterializeResult(
        metadata=base_metadata(
            result.scores,
            version,
            **_cluster_metadata(result),
            **score_metadata(warehouse, "clusters"),
        )
    )


def _cluster_metadata(result: cluster_runs.ClusterScores) -> dict:
    fit, labels = result.fit, result.labels
    summary = labels.assign(n_accounts=pd.Series(fit.labels).value_counts()).reset_index()
    sil = pd.DataFrame({"k": list(fit.silhouettes), "silhouette": list(fit.silhouettes.values())})
    chart = category_distribution_md(result.scores["cluster_label"], "accounts per cluster")
    schedule = result.schedule
    meta = {
        "model_version": MetadataValue.text(result.model_version),
        "k": MetadataValue.int(fit.k),
        "silhouette": MetadataValue.md(markdown_table(sil)),
        "clusters": MetadataValue.md(markdown_table(summary) + "\n\n" + chart.split("\n\n")[-1]),
        "refitted_this_run": MetadataValue.bool(schedule["refitted"]),
        "fitted_as_of": MetadataValue.text(fit.fitted_as_of.isoformat()),
        "refit_decision": MetadataValue.text(schedule["reason"]),
    }
    if fit.k in fit.silhouettes:
        meta["silhouette_score"] = MetadataValue.float(fit.silhouettes[fit.k])
    if schedule["share_psi"] is not None:
        meta["cluster_share_psi"] = MetadataValue.float(schedule["share_psi"])
    return meta


@score_asset("behaviour", "Decayed, capped engagement points per activity type (behaviour.yaml).")
def behaviour_scores(
    context: AssetExecutionContext, warehouse: Warehouse, run: RunContextResource
) -> MaterializeResult:
    ctx = run.ctx
    cfg = ctx.config.rules("behaviour")
    with warehouse.connect() as con:
        df = behaviour_mod.score_behaviour(
            read_features(con, behaviour_mod.feature_columns(cfg)), cfg
        )
        write_scores(con, "behaviour", df, ctx, "behaviour")
    per_type = pd.DataFrame(
        {
            "activity_type": list(cfg.types),
            "accounts": [int((df[f"behaviour_{t}_points"] != 0).sum()) for t in cfg.types],
            "points": [float(df[f"behaviour_{t}_points"].sum()) for t in cfg.types],
        }
    )
    return MaterializeResult(metadata=base_metadata(
        df, ctx.config.rules_version_of("behaviour"),
        behaviour_points=MetadataValue.md(numeric_distribution_md(df["behaviour_points"], "behaviour points")),
        **score_metadata(warehouse, "behaviour", behaviour_points=df["behaviour_points"]),
        per_type=MetadataValue.md(markdown_table(per_type)),
    ))  # fmt: skip


@score_asset("fit", "Ideal-customer-profile fit 0-100 with each rule's points (fit.yaml).")
def fit_scores(
    context: AssetExecutionContext, warehouse: Warehouse, run: RunContextResource
) -> MaterializeResult:
    ctx = run.ctx
    cfg = ctx.config.rules("fit")
    with warehouse.connect() as con:
        df = fit_mod.score_fit(read_features(con, fit_mod.feature_columns(cfg)), cfg)
        write_scores(con, "fit", df, ctx, "fit")
    return MaterializeResult(metadata=base_metadata(
        df, ctx.config.rules_version_of("fit"),
        fit_score=MetadataValue.md(numeric_distribution_md(df["fit_score"], "fit score")),
        **score_metadata(warehouse, "fit", fit_score=df["fit_score"]),
    ))  # fmt: skip


@score_asset("clv", "BG/NBD x Gamma-Gamma 12-month CLV, P(alive) and churn risk (clv.yaml).")
def clv_scores(
    context: AssetExecutionContext, warehouse: Warehouse, run: RunContextResource
) -> MaterializeResult:
    ctx = run.ctx
    cfg = ctx.config.rules("clv")
    with warehouse.connect() as con:
        result = clv_mod.clv_scores(read_features(con, clv_mod.FEATURE_COLUMNS), cfg, ctx.as_of)
        write_scores(con, "clv", result.scores, ctx, "clv", result.model_version)
    return MaterializeResult(
        metadata=base_metadata(
            result.scores,
            ctx.config.rules_version_of("clv"),
            **_clv_metadata(result),
            **score_metadata(
                warehouse, "clv", clv_12m=result.scores["clv_12m"], p_alive=result.scores["p_alive"]
            ),
        )
    )


def _clv_metadata(result: clv_mod.ClvScores) -> dict:
    df, params = result.scores, result.parameters
    log_clv = np.log10(df["clv_12m"].clip(lower=0) + 1)
    return {
        "model_version": MetadataValue.text(result.model_version),
        "parameters": MetadataValue.md(
            markdown_table(
                pd.DataFrame({"parameter": list(params), "value": list(params.values())})
            )
        ),
        "customers_fitted": MetadataValue.int(result.customers_fitted),
        "clv_12m": MetadataValue.md(numeric_distribution_md(log_clv, "log10(1 + CLV 12m)")),
        "churn_risk": MetadataValue.md(numeric_distribution_md(df["churn_risk"], "churn risk")),
    }


@score_asset("risk", "Rule-based risk score and level, stale external data flagged (risk.yaml).")
def risk_scores(
    context: AssetExecutionContext, warehouse: Warehouse, run: RunContextResource
) -> MaterializeResult:
    ctx = run.ctx
    cfg = ctx.config.rules("risk")
    with warehouse.connect() as con:
        df = risk_mod.score_risk(read_features(con, risk_mod.FEATURE_COLUMNS), cfg)
        write_scores(con, "risk", df, ctx, "risk")
    return MaterializeResult(metadata=base_metadata(
        df, ctx.config.rules_version_of("risk"),
        risk_levels=MetadataValue.md(category_distribution_md(df["risk_level"], "risk levels")),
        stale_share=MetadataValue.float(float(df["risk_stale"].mean()) if len(df) else 0.0),
        **score_metadata(warehouse, "risk", risk_score=df["risk_score"]),
        **share_metadata("risk_share", df["risk_level"], RISK_LEVELS),
    ))  # fmt: skip


scoring_assets = [
    rfm_scores,
    abc_scores,
    cluster_scores,
    behaviour_scores,
    fit_scores,
    clv_scores,
    risk_scores,
    prediction_scores,
]
