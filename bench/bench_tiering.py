"""Benchmark: tier assignment + hysteresis + ledger + SCD2 history on 1,000,000 accounts.

Run: ``.venv/bin/python bench/bench_tiering.py [--accounts N]``.

Writes a synthetic ``scores.account_scores`` (every column the scoring stage produces, DuckDB
SQL over ``range()``) into a temp warehouse, then runs three daily tiering runs, each in its own
child process, exactly as the ``tiers/customer_tier`` asset does: ``store.read_scores`` /
``read_state`` / ``read_current_history`` -> ``outputs.run_tiering`` -> ``store.write_outputs``.
Day 1 starts empty (every account "new"); day 2 moves ~10% of the scores (hysteresis holds most
back, pending downgrades start); day 3 is 40 days later (grace over: demotions land, SCD2 rows
close). Prints wall time and peak RSS per phase.

Target: well under a minute and a few GB per run at 1M accounts (the policy is vectorised;
memory ~ accounts x score columns).
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

from _measure import print_table, report_step, run_step
from _world import u

DAYS = [date(2025, 6, 30), date(2025, 7, 1), date(2025, 8, 10)]


def scores_sql(n: int, day: int) -> str:
    """``scores.account_scores`` for ``n`` accounts; ``day`` > 0 perturbs ~10% of accounts."""
    # Draws for a moved account change salt with the day; the others keep day 0's draws.
    moved = f"({u('i', 90 + day)} < 0.10 and {day} > 0)"

    def v(salt: int) -> str:
        return f"(case when {moved} then {u('i', salt + 100 * day)} else {u('i', salt)} end)"

    return f"""
    create or replace table scores.account_scores as
    with b as (
        select
            i, {v(1)} as value, {v(2)} as alive, {v(3)} as rfm, {v(4)} as risk,
            {u("i", 5)} < 0.6 as paid
        from range({n}) as t(i)
    )
    select
        'G-' || lpad(i::varchar, 7, '0') as golden_account_id,
        date '{DAYS[day]}' as as_of_date,
        paid as has_paid_order,
        case when paid then exp(4 + 10 * value) else 0 end as net_revenue_365d,
        case when paid then 3 * exp(4 + 10 * value) else 0 end as net_revenue_lifetime,
        case when paid then floor(700 * (1 - rfm))::bigint end as rfm_recency_days,
        case when paid then 1 + floor(30 * rfm * value) end::double as rfm_frequency,
        case when paid then exp(4 + 10 * value) end as rfm_monetary,
        case when paid then 1 + floor(5 * rfm) end::double as rfm_r,
        case when paid then 1 + floor(5 * value) end::double as rfm_f,
        case when paid then 1 + floor(5 * value) end::double as rfm_m,
        case when paid then 1 + 4 * (0.5 * rfm + 0.5 * value) end as rfm_score,
        case when not paid then 'No purchase' when rfm > 0.8 then 'Champions'
             when rfm > 0.5 then 'Loyal' else 'At risk' end as rfm_segment,
        case when paid and value > 0.9 then 'A' when paid and value > 0.7 then 'B' else 'C' end
            as abc_class,
        case when paid then 1 - value else 1 end as revenue_share_cum,
        (floor(5 * {u("i", 6)}))::integer as cluster_id,
        'cluster ' || (floor(5 * {u("i", 6)}))::integer as cluster_label,
        100 * {u("i", 7)} as behaviour_points,
        100 * {u("i", 8)} as fit_score,
        {u("i", 9)} as conversion_probability,
        'model' as conversion_source,
        case when paid then 10 * value * alive else 0 end as expected_purchases_12m,
        case when paid then alive end as p_alive,
        case when paid then 1 - alive end as churn_risk,
        case when paid then exp(4 + 10 * value) * alive else 0 end as clv_12m,
        case when paid then value * alive else 0 end as clv_percentile,
        100 * risk as risk_score,
        case when risk > 0.97 then 'high' when risk > 0.8 then 'medium'
             when risk > 0.1 then 'low' else 'unknown' end as risk_level,
        risk <= 0.1 as risk_stale,
        'Champions | ABC A | high value | likely to buy' as score_reasons,
        'rules-bench' as rules_version,
        'clusters=k5;conversion=bench;clv=bench' as model_version,
        '重要价值客户 | A类 | 高价值' as score_reasons_zh,
        'rfm reason' as rfm_reason, 'abc reason' as abc_reason,
        'behaviour reason' as behaviour_reason, 'fit reason' as fit_reason,
        'conversion reason' as conversion_reason, 'clv reason' as clv_reason,
        'risk reason' as risk_reason
    from b
    order by golden_account_id
    """


def one_day(warehouse: str, n: int, day: int) -> dict:
    """In a child process: write day ``day``'s scores, then one tiering run, timed by phase."""
    import duckdb

    from pipelines.config import load_stratum_config
    from pipelines.tiering.hysteresis import empty_state
    from pipelines.tiering.outputs import STATE_COLUMNS, change_counts, run_tiering
    from pipelines.tiering.store import read_scores, write_outputs

    timings: dict[str, float] = {}
    con = duckdb.connect(warehouse)
    try:
        t = time.perf_counter()
        con.execute("create schema if not exists scores")
        con.execute(scores_sql(n, day))
        timings["synthesise_s"] = time.perf_counter() - t

        t = time.perf_counter()
        policy = load_stratum_config().policy.model
        scores = read_scores(con)
        # The pipeline reads the previous state from the previous published snapshot; the
        # benchmark keeps it in the warehouse's tier table of the previous day (same columns).
        exists = con.execute(
            "select count(*) from information_schema.tables "
            "where table_schema = 'tiers' and table_name = 'customer_tier'"
        ).fetchone()[0]
        state = (
            con.execute(f"select {', '.join(STATE_COLUMNS)} from tiers.customer_tier").df()
            if exists
            else empty_state()
        )
        timings["read_s"] = time.perf_counter() - t

        t = time.perf_counter()
        out = run_tiering(scores, policy, DAYS[day], f"{DAYS[day]:%Y%m%d}-bench", state)
        timings["tiering_s"] = time.perf_counter() - t

        t = time.perf_counter()
        write_outputs(con, out, DAYS[day])
        timings["write_s"] = time.perf_counter() - t
        (ledger_rows,) = con.execute("select count(*) from tiers.tier_ledger").fetchone()
    finally:
        con.close()
    counts = change_counts(out)
    tiers = out.customer_tier["tier"].value_counts().to_dict()
    return {
        **timings,
        "rows": len(out.customer_tier),
        "note": f"tiers {tiers}; events {counts}; ledger {ledger_rows:,} rows",
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=1_000_000)
    parser.add_argument("--step", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--warehouse", help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.step is not None:  # child process: import first, time the run alone
        import pipelines.tiering.outputs  # noqa: F401
        import pipelines.tiering.store  # noqa: F401

        report_step(lambda: one_day(args.warehouse, args.accounts, args.step))
        return 0

    root = Path(tempfile.mkdtemp(prefix="stratum_bench_tiering_"))
    try:
        warehouse = root / "stratum.duckdb"
        rows = []
        for day in range(len(DAYS)):
            r = run_step(
                Path(__file__),
                str(day),
                ["--warehouse", str(warehouse), "--accounts", str(args.accounts)],
                {"STRATUM_DATA_DIR": str(root)},
            )
            r["step"] = f"day {day + 1} {DAYS[day]}"
            rows.append(r)
            print(f"{r['step']}: {r.get('note', '')}", flush=True)
        print(f"\ntiering at {args.accounts:,} accounts (three daily runs)")
        print_table(
            rows,
            [
                ("step", "run", ""),
                ("synthesise_s", "scores s", ".1f"),
                ("read_s", "read s", ".1f"),
                ("tiering_s", "tiering s", ".1f"),
                ("write_s", "write s", ".1f"),
                ("cpu_s", "CPU s", ".1f"),
                ("peak_rss_mb", "peak RSS MB", ".0f"),
                ("baseline_mb", "imports MB", ".0f"),
            ],
        )
        print("target: read + tiering + write well under 60 s and a few GB at 1M accounts")
        return 1 if any(r["exit"] for r in rows) else 0
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
