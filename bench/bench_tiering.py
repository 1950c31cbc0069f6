"""Benchmark: three daily tier-and-publish runs on the generator's world at 1,000,000 companies.

Run: ``.venv/bin/python bench/bench_tiering.py [--accounts N]``.

Uses the world of ``bench_scoring`` (built and scored once, ``.cache/bench/``; scored here
first when needed). Each day runs the pipeline's own tail - ``tiers/customer_tier``,
``tiers/tier_kpis``, ``dbt_publish_models`` and ``publish/tier_snapshot`` - as one Dagster run
for that as-of date, in its own child process, so hysteresis reads the previous day's published
snapshot exactly as in production. Day 1 starts with no snapshot (every account "new"); before
day 2 about 10% of the accounts' scores move (so hysteresis holds moves back and pending
downgrades start); day 3 is 40 days later (grace over: demotions land, SCD2 rows close).
Prints wall time, CPU time and peak RSS per day, and each asset's own time.

Target: well under a minute and a few GB per day at 1M accounts (the policy is vectorised;
memory ~ accounts x score columns).
"""

from __future__ import annotations

import argparse
import shutil
import sys
from datetime import timedelta
from pathlib import Path

from _measure import print_table, report_step, run_step
from _pipeline_world import AS_OF, env, is_built, materialize, world_dir

DAYS = [AS_OF, AS_OF + timedelta(days=1), AS_OF + timedelta(days=40)]


def prepare() -> dict:
    """In a child process: the scores the tier step reads (bench_scoring's steps in one run)."""
    from pipelines.scoring.assets import scoring_assets
    from pipelines.transform.assets import dbt_score_models

    materialize([*scoring_assets, dbt_score_models])
    return {"note": "scores for the tier runs"}


def move_scores(day: int) -> None:
    """Before day 2: about 10% of the accounts' value scores are redrawn (a busy day)."""
    from pipelines import warehouse as wh
    from pipelines.settings import get_paths

    if day != 1:
        return
    with wh.connection(get_paths().warehouse) as con:
        con.execute(
            """
            update scores.account_scores set
                clv_12m = clv_12m * (0.2 + 2 * (hash(golden_account_id, 2) % 1000) / 1000.0),
                clv_percentile = (hash(golden_account_id, 3) % 1000) / 1000.0,
                rfm_score = 1 + (hash(golden_account_id, 4) % 400) / 100.0
            where hash(golden_account_id, 1) % 10 = 0
            """
        )


def one_day(day: int) -> dict:
    """In a child process: one as-of date's tier and publish steps, as one Dagster run."""
    from pipelines.publish.assets import tier_snapshot
    from pipelines.tiering.assets import customer_tier, tier_kpis
    from pipelines.transform.assets import dbt_publish_models

    move_scores(day)
    result, seconds = materialize(
        [customer_tier, tier_kpis, dbt_publish_models, tier_snapshot], DAYS[day]
    )
    meta = next(
        e.materialization.metadata
        for e in result.get_asset_materialization_events()
        if e.asset_key.path == ["tiers", "customer_tier"]
    )
    counts = {k: meta[k].value for k in ("new", "promotion", "demotion", "pending_downgrades")}
    return {
        **{f"{k}_s": v for k, v in seconds.items()},
        "rows": meta["accounts"].value,
        "note": f"events {counts}",
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=1_000_000)
    parser.add_argument("--step", help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.step is not None:  # child process: import first, time the work alone
        import pipelines.publish.assets  # noqa: F401
        import pipelines.tiering.assets  # noqa: F401

        work = prepare if args.step == "prepare" else lambda: one_day(int(args.step))
        report_step(work)
        return 0

    data_dir = world_dir(args.accounts)
    if not is_built(data_dir, "features.account_features"):
        print("the world is not built yet: run bench/bench_scoring.py first", file=sys.stderr)
        return 2
    rows = []
    if not is_built(data_dir, "scores.account_scores"):
        rows.append(run_step(Path(__file__), "prepare", [], env(data_dir)))
    # Three fresh days: no snapshot published by an earlier benchmark.
    shutil.rmtree(data_dir / "serving", ignore_errors=True)
    for day in range(len(DAYS)):
        r = run_step(Path(__file__), str(day), ["--accounts", str(args.accounts)], env(data_dir))
        r["step"] = f"day {day + 1} {DAYS[day]}"
        rows.append(r)
        print(f"{r['step']}: {r.get('note', '')}", flush=True)
    print(f"\ntier + publish on the generator's world at {args.accounts:,} companies")
    print_table(
        rows,
        [
            ("step", "run", ""),
            ("seconds", "seconds", ".1f"),
            ("customer_tier_s", "tier s", ".1f"),
            ("tier_kpis_s", "KPIs s", ".1f"),
            ("dbt_publish_models_s", "dbt s", ".1f"),
            ("tier_snapshot_s", "publish s", ".1f"),
            ("cpu_s", "CPU s", ".1f"),
            ("peak_rss_mb", "peak RSS MB", ".0f"),
            ("rows", "accounts", ""),
        ],
    )
    print("target: the tier step well under 60 s and a few GB at 1M accounts")
    return 1 if any(r["exit"] for r in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
