"""Clustering: k by silhouette, stable ids across runs, words from centroids."""

from __future__ import annotations

import numpy as np
import pandas as pd

from pipelines.scoring.clustering import (
    ClusteringConfig,
    centroids_long,
    centroids_wide,
    describe_centroids,
    fit_clusters,
    match_to_previous,
)

CFG = ClusteringConfig.model_validate(
    {
        "version": "t",
        "k_min": 2,
        "k_max": 5,
        "fit_sample_size": 2000,
        "silhouette_sample_size": 1000,
        "features": {
            "value": {"column": "x", "high": "high value", "low": "low value"},
            "engagement": {"column": "y", "high": "highly engaged", "low": "disengaged"},
        },
    }
)


def _blobs(seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    centres = np.array([[0.0, 0.0], [8.0, 0.0], [0.0, 8.0], [8.0, 8.0]])
    pts = np.concatenate([c + rng.normal(0, 0.5, (300, 2)) for c in centres])
    return pd.DataFrame(pts, columns=["value", "engagement"])


def test_k_chosen_by_silhouette_and_labels_in_words():
    fit = fit_clusters(_blobs(1), CFG)
    assert fit.k == 4
    labels = describe_centroids(fit, CFG)["cluster_label"]
    # Words come strongest deviation first, so compare each label as a set of words.
    assert {frozenset(label.split(", ")) for label in labels} == {
        frozenset({"high value", "highly engaged"}), frozenset({"high value", "disengaged"}),
        frozenset({"low value", "highly engaged"}), frozenset({"low value", "disengaged"}),
    }  # fmt: skip


def test_ids_keep_their_meaning_after_shuffling_rows():
    first = _blobs(1)
    fit1 = fit_clusters(first, CFG)
    words1 = describe_centroids(fit1, CFG)
    prev = centroids_wide(centroids_long(fit1, words1))
    shuffled = _blobs(2).sample(frac=1.0, random_state=5).reset_index(drop=True)
    fit2 = fit_clusters(shuffled, CFG, prev)
    words2 = describe_centroids(fit2, CFG)
    assert words2["cluster_label"].to_dict() == words1["cluster_label"].to_dict()


def test_hungarian_matching_assigns_new_ids_when_k_grows():
    prev = pd.DataFrame({"v": [0.0, 10.0]}, index=[7, 3])
    cur = pd.DataFrame({"v": [10.2, 5.0, -0.1]})
    mapping = match_to_previous(cur, prev, pd.Series({"v": 1.0}))
    assert mapping == {0: 3, 2: 7, 1: 8}
