"""Model inputs from ``features.account_windows``: the columns, the matrix, the targets.

Every row is one account on one reference date; the three reference dates are H days apart
(``periods_back`` 2, 1, 0). Categorical firmographics become integer codes over one sorted
vocabulary for all windows, so a code means the same on every date.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from pipelines.frames import positions

ACCOUNT_WINDOWS = "features.account_windows"

CATEGORICAL = ["industry", "size_band", "region", "credit_rating", "latest_lead_source"]
NUMERIC = [
    "account_age_days",
    "employee_count",
    "annual_revenue_cny",
    "group_depth",
    "days_since_last_paid_order",
    "days_since_first_purchase",
    "days_first_to_last_purchase",
    "purchase_days",
    "repeat_purchase_mean_spend",
    "paid_orders_90d",
    "paid_orders_prev_90d",
    "paid_orders_365d",
    "paid_orders_lifetime",
    "net_revenue_90d",
    "net_revenue_prev_90d",
    "net_revenue_365d",
    "net_revenue_lifetime",
    "activities_90d",
    "activities_prev_90d",
    "activities_365d",
    "meetings_365d",
    "unsubscribes_365d",
    "days_since_last_activity",
    "nps_latest",
    "nps_avg_365d",
    "overdue_amount_cny",
    "lawsuit_count",
    "abnormal_operation",
    "risk_age_days",
    "leads_open",
    "leads_converted",
    "leads_365d",
    "days_since_latest_lead",
    "has_converted_lead_without_order",
]
FEATURES = CATEGORICAL + NUMERIC
OUTCOMES = ["next_net_revenue", "next_paid_orders"]
# Every column the models read, in the order they are read.
WINDOW_COLUMNS = ["golden_account_id", "periods_back", "has_paid_order", *FEATURES, *OUTCOMES]


def model_matrix(rows: pd.DataFrame, vocabulary: dict[str, list[str]]) -> pd.DataFrame:
    """The feature matrix (float columns, NaN for missing) of ``rows`` in :data:`FEATURES`
    order; categoricals as codes into ``vocabulary`` (NaN when unknown or missing)."""
    out = {}
    for column in CATEGORICAL:
        out[column] = positions(rows[column].astype("string"), vocabulary[column])
    for column in NUMERIC:
        values = rows[column]
        if values.dtype == bool or str(values.dtype) == "boolean":
            values = values.astype("boolean").astype("Float64")
        out[column] = pd.to_numeric(values, errors="coerce").astype(float)
    return pd.DataFrame(out, index=rows.index)[FEATURES]


def vocabularies(rows: pd.DataFrame) -> dict[str, list[str]]:
    """Sorted distinct values of each categorical column over all windows."""
    return {c: sorted(rows[c].dropna().astype(str).unique().tolist()) for c in CATEGORICAL}


def categorical_mask() -> np.ndarray:
    """Which matrix columns HistGradientBoosting treats as categorical."""
    return np.array([c in CATEGORICAL for c in FEATURES])


def window(rows: pd.DataFrame, periods_back: int, paying: bool) -> pd.DataFrame:
    """One reference date's rows, paying accounts or prospects, in account order."""
    sel = (rows["periods_back"] == periods_back) & (
        rows["has_paid_order"].astype("boolean").fillna(False) == paying
    )
    return rows.loc[sel].sort_values("golden_account_id", kind="stable")


def targets(rows: pd.DataFrame) -> dict[str, np.ndarray]:
    """Realised outcomes of labelled rows: next-window net revenue (>= 0), churn (no paid
    order in the window) and conversion (at least one)."""
    orders = pd.to_numeric(rows["next_paid_orders"]).fillna(0).to_numpy()
    return {
        "value": pd.to_numeric(rows["next_net_revenue"]).fillna(0).clip(lower=0).to_numpy(float),
        "churn": (orders == 0).astype(int),
        "conversion": (orders > 0).astype(int),
    }
