"""Hand-made score frames and small policies for the tiering tests."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from pipelines import warehouse as wh
from pipelines.tiering.policy import TierPolicy, parse_policy
from tests.conftest import query  # noqa: F401  (re-exported for the tier tests)

# One paying, healthy, mid-value account; tests override what matters to them.
DEFAULT_ROW: dict[str, Any] = {
    "as_of_date": pd.Timestamp("2025-01-01"),
    "has_paid_order": True,
    "net_revenue_365d": 1000.0,
    "net_revenue_lifetime": 5000.0,
    "rfm_recency_days": 30,
    "rfm_frequency": 5,
    "rfm_monetary": 1000.0,
    "rfm_r": 3,
    "rfm_f": 3,
    "rfm_m": 3,
    "rfm_score": 3.0,
    "rfm_segment": "need_attention",
    "abc_class": "C",
    "revenue_share_cum": 0.97,
    "cluster_id": 1,
    "cluster_label": "steady",
    "behaviour_points": 10.0,
    "fit_score": 50.0,
    "conversion_probability": 0.5,
    "conversion_source": "model",
    "expected_purchases_12m": 2.0,
    "p_alive": 0.7,
    "churn_risk": 0.3,
    "clv_12m": 500.0,
    "expected_value_12m": 500.0,
    "clv_percentile": 0.5,
    "risk_score": 10.0,
    "risk_level": "low",
    "risk_stale": False,
    "score_reasons": "",
    "rules_version": "rules-test",
    "model_version": "model-test",
}


def make_scores(rows: list[dict[str, Any]]) -> pd.DataFrame:
    """A scores.account_scores-like frame; ids default to G001, G002, ..."""
    records = []
    for i, row in enumerate(rows, start=1):
        rec = dict(DEFAULT_ROW)
        rec["golden_account_id"] = f"G{i:03d}"
        rec.update(row)
        records.append(rec)
    frame = pd.DataFrame(records)
    return frame[["golden_account_id"] + [c for c in frame.columns if c != "golden_account_id"]]


def random_scores(n: int, seed: int = 7) -> pd.DataFrame:
    """A larger random frame for churn and holdout tests."""
    rng = np.random.default_rng(seed)
    p_alive = rng.random(n)
    return pd.DataFrame(
        {
            "golden_account_id": [f"R{i:06d}" for i in range(n)],
            "has_paid_order": rng.random(n) < 0.8,
            "abc_class": rng.choice(["A", "B", "C"], n, p=[0.1, 0.2, 0.7]),
            "p_alive": p_alive,
            "churn_risk": 1 - p_alive,
            "clv_percentile": rng.random(n),
            "clv_12m": rng.gamma(2.0, 1000.0, n),
            "expected_value_12m": rng.gamma(2.0, 1000.0, n),
            "rfm_score": rng.uniform(1, 5, n),
            "risk_level": rng.choice(["low", "medium", "high", "unknown"], n),
            "risk_stale": rng.random(n) < 0.05,
            "net_revenue_365d": rng.gamma(2.0, 1000.0, n),
        }
    )


BASE_POLICY: dict[str, Any] = {
    "version": "test-1",
    "tiers": [
        {
            "code": "A",
            "name_en": "Strategic",
            "name_zh": "战略客户",
            "service_strategy": {"en": "Dedicated team", "zh": "专属团队"},
            "owner_team": "key_accounts",
            "rules": [
                {
                    "id": "A_abc_alive",
                    "when": {
                        "all": [
                            {"score": "abc_class", "in": ["A"]},
                            {"score": "p_alive", "gte": 0.5},
                        ]
                    },
                },
                {"id": "A_top_clv", "when": {"score": "clv_percentile", "gte": 0.95}},
            ],
        },
        {
            "code": "B",
            "name_en": "Key",
            "name_zh": "重点客户",
            "service_strategy": {"en": "Regular follow-up", "zh": "定期跟进"},
            "owner_team": "account_management",
            "rules": [
                {"id": "B_abc_b", "when": {"score": "abc_class", "eq": "B"}},
                {"id": "B_rfm", "when": {"score": "rfm_score", "gte": 4.0}},
            ],
        },
        {
            "code": "C",
            "name_en": "Regular",
            "name_zh": "普通客户",
            "service_strategy": {"en": "Standard service", "zh": "标准化服务"},
            "owner_team": "customer_success",
        },
        {
            "code": "P",
            "name_en": "Prospect",
            "name_zh": "潜在客户",
            "service_strategy": {"en": "Lead nurturing", "zh": "线索培育"},
            "owner_team": "marketing",
        },
    ],
    "fallback_tier": "C",
    "prospects": {"tier": "P"},
    "hysteresis": {
        "margins": {"p_alive": 0.05, "clv_percentile": 0.02, "rfm_score": 0.25},
        "min_dwell_days": 30,
        "downgrade_grace_days": 30,
    },
}


def policy_data(**changes: Any) -> dict[str, Any]:
    data = copy.deepcopy(BASE_POLICY)
    data.update(copy.deepcopy(changes))
    return data


def make_policy(**changes: Any) -> TierPolicy:
    return parse_policy(policy_data(**changes))


def state_of(assigned: pd.DataFrame) -> pd.DataFrame:
    """The state the next run reads, as the asset stores it."""
    return assigned[
        ["golden_account_id", "tier", "tier_since", "pending_downgrade_to", "pending_since"]
    ].copy()


def write_tables(path: Path, tables: dict[str, pd.DataFrame]) -> None:
    """Replace ``schema.table`` in the DuckDB file at ``path`` with each frame."""
    with wh.connection(path) as con:
        for qualified, frame in tables.items():
            wh.replace_table(con, qualified, frame)


def publish_tier_table(db: Path, serving_dir: Path, run_id: str) -> str:
    """Publish ``tiers.customer_tier`` of ``db`` as a snapshot folder the way the publish step
    lays it out (Parquet + manifest), so the next tier run finds it as its previous snapshot.
    The real publish step (contract columns, serving database) is tested in tests/publish."""
    import json
    from dataclasses import asdict

    from pipelines.history import MANIFEST_FILE, SNAPSHOT_FILE, SnapshotInfo

    with wh.connection(db, read_only=True) as con:
        snapshot_id, as_of, rows = con.execute(
            "select any_value(snapshot_id), any_value(as_of_date), count(*) from tiers.customer_tier"
        ).fetchone()
        folder = serving_dir / "snapshots" / snapshot_id
        folder.mkdir(parents=True)
        con.execute(
            f"copy (select * from tiers.customer_tier order by golden_account_id) "
            f"to '{(folder / SNAPSHOT_FILE).as_posix()}' (format parquet)"
        )
    info = SnapshotInfo(
        snapshot_id=snapshot_id,
        as_of_date=pd.Timestamp(as_of).date().isoformat(),
        created_at=pd.Timestamp.now().isoformat(),
        row_count=int(rows),
        policy_version="test",
        rules_version="test",
        code_version="test",
        run_id=run_id,
        parquet_path=f"snapshots/{snapshot_id}/{SNAPSHOT_FILE}",
        parquet_sha256="",
    )
    (folder / MANIFEST_FILE).write_text(json.dumps(asdict(info)))
    return snapshot_id
