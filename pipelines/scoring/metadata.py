"""Numbers a score asset reports with each materialization, so Dagster plots them over the
partition history: quantiles of the score, shares of its classes and the model's metrics.

Every value is a ``MetadataValue.int``/``float`` under a key that never changes between runs
(``rfm_score_p50``, ``abc_share_A``, ``model_roc_auc``): Dagster draws one chart per key on the
asset's *Plots* tab, one point per materialization.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import pandas as pd
from dagster import MetadataValue

from pipelines.catalog import table_metadata
from pipelines.resources import Warehouse

QUANTILES = (0.1, 0.5, 0.9)
RISK_LEVELS = ("low", "medium", "high", "stale", "unknown")  # scores.risk.risk_level


def quantile_metadata(name: str, values: pd.Series) -> dict[str, MetadataValue]:
    """``<name>_p10``, ``_p50``, ``_p90`` and ``_mean`` (nulls ignored; 0 when all null)."""
    s = pd.to_numeric(values, errors="coerce").dropna()
    stats = {f"{name}_p{int(q * 100)}": float(s.quantile(q)) if len(s) else 0.0 for q in QUANTILES}
    stats[f"{name}_mean"] = float(s.mean()) if len(s) else 0.0
    return {k: MetadataValue.float(v) for k, v in stats.items()}


def share_metadata(
    name: str, values: pd.Series, categories: Iterable[str]
) -> dict[str, MetadataValue]:
    """``<name>_<category>``: the share of rows in each category (every category, even 0)."""
    counts = values.astype("string").value_counts()
    total = max(len(values), 1)
    return {f"{name}_{c}": MetadataValue.float(float(counts.get(c, 0)) / total) for c in categories}


def metric_metadata(metrics: Mapping[str, float]) -> dict[str, MetadataValue]:
    """``model_<metric>`` for each numeric evaluation metric of a model card."""
    return {
        f"model_{k}": MetadataValue.float(float(v))
        for k, v in metrics.items()
        if isinstance(v, int | float) and not isinstance(v, bool)
    }


def score_metadata(warehouse: Warehouse, table: str, **scores: pd.Series) -> dict[str, Any]:
    """Where ``scores.<table>`` lives and what it holds (:func:`pipelines.catalog.table_metadata`)
    plus the quantiles of each named score column."""
    metadata: dict[str, Any] = table_metadata(warehouse, f"scores.{table}")
    for name, values in scores.items():
        metadata.update(quantile_metadata(name, values))
    return metadata
