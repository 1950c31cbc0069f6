"""How well the published scores and tiers predict what happened next, on a generated world
the tests do not use, judged against the generator's ground truth.

    .venv/bin/python -m bench.truth_report --accounts 5000 --seed 101 [--seed 202 ...]

Runs the whole job once per world (in-process, ephemeral Dagster instance, a temp data dir)
and prints, for paying accounts: the share of next-year net revenue captured by the top 20%
ranked by tier order (A > B > C, ties by account id), by the 12-month value score alone and by
trailing-365-day revenue alone; the churn AUC of the published churn risk and of days since the
last order, and beside them the churn AUC of an observer who also knew which customers had
already stopped for good by the as-of date (a state no data shows: the generator's truth), the
published risk ranking within each state, which bounds what any model of the data could reach;
for prospects: conversion AUC and Brier of the published probability, of the base
rate and of "has an open or converted lead", beside the AUC of the generator's own lead
probabilities. Not a test: numbers for the docs and the report (docs/architecture.md).
"""

from __future__ import annotations

import argparse
import os
import tempfile
from datetime import date
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
from sklearn.metrics import brier_score_loss, roc_auc_score

AS_OF = date(2026, 11, 20)


def capture(values: pd.Series, outcome: pd.Series, share: float = 0.2) -> float:
    """Share of ``outcome`` held by the top ``share`` of rows by ``values`` (ties by index)."""
    frame = pd.DataFrame({"v": values.to_numpy(float), "y": outcome.to_numpy(float)})
    frame["id"] = values.index.astype(str)
    frame = frame.sort_values(["v", "id"], ascending=[False, True], na_position="last")
    k = int(round(len(frame) * share))
    return float(frame["y"].iloc[:k].clip(lower=0).sum() / frame["y"].clip(lower=0).sum())


def _decile_gap(p: np.ndarray, y: np.ndarray) -> float:
    """Largest |mean predicted - observed| over the deciles of ``p`` holding >= 100 rows (equal
    probabilities share a decile, as in the model card and the backtest)."""
    from pipelines.scoring.models.metrics import calibration_table

    table = calibration_table(p, y, 10)
    table = table[table["n"] >= 100]
    gap = (table["mean_predicted"] - table["observed_rate"]).abs()
    return float(gap.max()) if len(table) else float("nan")


def run_world(accounts: int, seed: int, root: Path) -> Path:
    """Generate a world under ``root`` and run the job for AS_OF; returns the data dir."""
    from dagster import DagsterInstance

    from pipelines.generate.cache import cached_world, copy_world

    data_dir = root / "data"
    copy_world(cached_world(root / "cache", accounts, seed, AS_OF), data_dir)
    os.environ["STRATUM_DATA_DIR"] = str(data_dir)
    os.environ["STRATUM_CODE_VERSION"] = "truth-report"
    from pipelines.definitions import defs

    with DagsterInstance.ephemeral() as instance:
        result = defs.resolve_job_def("stratum_daily").execute_in_process(
            instance=instance, raise_on_error=False, partition_key=AS_OF.isoformat()
        )
    if not result.success:
        raise SystemExit(f"the run failed for seed {seed}")
    return data_dir


def _truth(data_dir: Path, con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    ids = con.execute(
        "select account_id, golden_account_id from intermediate.int_account_identity_map"
    ).df()
    truth = pd.read_parquet(data_dir / "ground_truth" / "accounts.parquet")
    rec = ids.merge(truth, on="account_id").drop_duplicates(
        ["golden_account_id", "true_company_id"]
    )
    out = rec.groupby("golden_account_id").agg(
        future_orders=("future_orders_365d", "sum"),
        future_revenue=("future_net_revenue_365d", "sum"),
        stopped_before_as_of=("churned_before_as_of", "all"),
    )
    leads = con.execute("select lead_id, golden_account_id, status from marts.leads").df()
    leads = leads.merge(pd.read_parquet(data_dir / "ground_truth" / "leads.parquet"), on="lead_id")
    open_p = leads[leads["status"] == "open"].groupby("golden_account_id")[
        "true_conversion_probability"
    ]
    out["oracle"] = open_p.max()
    return out


def report(data_dir: Path) -> dict[str, float]:
    """The figures of one world's first run."""
    snap = next((data_dir / "serving" / "snapshots").glob("*/customer_tier.parquet"))
    tiers = pd.read_parquet(snap).set_index("golden_account_id")
    from pipelines import warehouse as wh

    with wh.connection(data_dir / "warehouse" / "stratum.duckdb", read_only=True) as con:
        feats = con.execute(
            "select golden_account_id, days_since_last_order, leads_open, "
            "has_converted_lead_without_order from features.account_features"
        ).df()
        truth = _truth(data_dir, con)
        contest = con.execute(
            "select target, candidate, metric, round(metric_value, 4) as value, "
            "round(brier, 4) as brier, winner from scores.model_contest order by all"
        ).df()
    df = tiers.join(feats.set_index("golden_account_id")).join(truth, how="inner")
    out: dict[str, float] = {}
    pay = df[df["has_paid_order"]]
    order = pay["tier"].map({c: i for i, c in enumerate("ABCP")}).astype(float)
    out["capture20_tier"] = capture(-order, pay["future_revenue"])
    out["capture20_expected_value"] = capture(pay["expected_value_12m"], pay["future_revenue"])
    out["capture20_clv"] = capture(pay["clv_12m"], pay["future_revenue"])
    out["capture20_trailing"] = capture(pay["net_revenue_365d"], pay["future_revenue"])
    churn = pay["future_orders"] == 0
    risk = pay["churn_risk"].fillna(pay["churn_risk"].mean())
    out["churn_auc"] = roc_auc_score(churn, risk)
    out["churn_auc_recency"] = roc_auc_score(churn, pay["days_since_last_order"])
    out["churn_null_share"] = float(pay["churn_risk"].isna().mean())
    # The latent state: customers who had stopped for good by as_of look, in the data, like
    # living ones that are quiet for a while; an observer who knew the state ranks them first.
    stopped = pay["stopped_before_as_of"].astype(bool)
    out["churn_auc_knowing_stopped"] = roc_auc_score(churn, stopped * 2 + risk)
    out["churn_share_stopped_before"] = float(stopped[churn].mean())
    out["churn_auc_still_buying"] = roc_auc_score(churn[~stopped], risk[~stopped])
    out["churn_auc_still_buying_recency"] = roc_auc_score(
        churn[~stopped], pay.loc[~stopped, "days_since_last_order"]
    )
    pro = df[~df["has_paid_order"]]
    conv = (pro["future_orders"] > 0).to_numpy()
    p = pro["conversion_probability"]
    out["conv_rate"] = float(conv.mean())
    out["conv_auc"] = roc_auc_score(conv, p.fillna(p.mean() if p.notna().any() else 0))
    out["conv_brier"] = brier_score_loss(conv, p.fillna(conv.mean()).clip(0, 1))
    out["conv_brier_base"] = brier_score_loss(conv, np.full(len(conv), conv.mean()))
    out["conv_mean_predicted"] = float(p.mean())
    out["conv_decile_max_gap"] = _decile_gap(p.fillna(conv.mean()).to_numpy(), conv)
    out["churn_decile_max_gap"] = _decile_gap(pay["churn_risk"].to_numpy(float), churn.to_numpy())
    lead = (pro["leads_open"] > 0) | pro["has_converted_lead_without_order"]
    out["conv_auc_has_lead"] = roc_auc_score(conv, lead)
    out["conv_auc_oracle"] = roc_auc_score(conv, pro["oracle"].fillna(0))
    out["tier_sizes"] = tiers["tier"].value_counts().to_dict()
    out["contest"] = "\n" + contest.to_string(index=False)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--accounts", type=int, default=5000)
    parser.add_argument("--seed", type=int, action="append")
    parser.add_argument("--keep", type=Path, help="run under this folder and keep it")
    args = parser.parse_args()
    for seed in args.seed or [101]:
        if args.keep:
            figures = report(run_world(args.accounts, seed, args.keep / f"seed-{seed}"))
        else:
            with tempfile.TemporaryDirectory(prefix="truth-report-") as tmp:
                figures = report(run_world(args.accounts, seed, Path(tmp)))
        print(f"seed {seed}, {args.accounts} accounts:")
        for key, value in figures.items():
            shown = value if isinstance(value, dict | str) else round(value, 4)
            print(f"  {key:22s} {shown}")


if __name__ == "__main__":
    main()
