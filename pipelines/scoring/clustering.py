"""K-means customer segments with ids that keep their meaning from run to run.

Features are columns of features.account_features (log1p on skewed counts and amounts), are standardised, and
k is chosen by silhouette on a fixed-seed sample. KMeans is fitted on a sample and predicts
every account. Each run's centroids are stored (in feature units, before scaling, with the
scaling) in ``scores.cluster_centroids``; a refit matches its centroids to the previous run's
with the Hungarian algorithm so that, e.g., cluster 2 stays "high value, growing".

Refits are scheduled, and a run between them assigns every account to the stored centroids
(:func:`assign_clusters`): see :mod:`pipelines.scoring.cluster_runs`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Literal

import numpy as np
import pandas as pd
from pydantic import Field, model_validator
from scipy.optimize import linear_sum_assignment
from sklearn.cluster import KMeans
from sklearn.metrics import silhouette_score

from pipelines.config.loader import StrictModel
from pipelines.scoring.reasons import join_parts


class FeatureSpec(StrictModel):
    """One clustering input: a column of features.account_features, nulls filled, clipped to
    [lower, upper], optionally log1p-transformed."""

    column: str
    fill: float = 0.0
    lower: float | None = None
    upper: float | None = None
    transform: Literal["log1p", "none"] = "none"
    high: str
    low: str
    high_zh: str = ""
    low_zh: str = ""


class ClusteringConfig(StrictModel):
    version: str
    k_min: int = Field(ge=2)
    k_max: int = Field(ge=2)
    fit_sample_size: int = Field(50_000, ge=100)
    silhouette_sample_size: int = Field(10_000, ge=100)
    seed: int = 42
    describe_z: float = Field(0.5, gt=0)
    max_words: int = Field(3, ge=1)
    refit_every_days: int = Field(7, ge=1)
    refit_psi: float = Field(0.2, gt=0)
    features: dict[str, FeatureSpec] = Field(min_length=2)

    @model_validator(mode="after")
    def _range(self) -> ClusteringConfig:
        if self.k_max < self.k_min:
            raise ValueError("k_max must be >= k_min")
        return self


@dataclass
class ClusterFit:
    labels: np.ndarray  # stable cluster id per row
    centroids: pd.DataFrame  # index = stable cluster id, columns = features (transformed units)
    k: int
    silhouettes: dict[int, float]  # k -> silhouette; on a day without refit, only the fit's k
    mean: pd.Series
    std: pd.Series
    fitted_as_of: date | None = None
    fitted_share: pd.Series | None = None  # stable id -> share of accounts on the fit day


def feature_columns(cfg: ClusteringConfig) -> list[str]:
    """The feature columns clustering reads (features.account_features)."""
    return ["golden_account_id", *sorted({spec.column for spec in cfg.features.values()})]


def transform_features(features: pd.DataFrame, cfg: ClusteringConfig) -> pd.DataFrame:
    """One column per configured feature: filled, clipped, log1p where configured."""
    out = pd.DataFrame(index=features.index)
    for name, spec in cfg.features.items():
        v = pd.to_numeric(features[spec.column], errors="coerce").astype(float).fillna(spec.fill)
        v = v.clip(lower=spec.lower, upper=spec.upper)
        out[name] = np.log1p(v.clip(lower=0)) if spec.transform == "log1p" else v
    return out


def match_to_previous(
    current: pd.DataFrame, previous: pd.DataFrame | None, scale: pd.Series
) -> dict[int, int]:
    """Map today's cluster index -> stable id by minimum total centroid distance (Hungarian).

    Distances are measured in today's standard deviations. Clusters that find no partner
    (k grew) get fresh ids above every previous id.
    """
    k = len(current)
    if previous is None or previous.empty:
        return {i: i for i in range(k)}
    common = [c for c in current.columns if c in previous.columns]
    a = current[common].to_numpy() / scale[common].to_numpy()
    b = previous[common].to_numpy() / scale[common].to_numpy()
    cost = np.sqrt(((a[:, None, :] - b[None, :, :]) ** 2).sum(axis=2))
    rows, cols = linear_sum_assignment(cost)
    mapping = {int(r): int(previous.index[c]) for r, c in zip(rows, cols, strict=True)}
    next_id = int(max(previous.index)) + 1
    for i in range(k):
        if i not in mapping:
            mapping[i] = next_id
            next_id += 1
    return mapping


def _samples(n: int, cfg: ClusteringConfig) -> tuple[np.ndarray, np.ndarray]:
    """The fixed-seed fit sample and its head, the silhouette sample."""
    rng = np.random.default_rng(cfg.seed)
    fit_idx = rng.choice(n, size=min(n, cfg.fit_sample_size), replace=False)
    return fit_idx, fit_idx[: min(len(fit_idx), cfg.silhouette_sample_size)]


def assign_clusters(
    features: pd.DataFrame, stored: ClusterFit, cfg: ClusteringConfig
) -> ClusterFit:
    """Every row to the nearest of ``stored``'s centroids, in the stored fit's scaling: the
    stored fit's clusters for today's accounts, with today's silhouette on the usual sample."""
    cols = list(stored.centroids.columns)
    mean, std = stored.mean[cols].to_numpy(), stored.std[cols].to_numpy()
    Z = (features[cols].to_numpy(dtype=float) - mean) / std
    C = (stored.centroids.to_numpy(dtype=float) - mean) / std
    nearest = np.empty(len(Z), dtype=np.int64)
    for start in range(0, len(Z), 200_000):  # bounded memory: rows x k distances per chunk
        chunk = Z[start : start + 200_000]
        nearest[start : start + len(chunk)] = ((chunk[:, None, :] - C[None]) ** 2).sum(2).argmin(1)
    labels = stored.centroids.index.to_numpy()[nearest]
    _, sil_idx = _samples(len(Z), cfg)
    silhouettes = {}
    if len(np.unique(labels[sil_idx])) > 1:
        silhouettes[stored.k] = float(
            silhouette_score(Z[sil_idx], labels[sil_idx], random_state=cfg.seed)
        )
    return ClusterFit(
        labels=labels.astype(int),
        centroids=stored.centroids,
        k=stored.k,
        silhouettes=silhouettes,
        mean=stored.mean,
        std=stored.std,
        fitted_as_of=stored.fitted_as_of,
        fitted_share=stored.fitted_share,
    )


def fit_clusters(
    features: pd.DataFrame, cfg: ClusteringConfig, previous_centroids: pd.DataFrame | None = None
) -> ClusterFit:
    """Choose k by silhouette, fit KMeans on a sample, label every row with stable ids."""
    X = features.to_numpy(dtype=float)
    mean, std = X.mean(axis=0), X.std(axis=0)
    std = np.where(std > 0, std, 1.0)
    Z = (X - mean) / std
    n = len(Z)
    fit_idx, sil_idx = _samples(n, cfg)
    silhouettes: dict[int, float] = {}
    models: dict[int, KMeans] = {}
    n_distinct = len(np.unique(Z[fit_idx], axis=0))
    for k in range(cfg.k_min, min(cfg.k_max, n_distinct - 1) + 1):
        km = KMeans(n_clusters=k, n_init=3, random_state=cfg.seed).fit(Z[fit_idx])
        labels = km.predict(Z[sil_idx])
        if len(np.unique(labels)) < 2:
            continue
        silhouettes[k] = float(silhouette_score(Z[sil_idx], labels, random_state=cfg.seed))
        models[k] = km
    if not models:
        raise ValueError("clustering: not enough distinct accounts to form clusters")
    best_k = max(silhouettes, key=silhouettes.get)
    km = models[best_k]
    raw_labels = km.predict(Z)
    centroids = pd.DataFrame(km.cluster_centers_ * std + mean, columns=features.columns)
    mapping = match_to_previous(
        centroids, previous_centroids, pd.Series(std, index=features.columns)
    )
    stable = np.vectorize(mapping.get)(raw_labels) if n else raw_labels
    centroids.index = [mapping[i] for i in range(best_k)]
    centroids.index.name = "cluster_id"
    return ClusterFit(
        labels=np.asarray(stable, dtype=int),
        centroids=centroids.sort_index(),
        k=best_k,
        silhouettes=silhouettes,
        mean=pd.Series(mean, index=features.columns),
        std=pd.Series(std, index=features.columns),
    )


def describe_centroids(fit: ClusterFit, cfg: ClusteringConfig) -> pd.DataFrame:
    """Words for each centroid from its z-scores: e.g. "high value, declining, highly engaged"."""
    z = (fit.centroids - fit.mean) / fit.std
    names = list(cfg.features)
    zz = z[names].to_numpy()
    # Keep the max_words strongest deviations beyond describe_z, then say them in config order
    # so the same centroid always reads the same way.
    strength_rank = np.argsort(np.argsort(-np.abs(zz), axis=1), axis=1)
    chosen = (strength_rank < cfg.max_words) & (np.abs(zz) >= cfg.describe_z)
    en_cols, zh_cols = [], []
    for j, name in enumerate(names):
        spec = cfg.features[name]
        en = np.where(zz[:, j] > 0, spec.high, spec.low)
        zh = np.where(zz[:, j] > 0, spec.high_zh or spec.high, spec.low_zh or spec.low)
        en_cols.append(pd.Series(np.where(chosen[:, j], en, ""), index=z.index))
        zh_cols.append(pd.Series(np.where(chosen[:, j], zh, ""), index=z.index))
    en = join_parts(en_cols, ", ").replace("", "average")
    zh = join_parts(zh_cols, "，").replace("", "中等")
    return pd.DataFrame({"cluster_label": en, "cluster_label_zh": zh}, index=z.index)
