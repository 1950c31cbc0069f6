"""Print where the published tier tables are and a short tier summary.

Usage: ``python -m pipelines.publish.summary`` (what ``make run`` ends with). Opens the serving
database read-only, exactly as a BI tool would.
"""

from __future__ import annotations

import sys

import duckdb
import pandas as pd

from pipelines import warehouse as wh
from pipelines.settings import get_paths

SUMMARY_SQL = """
select
    tier,
    any_value(tier_name_en) as tier_name_en,
    any_value(tier_name_zh) as tier_name_zh,
    count(*) as accounts,
    round(count(*) / sum(count(*)) over (), 4) as account_share,
    round(sum(greatest(coalesce(net_revenue_365d, 0), 0)), 2) as net_revenue_365d,
    round(
        sum(greatest(coalesce(net_revenue_365d, 0), 0))
        / nullif(sum(sum(greatest(coalesce(net_revenue_365d, 0), 0))) over (), 0),
        4
    ) as revenue_share
from customer_tier_current
group by tier
order by tier
"""


def tier_summary(
    con: duckdb.DuckDBPyConnection, table: str = "customer_tier_current"
) -> pd.DataFrame:
    """Accounts and trailing-12-month revenue share per tier."""
    return con.execute(SUMMARY_SQL.replace("customer_tier_current", table)).df()


def main() -> int:
    paths = get_paths()
    if not paths.serving_db.exists():
        print(f"No serving database at {paths.serving_db}: the pipeline has not published yet.")
        return 1
    with wh.connection(paths.serving_db, read_only=True) as con:
        latest = con.execute(
            "select snapshot_id, as_of_date, row_count, policy_version, code_version "
            "from tier_snapshots where in_force order by as_of_date desc limit 1"
        ).fetchone()
        n_snapshots = con.execute("select count(*) from tier_snapshots").fetchone()[0]
        summary = tier_summary(con)
    print()
    print("Tier tables published")
    print(f"  serving database (read-only DuckDB): {paths.serving_db}")
    print("    tables: customer_tier_current, customer_tier_history, tier_snapshots, ...")
    print(f"  snapshots (Parquet, immutable):      {paths.snapshots_dir}/<snapshot_id>/")
    print(
        f"  latest snapshot: {latest[0]} (as of {latest[1]}, {latest[2]} accounts, "
        f"policy {latest[3]}, code {latest[4]}); {n_snapshots} snapshot(s) in all"
    )
    print()
    with pd.option_context("display.width", 120, "display.max_columns", 20):
        print(summary.to_string(index=False))
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
