"""Shared fixtures for the quality tests: small, clean frames that each suite accepts."""

from __future__ import annotations

import os
from datetime import date

import pandas as pd
import pytest

AS_OF = date(2026, 11, 23)


@pytest.fixture(scope="session", autouse=True)
def _quality_dir(tmp_path_factory: pytest.TempPathFactory):
    """One GX file context (and Data Docs site) for the whole session, outside the repo."""
    keys = ("STRATUM_QUALITY_DIR",)
    saved = {k: os.environ.get(k) for k in keys}
    os.environ["STRATUM_QUALITY_DIR"] = str(tmp_path_factory.mktemp("quality"))
    yield
    for k, v in saved.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v


def _load_meta(n: int, run_id: str = "run-1") -> dict:
    return {
        "_source_file": "orders/orders_2026-11-22.csv",
        "_source_line": list(range(2, n + 2)),
        "_sha256": "ab" * 32,
        "_loaded_at": pd.Timestamp("2026-11-22 03:00:00"),
        "_run_id": run_id,
    }


def orders_frame(n: int = 6, run_id: str = "run-1") -> pd.DataFrame:
    """A clean batch of raw.orders rows (as DuckDB returns them: dates as datetime64)."""
    return pd.DataFrame(
        {
            "order_id": [f"O{i:04d}" for i in range(n)],
            "account_id": [f"A{i % 3:03d}" for i in range(n)],
            "order_date": pd.date_range("2026-11-01", periods=n, freq="D"),
            "status": [
                "completed",
                "refunded",
                "partially_refunded",
                "cancelled",
                "completed",
                "completed",
            ][:n]
            + ["completed"] * max(n - 6, 0),
            "amount_cny": [100.0 + i for i in range(n)],
            "refund_amount_cny": [0.0, 101.0, 10.0, 0.0, 0.0, None][:n] + [0.0] * max(n - 6, 0),
            "product_line": ["cloud"] * n,
            "updated_at": pd.date_range("2026-11-01 10:00", periods=n, freq="D"),
            **_load_meta(n, run_id),
        }
    )


def contacts_frame(n: int = 20) -> pd.DataFrame:
    phones = ["138 0013 8000", "+86-13800138000", "0571-8888 6666", "13912345678"]
    return pd.DataFrame(
        {
            "contact_id": [f"C{i:04d}" for i in range(n)],
            "account_id": [f"A{i % 5:03d}" for i in range(n)],
            "full_name": ["张伟"] * n,
            "email": [f"user{i}@example.com.cn" for i in range(n)],
            "phone": [phones[i % len(phones)] for i in range(n)],
            "job_title": ["采购经理"] * n,
            "opt_out": [False] * n,
            "created_at": pd.Timestamp("2025-01-01"),
            "updated_at": pd.date_range("2026-11-01", periods=n, freq="h"),
            "is_deleted": [False] * n,
            **_load_meta(n),
        }
    )


def customer_360_frame(n: int = 5) -> pd.DataFrame:
    tags = ["new", "active", "declining", "silent", "dormant", "never_active"]
    bands = ["micro", "small", "medium", "large", "enterprise"]
    return pd.DataFrame(
        {
            "golden_account_id": [f"G{i:05d}" for i in range(n)],
            "account_name": [f"杭州云启科技有限公司{i}" for i in range(n)],
            "size_band": [bands[i % 5] for i in range(n)],
            "region": ["华东", "华北", None, "西南", "东北"][:n] + ["华东"] * max(n - 5, 0),
            "employee_count": [10 * (i + 1) for i in range(n)],
            "orders_lifetime": [i for i in range(n)],
            "orders_365d": [i for i in range(n)],
            "net_revenue_365d": [1000.0 * i for i in range(n)],
            "net_revenue_lifetime": [2000.0 * i for i in range(n)],
            "gross_revenue_lifetime": [2500.0 * i for i in range(n)],
            "refund_amount_lifetime": [500.0 * i for i in range(n)],
            "refund_rate": [0.0, 0.2, 0.2, 0.2, 1.0][:n] + [0.0] * max(n - 5, 0),
            "days_since_last_order": [None, 3.0, 40.0, 200.0, 800.0][:n] + [1.0] * max(n - 5, 0),
            "activities_365d": [i * 3 for i in range(n)],
            "leads_total": [1] * n,
            "contacts_total": [2] * n,
            "credit_rating": ["AAA", "BB", None, "C", "A"][:n] + ["A"] * max(n - 5, 0),
            "overdue_amount_cny": [0.0] * n,
            "lawsuit_count": [0] * n,
            "nps_latest": [10, 0, None, 7, 9][:n] + [8] * max(n - 5, 0),
            "activity_tag": [tags[i % 6] for i in range(n)],
            "as_of_date": pd.Timestamp(AS_OF),
        }
    )
