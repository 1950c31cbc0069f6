"""Dagster assets for the scores: thin wrappers that read the marts, call the pure modules and
write ``scores.<name>`` tables keyed by golden_account_id.

Every table is stamped with ``as_of_date`` and ``rules_version`` (and ``model_version`` for
models); every asset reports row count, a distribution table + inline chart and versions.
"""

from datetime import date

import duckdb
import numpy as np
import pandas as pd
from dagster import AssetExecutionContext, AssetKey, MaterializeResult, MetadataValue, asset

from pipelines.catalog import table_metadata
from pipelines.config.loader import combine_versions
from pipelines.partitions import AS_OF_PARTITIONS
from pipelines.resources import Warehouse
from pipelines.run_context import RunContextResource
from pipelines.scoring import abc as abc_mod
from pipelines.scoring import behaviour as behaviour_mod
from pipelines.scoring import clustering as clustering_mod
from pipelines.scoring import clv as clv_mod
from pipelines.scoring import conversion as conversion_mod
from pipelines.scoring import fit as fit_mod
from pipelines.scoring import rfm as rfm_mod
from pipelines.scoring import risk as risk_mod
from pipelines.scoring.metadata import RISK_LEVELS, model_metadata, score_metadata, share_metadata
from pipelines.scoring.reporting import (
    category_distribution_md,
    line_chart_md,
    markdown_table,
    numeric_distribution_md,
)
from pipelines.settings import get_paths

CUSTOMER_360 = AssetKey(["customer_360"])
ORDERS = AssetKey(["orders"])
ACTIVITIES = AssetKey(["activities"])
LEADS = AssetKey(["leads"])
GROUP = "scoring"

# Columns of scores.account_scores that the tiering stage builds against (order kept).
ACCOUNT_SCORES_COLUMNS = [
    "golden_account_id", "as_of_date", "has_paid_order", "net_revenue_365d", "net_revenue_lifetime",
    "rfm_recency_days", "rfm_frequency", "rfm_monetary", "rfm_r", "rfm_f", "rfm_m", "rfm_score",
    "rfm_segment", "abc_class", "revenue_share_cum", "cluster_id", "cluster_label",
    "behaviour_points", "fit_score", "conversion_probability", "conversion_source",
    "expected_purchases_12m", "p_alive", "churn_risk", "clv_12m", "clv_percentile",
    "risk_score", "risk_level", "risk_stale", "score_reasons", "rules_version", "model_version",
]  # fmt: skip


def write_scores_table(
    con: duckdb.DuckDBPyConnection,
    name: str,
    df: pd.DataFrame,
    as_of: date,
    rules_version: str,
    model_version: str | None = None,
) -> None:
    """Replace ``scores.<name>`` with ``df`` stamped with the run date and versions."""
    out = df.copy()
    out.insert(1, "as_of_date", pd.Timestamp(as_of).date())
    out["rules_version"] = rules_version
    if model_version is not None:
        out["model_version"] = model_version
    con.execute("create schema if not exists scores")
    con.register("_scores_frame", out)
    try:
        con.execute(f"create or replace table scores.{name} as select * from _scores_frame")
    finally:
        con.unregister("_scores_frame")


def _customer_360(con: duckdb.DuckDBPyConnection, columns: list[str]) -> pd.DataFrame:
    return con.execute(
        f"select {', '.join(columns)} from marts.customer_360 order by golden_account_id"
    ).df()


def _base_metadata(df: pd.DataFrame, rules_version: str, **extra) -> dict:
    meta = {
        "row_count": MetadataValue.int(len(df)),
        "rules_version": MetadataValue.text(rules_version),
    }
    meta.update(extra)
    return meta


@asset(
    key=["scores", "rfm"],
    group_name=GROUP,
    partitions_def=AS_OF_PARTITIONS,
    deps=[CUSTOMER_360, ORDERS],
)
def rfm_scores(
    context: AssetExecutionContext, warehouse: Warehouse, run: RunContextResource
) -> MaterializeResult:
    """RFM bins, weighted score and segment per account (config/scoring/rfm.yaml)."""
    ctx = run.ctx
    cfg, version = ctx.config.rules("rfm"), ctx.config.rules_version_of("rfm")
    as_of = ctx.as_of
    with warehouse.connect() as con:
        df = rfm_mod.score_rfm(rfm_mod.rfm_values(con, as_of, cfg.lookback_days), cfg)
        write_scores_table(con, "rfm", df, as_of, version)
    return MaterializeResult(
        metadata=_base_metadata(
            df, version,
            segments=MetadataValue.md(category_distribution_md(df["rfm_segment"], "RFM segments")),
            rfm_score=MetadataValue.md(numeric_distribution_md(df["rfm_score"], "rfm_score")),
            **score_metadata(warehouse, "rfm", rfm_score=df["rfm_score"]),
        )
    )  # fmt: skip


@asset(
    key=["scores", "abc"], group_name=GROUP, partitions_def=AS_OF_PARTITIONS, deps=[CUSTOMER_360]
)
def abc_scores(
    context: AssetExecutionContext, warehouse: Warehouse, run: RunContextResource
) -> MaterializeResult:
    """Pareto A/B/C classes on trailing-12-month net revenue, with Lorenz curve and Gini."""
    ctx = run.ctx
    cfg, version = ctx.config.rules("abc"), ctx.config.rules_version_of("abc")
    as_of = ctx.as_of
    with warehouse.connect() as con:
        acc = _customer_360(con, ["golden_account_id", "net_revenue_365d"])
        classes = abc_mod.abc_classes(acc["net_revenue_365d"], cfg)
        df = pd.concat([acc, classes], axis=1)
        df["abc_reason"], df["abc_reason_zh"] = abc_mod.abc_reasons(df)
        write_scores_table(con, "abc", df, as_of, version)
    x, y = abc_mod.lorenz_curve(acc["net_revenue_365d"], cfg.lorenz_points)
    g = abc_mod.gini(acc["net_revenue_365d"])
    lorenz = pd.DataFrame({"share_of_accounts": x, "share_of_revenue": y})
    return MaterializeResult(
        metadata=_base_metadata(
            df, version,
            gini=MetadataValue.float(g),
            **score_metadata(warehouse, "abc"), **share_metadata("abc_share", df["abc_class"], "ABC"),
            classes=MetadataValue.md(category_distribution_md(df["abc_class"], "ABC classes")),
            lorenz=MetadataValue.md(
                markdown_table(lorenz) + "\n\n" + line_chart_md(x, y, f"Lorenz curve (Gini {g:.2f})", diagonal=True)
            ),
        )
    )  # fmt: skip


@asset(
    key=["scores", "clusters"],
    group_name=GROUP,
    partitions_def=AS_OF_PARTITIONS,
    deps=[CUSTOMER_360],
)
def cluster_scores(
    context: AssetExecutionContext, warehouse: Warehouse, run: RunContextResource
) -> MaterializeResult:
    """K-means segments with ids matched to the previous run's centroids (Hungarian)."""
    ctx = run.ctx
    cfg, version = ctx.config.rules("clustering"), ctx.config.rules_version_of("clustering")
    as_of = ctx.as_of
    with warehouse.connect() as con:
        raw = con.execute(clustering_mod.feature_sql(cfg) + " order by golden_account_id").df()
        features = clustering_mod.transform_features(raw, cfg)
        con.execute("create schema if not exists scores")
        con.execute(
            """create table if not exists scores.cluster_centroids (
                as_of_date date, cluster_id integer, feature varchar, centroid_value double,
                cluster_label varchar, n_accounts bigint, rules_version varchar)"""
        )
        # Previous run: the latest stored run up to today (a rerun matches its own earlier ids).
        prev_long = con.execute(
            """select cluster_id, feature, centroid_value from scores.cluster_centroids
               where as_of_date = (select max(as_of_date) from scores.cluster_centroids
                                   where as_of_date <= $d)""",
            {"d": as_of},
        ).df()
        fit = clustering_mod.fit_clusters(features, cfg, clustering_mod.centroids_wide(prev_long))
        labels = clustering_mod.describe_centroids(fit, cfg)
        df = pd.DataFrame({"golden_account_id": raw["golden_account_id"], "cluster_id": fit.labels})
        df["cluster_label"] = df["cluster_id"].map(labels["cluster_label"])
        df["cluster_label_zh"] = df["cluster_id"].map(labels["cluster_label_zh"])
        model_version = f"kmeans-k{fit.k}-{as_of:%Y%m%d}"
        write_scores_table(con, "clusters", df, as_of, version, model_version)
        long = clustering_mod.centroids_long(fit, labels)
        long.insert(0, "as_of_date", as_of)
        long["rules_version"] = version
        con.execute("delete from scores.cluster_centroids where as_of_date = $d", {"d": as_of})
        con.register("_centroids", long)
        con.execute(
            """insert into scores.cluster_centroids by name
               select as_of_date, cluster_id, feature, centroid_value, cluster_label, n_accounts, rules_version
               from _centroids"""
        )
        con.unregister("_centroids")
    summary = labels.assign(n_accounts=pd.Series(fit.labels).value_counts()).reset_index()
    sil = pd.DataFrame({"k": list(fit.silhouettes), "silhouette": list(fit.silhouettes.values())})
    return MaterializeResult(
        metadata=_base_metadata(
            df, version,
            model_version=MetadataValue.text(model_version),
            k=MetadataValue.int(fit.k),
            **score_metadata(warehouse, "clusters"), silhouette_score=MetadataValue.float(fit.silhouettes[fit.k]),
            silhouette=MetadataValue.md(markdown_table(sil)),
            clusters=MetadataValue.md(
                markdown_table(summary)
                + "\n\n"
                + category_distribution_md(df["cluster_label"], "accounts per cluster").split("\n\n")[-1]
            ),
        )
    )  # fmt: skip


@asset(
    key=["scores", "behaviour"],
    group_name=GROUP,
    partitions_def=AS_OF_PARTITIONS,
    deps=[CUSTOMER_360, ACTIVITIES],
)
def behaviour_scores(
    context: AssetExecutionContext, warehouse: Warehouse, run: RunContextResource
) -> MaterializeResult:
    """Decayed, capped engagement points per activity type (config/scoring/behaviour.yaml)."""
    ctx = run.ctx
    cfg, version = ctx.config.rules("behaviour"), ctx.config.rules_version_of("behaviour")
    as_of = ctx.as_of
    with warehouse.connect() as con:
        ids = _customer_360(con, ["golden_account_id"])["golden_account_id"]
        by_type = behaviour_mod.behaviour_points_by_type(con, as_of, cfg)
        df = behaviour_mod.score_behaviour(ids, by_type, cfg)
        write_scores_table(con, "behaviour", df, as_of, version)
    per_type = by_type.groupby("activity_type")[["n_events", "points"]].sum().reset_index()
    return MaterializeResult(
        metadata=_base_metadata(
            df, version,
            behaviour_points=MetadataValue.md(numeric_distribution_md(df["behaviour_points"], "behaviour points")),
            **score_metadata(warehouse, "behaviour", behaviour_points=df["behaviour_points"]),
            per_type=MetadataValue.md(markdown_table(per_type)),
        )
    )  # fmt: skip


@asset(
    key=["scores", "fit"], group_name=GROUP, partitions_def=AS_OF_PARTITIONS, deps=[CUSTOMER_360]
)
def fit_scores(
    context: AssetExecutionContext, warehouse: Warehouse, run: RunContextResource
) -> MaterializeResult:
    """Ideal-customer-profile fit 0-100 with each rule's points (config/scoring/fit.yaml)."""
    ctx = run.ctx
    cfg, version = ctx.config.rules("fit"), ctx.config.rules_version_of("fit")
    as_of = ctx.as_of
    with warehouse.connect() as con:
        columns = sorted({"golden_account_id", *(r.column for r in cfg.rules.values())})
        df = fit_mod.score_fit(_customer_360(con, columns), cfg)
        write_scores_table(con, "fit", df, as_of, version)
    return MaterializeResult(
        metadata=_base_metadata(
            df,
            version,
            fit_score=MetadataValue.md(numeric_distribution_md(df["fit_score"], "fit score")),
            **score_metadata(warehouse, "fit", fit_score=df["fit_score"]),
        )
    )


@asset(
    key=["scores", "conversion"],
    group_name=GROUP,
    partitions_def=AS_OF_PARTITIONS,
    deps=[CUSTOMER_360, LEADS, ACTIVITIES, ORDERS, AssetKey(["scores", "fit"])],
)
def conversion_scores(
    context: AssetExecutionContext, warehouse: Warehouse, run: RunContextResource
) -> MaterializeResult:
    """Lead conversion probability: stored model reused, retrained when stale/drifted, or the
    fit-score fallback when there are too few converted leads."""
    ctx = run.ctx
    cfg, version = ctx.config.rules("conversion"), ctx.config.rules_version_of("conversion")
    as_of = ctx.as_of
    models_dir = get_paths().models_dir
    meta: dict = {}
    with warehouse.connect() as con:
        leads = conversion_mod.lead_features(con, as_of, cfg)
        stored = conversion_mod.load_latest_model(models_dir, as_of)
        drift: dict[str, float] = {}
        if stored is not None:
            recent = leads[
                pd.to_datetime(leads["created_at"])
                > pd.Timestamp(as_of) - pd.Timedelta(days=cfg.drift_window_days)
            ]
            drift = conversion_mod.drift_report(stored[0], stored[1], recent, cfg)
        reason = conversion_mod.retrain_reason(
            stored[1] if stored else None, as_of, version, cfg, drift
        )
        model = card = None
        if reason is None:
            model, card = stored
            status = f"reused stored model {card['model_version']}"
        else:
            result = conversion_mod.train_conversion_model(leads, cfg, as_of, version)
            status = f"retrain ({reason}): {result.message}"
            if result.model is not None:
                conversion_mod.save_model(result, models_dir)
                model, card = result.model, result.card
                meta["calibration"] = MetadataValue.md(markdown_table(result.calibration))
        if model is None:
            acc = con.execute(
                "select golden_account_id, fit_score from scores.fit order by golden_account_id"
            ).df()
            df = conversion_mod.fallback_scores(acc, status)
            model_version = "fit_fallback"
        else:
            feats = conversion_mod.lead_features(con, as_of, cfg, for_accounts=True)
            df = conversion_mod.score_accounts(model, card, feats, cfg)
            model_version = card["model_version"]
            metrics = pd.DataFrame([card["metrics"]])
            imp = pd.Series(card["permutation_importance"]).sort_values(ascending=False).head(10)
            meta["holdout_metrics"] = MetadataValue.md(markdown_table(metrics))
            meta["roc_auc"] = MetadataValue.float(card["metrics"]["roc_auc"])
            meta.update(model_metadata(card["metrics"]))
            meta["permutation_importance"] = MetadataValue.md(
                markdown_table(pd.DataFrame({"feature": imp.index, "auc_drop": imp.to_numpy()}))
            )
        write_scores_table(con, "conversion", df, as_of, version, model_version)
    if drift:
        meta["psi"] = MetadataValue.md(
            markdown_table(pd.DataFrame({"feature": list(drift), "psi": list(drift.values())}))
        )
    meta.update(
        **score_metadata(
            warehouse, "conversion", conversion_probability=df["conversion_probability"]
        ),
        model_version=MetadataValue.text(model_version),
        model_status=MetadataValue.text(status),
        probability=MetadataValue.md(
            numeric_distribution_md(df["conversion_probability"], "conversion probability")
        ),
    )
    return MaterializeResult(metadata=_base_metadata(df, version, **meta))


@asset(
    key=["scores", "clv"],
    group_name=GROUP,
    partitions_def=AS_OF_PARTITIONS,
    deps=[CUSTOMER_360, ORDERS],
)
def clv_scores(
    context: AssetExecutionContext, warehouse: Warehouse, run: RunContextResource
) -> MaterializeResult:
    """BG/NBD x Gamma-Gamma 12-month CLV, P(alive) and churn risk."""
    ctx = run.ctx
    cfg, version = ctx.config.rules("clv"), ctx.config.rules_version_of("clv")
    as_of = ctx.as_of
    with warehouse.connect() as con:
        ids = _customer_360(con, ["golden_account_id"])
        summary = clv_mod.customer_summary(con, as_of, cfg.time_unit_days)
        pred, bg, gg = clv_mod.score_clv(summary, cfg)
        df = ids.merge(pred, on="golden_account_id", how="left")
        df["expected_purchases_12m"] = df["expected_purchases_12m"].fillna(0.0)
        df["clv_12m"] = df["clv_12m"].fillna(0.0)
        df["clv_percentile"] = df["clv_12m"].rank(method="average", pct=True)
        df["clv_reason"], df["clv_reason_zh"] = clv_mod.clv_reasons(df)
        params = {
            "r": bg.r,
            "alpha": bg.alpha,
            "a": bg.a,
            "b": bg.b,
            "p": gg.p,
            "q": gg.q,
            "v": gg.v,
        }
        model_version = (
            f"bgnbd-gg-{as_of:%Y%m%d}-"
            + combine_versions({k: f"{v:.6g}" for k, v in params.items()})[:8]
        )
        write_scores_table(con, "clv", df, as_of, version, model_version)
    return MaterializeResult(
        metadata=_base_metadata(
            df, version,
            model_version=MetadataValue.text(model_version),
            parameters=MetadataValue.md(markdown_table(pd.DataFrame({"parameter": list(params), "value": list(params.values())}))),
            customers_fitted=MetadataValue.int(len(summary)),
            **score_metadata(warehouse, "clv", clv_12m=df["clv_12m"], p_alive=df["p_alive"]),
            clv_12m=MetadataValue.md(numeric_distribution_md(np.log10(df["clv_12m"].clip(lower=0) + 1), "log10(1 + CLV 12m)")),
            churn_risk=MetadataValue.md(numeric_distribution_md(df["churn_risk"], "churn risk")),
        )
    )  # fmt: skip


@asset(
    key=["scores", "risk"], group_name=GROUP, partitions_def=AS_OF_PARTITIONS, deps=[CUSTOMER_360]
)
def risk_scores(
    context: AssetExecutionContext, warehouse: Warehouse, run: RunContextResource
) -> MaterializeResult:
    """Rule-based risk score and level, with stale external data flagged."""
    ctx = run.ctx
    cfg, version = ctx.config.rules("risk"), ctx.config.rules_version_of("risk")
    as_of = ctx.as_of
    cols = [
        "golden_account_id", "credit_rating", "overdue_amount_cny", "lawsuit_count",
        "abnormal_operation", "risk_as_of_date", "refund_rate",
    ]  # fmt: skip
    with warehouse.connect() as con:
        df = risk_mod.score_risk(_customer_360(con, cols), as_of, cfg)
        write_scores_table(con, "risk", df, as_of, version)
    return MaterializeResult(
        metadata=_base_metadata(
            df, version,
            risk_levels=MetadataValue.md(category_distribution_md(df["risk_level"], "risk levels")),
            stale_share=MetadataValue.float(float(df["risk_stale"].mean()) if len(df) else 0.0),
            **score_metadata(warehouse, "risk", risk_score=df["risk_score"]), **share_metadata("risk_share", df["risk_level"], RISK_LEVELS),
        )
    )  # fmt: skip


SCORE_TABLES = ["rfm", "abc", "clusters", "behaviour", "fit", "conversion", "clv", "risk"]

ACCOUNT_SCORES_SQL = """
select
    c.golden_account_id,
    $as_of::date as as_of_date,
    c.has_paid_order,
    c.net_revenue_365d::double as net_revenue_365d,
    c.net_revenue_lifetime::double as net_revenue_lifetime,
    r.rfm_recency_days, r.rfm_frequency, r.rfm_monetary, r.rfm_r, r.rfm_f, r.rfm_m, r.rfm_score,
    r.rfm_segment,
    a.abc_class, a.revenue_share_cum,
    k.cluster_id, k.cluster_label,
    b.behaviour_points,
    f.fit_score,
    cv.conversion_probability, cv.conversion_source,
    v.expected_purchases_12m, v.p_alive, v.churn_risk, v.clv_12m, v.clv_percentile,
    rk.risk_score, rk.risk_level, rk.risk_stale,
    concat_ws(' | ', r.rfm_segment, 'ABC ' || a.abc_class, k.cluster_label, v.clv_reason,
              rk.risk_reason, b.behaviour_reason) as score_reasons,
    $rules_version as rules_version,
    $model_version as model_version,
    concat_ws(' | ', r.rfm_segment_zh, a.abc_class || '类', k.cluster_label_zh, v.clv_reason_zh,
              rk.risk_reason_zh, b.behaviour_reason_zh) as score_reasons_zh,
    r.rfm_reason, a.abc_reason, b.behaviour_reason, f.fit_reason, cv.conversion_reason,
    v.clv_reason, rk.risk_reason
from marts.customer_360 as c
left join scores.rfm as r on r.golden_account_id = c.golden_account_id
left join scores.abc as a on a.golden_account_id = c.golden_account_id
left join scores.clusters as k on k.golden_account_id = c.golden_account_id
left join scores.behaviour as b on b.golden_account_id = c.golden_account_id
left join scores.fit as f on f.golden_account_id = c.golden_account_id
left join scores.conversion as cv on cv.golden_account_id = c.golden_account_id
left join scores.clv as v on v.golden_account_id = c.golden_account_id
left join scores.risk as rk on rk.golden_account_id = c.golden_account_id
"""


@asset(
    key=["scores", "account_scores"],
    group_name=GROUP,
    partitions_def=AS_OF_PARTITIONS,
    deps=[CUSTOMER_360, *[AssetKey(["scores", t]) for t in SCORE_TABLES]],
)
def account_scores(
    context: AssetExecutionContext, warehouse: Warehouse, run: RunContextResource
) -> MaterializeResult:
    """All scores side by side, one row per golden account: the tiering stage's input."""
    ctx = run.ctx
    as_of = ctx.as_of
    rules = {name: ctx.config.rules_version_of(name) for name in ctx.config.scoring}
    rules_version = ctx.rules_version
    with warehouse.connect() as con:
        # Model versions are results of this run's score steps, read from what they wrote.
        models = {
            t: con.execute(f"select any_value(model_version) from scores.{t}").fetchone()[0]
            for t in ("clusters", "conversion", "clv")
        }
        model_version = ";".join(f"{k}={v}" for k, v in models.items())
        con.execute(
            "create or replace table scores.account_scores as " + ACCOUNT_SCORES_SQL,
            {"as_of": as_of, "rules_version": rules_version, "model_version": model_version},
        )
        (n,) = con.execute("select count(*) from scores.account_scores").fetchone()
        tiers = con.execute(
            "select rfm_segment, abc_class, count(*) as accounts from scores.account_scores group by all order by all"
        ).df()
    versions = pd.DataFrame({"score": list(rules), "rules_version": list(rules.values())})
    return MaterializeResult(
        metadata={
            "row_count": MetadataValue.int(int(n)),
            "rules_version": MetadataValue.text(rules_version),
            "model_version": MetadataValue.text(model_version),
            "component_versions": MetadataValue.md(markdown_table(versions)),
            "segment_by_abc": MetadataValue.md(markdown_table(tiers)),
            **table_metadata(warehouse, "scores.account_scores"),
        }
    )


scoring_assets = [
    rfm_scores,
    abc_scores,
    cluster_scores,
    behaviour_scores,
    fit_scores,
    conversion_scores,
    clv_scores,
    risk_scores,
    account_scores,
]
