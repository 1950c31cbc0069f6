"""Print the backtest headline of the current snapshot: how the tiers and scores published one
horizon ago did on what happened since, against the naive baselines.

Usage: ``python -m pipelines.backtest.headline`` (``make run`` ends with it). Reads the serving
database read-only, as BI does (table ``tier_backtest``, see docs/bi-contract.md).
"""

from __future__ import annotations

import sys

import pandas as pd

from pipelines import warehouse as wh
from pipelines.settings import get_paths

CURRENT_ROWS_SQL = """
select b.*
from tier_backtest as b
inner join tier_snapshots as s on b.snapshot_id = s.snapshot_id
where s.in_force and s.as_of_date = (select max(as_of_date) from tier_snapshots)
order by b.horizon_days desc, b.target, b.subject, b.metric, b.k
"""


def _value(rows: pd.DataFrame, subject: str, metric: str, k: float | None = None) -> float:
    sel = (rows["subject"] == subject) & (rows["metric"] == metric)
    if k is not None:
        sel &= rows["k"] == k
    return float(rows.loc[sel, "value"].iloc[0]) if sel.any() else float("nan")


def headline_lines(rows: pd.DataFrame) -> list[str]:
    """One paragraph per horizon, in words."""
    lines = []
    for horizon, group in rows.groupby("horizon_days", sort=False):
        start = pd.Timestamp(group["backtest_from"].iloc[0]).date()
        lines.append(
            f"Backtest over {horizon} days (tiers published for {start}, judged on what followed):"
        )
        a_accounts = _value(group, "A", "account_share")
        a_revenue = _value(group, "A", "revenue_share")
        if a_accounts == a_accounts:
            lines.append(
                f"  tier A: {a_accounts:.1%} of paying accounts, {a_revenue:.1%} of their revenue since"
            )
        lines.append(
            f"  top 20% by tier order captured {_value(group, 'tier_order', 'capture', 0.2):.1%} "
            f"of revenue vs {_value(group, 'trailing_revenue', 'capture', 0.2):.1%} by trailing "
            "revenue (naive)"
        )
        lines.append(
            f"  churn AUC {_value(group, 'churn_risk', 'auc'):.3f} vs "
            f"{_value(group, 'days_since_last_order', 'auc'):.3f} (days since last order); "
            f"conversion AUC {_value(group, 'conversion_probability', 'auc'):.3f}, Brier "
            f"{_value(group, 'conversion_probability', 'brier'):.4f} vs "
            f"{_value(group, 'base_rate', 'brier'):.4f} (base rate)"
        )
    return lines


def main() -> int:
    paths = get_paths()
    if not paths.serving_db.exists():
        print("Backtest: nothing published yet.")
        return 0
    with wh.connection(paths.serving_db, read_only=True) as con:
        rows = (
            con.execute(CURRENT_ROWS_SQL).df()
            if wh.table_exists(con, "main.tier_backtest")
            else None
        )
    if rows is None or rows.empty:
        print(
            "Backtest: no tiers were published one horizon (365 or 180 days) before the current "
            "as-of date, so there is nothing to judge yet: run `make backfill` for those dates "
            "(see README, 'Reading tier_backtest')."
        )
        return 0
    print("\n".join(headline_lines(rows)))
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
