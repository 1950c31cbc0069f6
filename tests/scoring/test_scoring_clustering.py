"""Clustering: k by silhouette, stable ids across runs, words from centroids, refits on a
schedule with the stored centroids in between."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pandas as pd
import pytest

from pipelines.scoring.cluster_runs import centroids_long, centroids_wide, cluster_scores
from pipelines.scoring.clustering import (
    ClusteringConfig,
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


DAY = date(2025, 6, 30)


def _accounts(seed: int, crowd: float = 0.0) -> pd.DataFrame:
    """The blobs as account features (columns x, y); ``crowd`` moves that share of every other
    blob's points into the first one (a population whose mix of segments changed)."""
    blobs = _blobs(seed)
    if crowd:
        rng = np.random.default_rng(seed)
        moved = rng.random(len(blobs)) < crowd
        blobs.loc[moved, ["value", "engagement"]] = rng.normal(0, 0.5, (int(moved.sum()), 2))
    return pd.DataFrame(
        {
            "golden_account_id": [f"G-{i:05d}" for i in range(len(blobs))],
            "x": blobs["value"],
            "y": blobs["engagement"],
        }
    )


def _history(*results) -> pd.DataFrame:
    return pd.concat([r.centroids for r in results], ignore_index=True)


def test_refits_on_schedule_and_assigns_to_the_stored_centroids_in_between():
    features = _accounts(1)
    first = cluster_scores(features, CFG, pd.DataFrame(), DAY, "t", "c1")
    assert first.schedule["refitted"] and first.schedule["reason"].startswith("refitted: no stored")
    assert first.model_version == "kmeans-k4-20250630"
    history = _history(first)

    # Three days later, new points from the same population: assigned to the stored fit, which
    # puts each blob's points together under the ids (and words) the fit gave them.
    later = _accounts(2)
    kept = cluster_scores(later, CFG, history, DAY + timedelta(days=3), "t", "c1")
    assert not kept.schedule["refitted"]
    assert kept.schedule["reason"].startswith(
        "assigned with the fit of 2025-06-30 (3 days old, refit every 7); share PSI"
    )
    assert kept.model_version == first.model_version and kept.fit.fitted_as_of == DAY
    assert kept.labels["cluster_label"].to_dict() == first.labels["cluster_label"].to_dict()
    refit = fit_clusters(later[["x", "y"]].set_axis(["value", "engagement"], axis=1), CFG)
    same_blob = pd.crosstab(kept.scores["cluster_id"], refit.labels)
    assert (same_blob.gt(0).sum(axis=1) == 1).all()  # the same partition as a refit
    assert set(kept.centroids["fitted_as_of"]) == {DAY}
    # The fit's own day again: the same ids for every account as the fit gave them.
    again = cluster_scores(features, CFG, history, DAY, "t", "c1")
    assert not again.schedule["refitted"]
    assert (again.scores["cluster_id"] == first.scores["cluster_id"]).all()

    def reason(result):
        assert result.schedule["refitted"]
        return result.schedule["reason"]

    history = _history(first, kept)
    day7 = DAY + timedelta(days=7)
    assert reason(cluster_scores(later, CFG, history, day7, "t", "c1")) == (
        "refitted: the fit of 2025-06-30 is 7 days old (refit every 7)"
    )
    assert reason(cluster_scores(later, CFG, history, DAY + timedelta(days=4), "t2", "c1")) == (
        "refitted: the clustering config changed (t -> t2)"
    )
    assert reason(cluster_scores(later, CFG, history, DAY + timedelta(days=4), "t", "c2")) == (
        "refitted: the code changed since the fit (c1 -> c2)"
    )
    assert "'c1-dirty' is not comparable" in reason(
        cluster_scores(later, CFG, history, DAY + timedelta(days=4), "t", "c1-dirty")
    )
    assert reason(
        cluster_scores(later, CFG, history, DAY + timedelta(days=4), "t", "c1", refit=True)
    ).startswith("refitted: a rebuild was asked for")
    crowded = cluster_scores(
        _accounts(2, crowd=0.6), CFG, history, DAY + timedelta(days=4), "t", "c1"
    )
    assert crowded.schedule["share_psi"] > CFG.refit_psi
    assert reason(crowded).startswith(
        "refitted: the cluster shares drifted since the fit of 2025-06-30: PSI"
    )
    assert crowded.model_version == "kmeans-k4-20250704"


def test_centroids_stored_before_the_schedule_are_refitted_not_misread():
    first = cluster_scores(_accounts(1), CFG, pd.DataFrame(), DAY, "t", "c1")
    old = first.centroids.drop(
        columns=["feature_mean", "feature_std", "fitted_share", "fitted_as_of", "code_version"]
    )
    result = cluster_scores(_accounts(2), CFG, old, DAY + timedelta(days=1), "t", "c1")
    assert result.schedule["reason"] == (
        "refitted: the stored centroids carry no scaling (stored before the refit schedule)"
    )
    # ... and the new fit still takes the old ids (matched to the stored centroids).
    assert result.labels["cluster_label"].to_dict() == first.labels["cluster_label"].to_dict()


@pytest.mark.parametrize("days", [1, 6])
def test_a_stored_fit_serves_only_dates_after_it(days):
    """A backfill for a date before every stored fit refits instead of using a later fit."""
    later = cluster_scores(_accounts(1), CFG, pd.DataFrame(), DAY, "t", "c1")
    earlier = cluster_scores(
        _accounts(1), CFG, _history(later), DAY - timedelta(days=days), "t", "c1"
    )
    assert earlier.schedule["reason"] == "refitted: no stored centroids up to this date"
