"""One run's K-means segments: the stored fits in ``scores.cluster_centroids``, the refit
schedule, and the run's cluster per account.

Refitting is scheduled like the prediction models: every ``refit_every_days`` days, when the
clustering config or the code changed, when the accounts' shares of the clusters drifted (PSI
above ``refit_psi`` against the fit day's shares) or on a rebuild. In between, each account is
assigned to the nearest stored centroid in the fit's own scaling (the model version names the
fit's date). The fitting itself and the words are in :mod:`pipelines.scoring.clustering`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np
import pandas as pd

from pipelines.scoring.clustering import (
    ClusterFit,
    ClusteringConfig,
    assign_clusters,
    describe_centroids,
    fit_clusters,
    transform_features,
)
from pipelines.scoring.models.store import share_stability
from pipelines.settings import comparable_code_version


def centroids_long(fit: ClusterFit, labels: pd.DataFrame) -> pd.DataFrame:
    """Centroids in long form for ``scores.cluster_centroids`` (one row per cluster x feature),
    with the fit's scaling per feature and each cluster's share of accounts on the fit day."""
    sizes = pd.Series(fit.labels).value_counts()
    long = fit.centroids.reset_index().melt(
        id_vars="cluster_id", var_name="feature", value_name="centroid_value"
    )
    long["cluster_label"] = long["cluster_id"].map(labels["cluster_label"])
    long["n_accounts"] = long["cluster_id"].map(sizes).fillna(0).astype("int64")
    long["feature_mean"] = long["feature"].map(fit.mean)
    long["feature_std"] = long["feature"].map(fit.std)
    shares = fit.fitted_share if fit.fitted_share is not None else sizes / max(len(fit.labels), 1)
    long["fitted_share"] = long["cluster_id"].map(shares).fillna(0.0)
    return long


def centroids_wide(long: pd.DataFrame) -> pd.DataFrame:
    """Inverse of ``centroids_long`` for matching: index cluster_id, columns features."""
    if long.empty:
        return pd.DataFrame()
    return long.pivot_table(index="cluster_id", columns="feature", values="centroid_value")


# scores.cluster_centroids: every run's centroids, in feature units (see centroids_long).
CENTROIDS = "scores.cluster_centroids"
CENTROID_TYPES = {
    "as_of_date": "date",
    "cluster_id": "integer",
    "feature": "varchar",
    "centroid_value": "double",
    "cluster_label": "varchar",
    "n_accounts": "bigint",
    "rules_version": "varchar",
    "feature_mean": "double",
    "feature_std": "double",
    "fitted_share": "double",
    "fitted_as_of": "date",
    "code_version": "varchar",
}


def _latest_rows(history: pd.DataFrame, as_of: date) -> pd.DataFrame:
    """The stored rows of the latest run up to ``as_of`` (a rerun of a date finds its own)."""
    if history.empty:
        return history
    dates = pd.to_datetime(history["as_of_date"]).dt.date
    eligible = dates[dates <= as_of]
    return history.iloc[:0] if eligible.empty else history[dates == eligible.max()]


def previous_centroids(history: pd.DataFrame, as_of: date) -> pd.DataFrame:
    """The centroids of the latest stored run up to ``as_of`` (a rerun of a date matches its
    own earlier ids), wide; empty when there is none."""
    return centroids_wide(_latest_rows(history, as_of))


def stored_fit(
    history: pd.DataFrame,
    as_of: date,
    cfg: ClusteringConfig,
    rules_version: str,
    code_version: str,
    features: list[str],
) -> tuple[ClusterFit | None, str]:
    """The latest stored fit up to ``as_of`` when the schedule lets the day use it, else None;
    and why (the reason a refit is needed, or the fit's date and age)."""
    rows = _latest_rows(history, as_of)
    if rows.empty:
        return None, "no stored centroids up to this date"
    if not comparable_code_version(code_version):
        return None, f"code version {code_version!r} is not comparable: refitted on every run"
    if "feature_std" not in rows or rows["feature_std"].isna().any():
        return None, "the stored centroids carry no scaling (stored before the refit schedule)"
    stored_rules, stored_code = rows["rules_version"].iloc[0], rows["code_version"].iloc[0]
    if stored_rules != rules_version:
        return None, f"the clustering config changed ({stored_rules} -> {rules_version})"
    if stored_code != code_version:
        return None, f"the code changed since the fit ({stored_code} -> {code_version})"
    if sorted(rows["feature"].unique()) != sorted(features):
        return None, "the clustering features changed"
    fitted = pd.Timestamp(rows["fitted_as_of"].iloc[0]).date()
    age = (as_of - fitted).days
    if age >= cfg.refit_every_days:
        return None, f"the fit of {fitted} is {age} days old (refit every {cfg.refit_every_days})"
    per_feature = rows.drop_duplicates("feature").set_index("feature")
    centroids = centroids_wide(rows)[features]
    fit = ClusterFit(
        labels=np.empty(0, dtype=int),
        centroids=centroids,
        k=len(centroids),
        silhouettes={},
        mean=per_feature["feature_mean"][features].astype(float),
        std=per_feature["feature_std"][features].astype(float),
        fitted_as_of=fitted,
        fitted_share=rows.drop_duplicates("cluster_id").set_index("cluster_id")["fitted_share"],
    )
    return fit, f"the fit of {fitted} ({age} days old, refit every {cfg.refit_every_days})"


def share_drift(fit: ClusterFit) -> float:
    """Population stability index of the accounts' shares of the clusters against the fit
    day's: 0 = the same mix; above ~0.2 the segments describe a different population."""
    now = pd.Series(fit.labels).value_counts(normalize=True)
    then = fit.fitted_share if fit.fitted_share is not None else now
    ids = then.index.union(now.index)
    return share_stability(now.reindex(ids).fillna(0.0), then.reindex(ids).fillna(0.0))


@dataclass
class ClusterScores:
    """One run's cluster per account, its centroids (long, for storage), the fit, and whether
    the day refitted and why (``refitted``, ``reason``, ``share_psi``)."""

    scores: pd.DataFrame
    centroids: pd.DataFrame
    fit: ClusterFit
    labels: pd.DataFrame
    model_version: str
    schedule: dict


def cluster_scores(
    features: pd.DataFrame,
    cfg: ClusteringConfig,
    history: pd.DataFrame,
    as_of: date,
    rules_version: str,
    code_version: str = "unknown",
    refit: bool = False,
) -> ClusterScores:
    """Cluster every account: with the stored fit when the schedule allows and the shares have
    not drifted, else with a new fit whose ids are matched to the previous run's centroids
    (always when ``refit``: a rebuild asked for)."""
    transformed = transform_features(features, cfg)
    if refit:
        stored, reason = (
            None,
            "a rebuild was asked for (run config rebuild: true, make run REBUILD=1)",
        )
    else:
        features_used = list(cfg.features)
        stored, reason = stored_fit(history, as_of, cfg, rules_version, code_version, features_used)
    schedule: dict = {"refitted": True, "share_psi": None}
    fit = None
    if stored is not None:
        assigned = assign_clusters(transformed, stored, cfg)
        psi = share_drift(assigned)
        schedule["share_psi"] = psi
        if psi <= cfg.refit_psi:
            fit = assigned
            schedule.update(refitted=False, reason=f"assigned with {reason}; share PSI {psi:.3f}")
        else:
            reason = (
                f"the cluster shares drifted since the fit of {stored.fitted_as_of}: "
                f"PSI {psi:.3f} > {cfg.refit_psi}"
            )
    if fit is None:
        fit = fit_clusters(transformed, cfg, previous_centroids(history, as_of))
        fit.fitted_as_of = as_of
        schedule["reason"] = f"refitted: {reason}"
    labels = describe_centroids(fit, cfg)
    df = pd.DataFrame({"golden_account_id": features["golden_account_id"].to_numpy()})
    df["cluster_id"] = fit.labels
    df["cluster_label"] = df["cluster_id"].map(labels["cluster_label"])
    df["cluster_label_zh"] = df["cluster_id"].map(labels["cluster_label_zh"])
    long = centroids_long(fit, labels)
    long.insert(0, "as_of_date", as_of)
    long["rules_version"] = rules_version
    long["fitted_as_of"] = fit.fitted_as_of
    long["code_version"] = code_version
    version = f"kmeans-k{fit.k}-{fit.fitted_as_of:%Y%m%d}"
    return ClusterScores(df, long, fit, labels, version, schedule)
