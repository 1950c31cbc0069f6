"""Matching quality against a ground truth of which records are one company.

Pairwise: precision = correctly merged pairs / merged pairs; recall = correctly merged pairs /
truly-same pairs. Cluster level: share of true companies whose records form exactly one
predicted cluster and nothing else; predicted clusters mixing companies; companies split.
"""

from __future__ import annotations

import pandas as pd


def _pairs(sizes: pd.Series) -> float:
    return float((sizes * (sizes - 1) / 2).sum())


def evaluate(predicted: pd.DataFrame, truth: pd.DataFrame) -> dict[str, float]:
    """``predicted``: account_id, cluster; ``truth``: account_id, true_company_id."""
    both = predicted.merge(truth, on="account_id", how="inner")
    correct = _pairs(both.groupby(["cluster", "true_company_id"]).size())
    merged = _pairs(both.groupby("cluster").size())
    same = _pairs(both.groupby("true_company_id").size())
    per_cluster = both.groupby("cluster")["true_company_id"].nunique()
    per_company = both.groupby("true_company_id")["cluster"].nunique()
    exact = both.groupby("true_company_id").agg(
        clusters=("cluster", "nunique"), cluster=("cluster", "first")
    )
    pure = per_cluster[per_cluster == 1].index
    exact_ok = (exact["clusters"] == 1) & exact["cluster"].isin(pure)
    return {
        "records": int(len(both)),
        "true_pairs": same,
        "merged_pairs": merged,
        "correct_pairs": correct,
        "precision": correct / merged if merged else 1.0,
        "recall": correct / same if same else 1.0,
        "companies": int(len(per_company)),
        "clusters": int(len(per_cluster)),
        "companies_exactly_resolved": float(exact_ok.mean()),
        "clusters_mixing_companies": int((per_cluster > 1).sum()),
        "companies_split": int((per_company > 1).sum()),
    }
