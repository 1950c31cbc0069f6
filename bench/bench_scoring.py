"""Benchmark: every scoring step on the generator's world at 1,000,000 companies.

Run: ``.venv/bin/python bench/bench_scoring.py [--accounts N]``.

The world is the project's generator at the given size, ingested and built up to the feature
layer by the real assets once and kept (``bench/_pipeline_world.py``, ``.cache/bench/``). Each
score asset of ``pipelines/scoring`` then runs as a Dagster run of that asset for the as-of
date, in its own child process, in dependency order, followed by the ``dbt_score_models`` step
(``scores.account_scores``); wall time, CPU time and peak RSS are printed per step.

Target (project brief): a daily run on a 2-core / 24 GB machine, heavy work in DuckDB or on
per-account aggregates. Memory should grow with accounts x features, not with order history.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from _measure import print_table, report_step, run_step
from _pipeline_world import env, is_built, materialize, world_dir

# Dependency order (predictions: the value, churn and conversion contests, which read
# features.account_windows).
STEPS = {
    "rfm": [["scores", "rfm"]],
    "abc": [["scores", "abc"]],
    "clusters": [["scores", "clusters"]],
    "behaviour": [["scores", "behaviour"]],
    "fit": [["scores", "fit"]],
    "clv": [["scores", "clv"]],
    "risk": [["scores", "risk"]],
    "predictions": [["scores", "predictions"]],
    "account_scores": [["scores", "account_scores"]],
}


def build_features() -> dict:
    """In a child process: ingest every landing file, build dbt staging, match identities and
    build the dbt models up to the feature layer, as a run does."""
    from pipelines.identity.assets import identity_assets
    from pipelines.ingest.assets import raw_assets
    from pipelines.transform.assets import dbt_feature_models, dbt_models, dbt_staging_models

    materialize([*raw_assets, dbt_staging_models, *identity_assets, dbt_models, dbt_feature_models])
    return {"note": "raw assets, dbt staging, identity, dbt models and features (cached)"}


def score(step: str) -> dict:
    """In a child process: one scoring step against the world's warehouse, as a Dagster run
    of that asset selection for the benchmark's as-of date."""
    from dagster import AssetKey

    from pipelines.scoring.assets import scoring_assets
    from pipelines.transform.assets import dbt_score_models

    keys = [AssetKey(k) for k in STEPS[step]]
    result, _ = materialize([*scoring_assets, dbt_score_models], selection=keys)
    meta = {
        e.asset_key.path[-1]: e.materialization.metadata
        for e in result.get_asset_materialization_events()
    }
    last = meta.get(step, {})
    out = {"rows": getattr(last.get("row_count"), "value", None)}
    if step == "predictions":
        winners = {t: last[f"{t}_winner"].value for t in ("value", "churn", "conversion")}
        out["note"] = ", ".join(f"{t}: {w}" for t, w in winners.items())[:70]
    return out


def _run(step: str, data_dir: Path, accounts: int) -> dict:
    r = run_step(Path(__file__), step, ["--accounts", str(accounts)], env(data_dir))
    print(
        f"{step:<18} {r.get('seconds', float('nan')):7.1f}s  "
        f"peak RSS {r.get('peak_rss_mb', float('nan')):7.0f} MB  exit {r['exit']}",
        flush=True,
    )
    return r


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=1_000_000)
    parser.add_argument("--only", nargs="*", help="run only these steps (world must be built)")
    parser.add_argument("--step", help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.step:  # child process: import first so that the timing is the step's work alone
        import dagster  # noqa: F401
        import matplotlib.pyplot  # noqa: F401  (metadata charts: ~2 s import, once per process)

        import pipelines.scoring.assets  # noqa: F401

        work = build_features if args.step == "build" else lambda: score(args.step)
        report_step(work)
        return 0

    data_dir = world_dir(args.accounts)
    rows = []
    if not is_built(data_dir, "features.account_features"):
        rows.append(_run("build", data_dir, args.accounts))
        if rows[-1]["exit"]:
            return 1
    for step in args.only or STEPS:
        rows.append(_run(step, data_dir, args.accounts))
    print(f"\nscoring on the generator's world at {args.accounts:,} companies ({data_dir})")
    print_table(
        rows,
        [
            ("step", "step", ""),
            ("seconds", "seconds", ".1f"),
            ("cpu_s", "CPU s", ".1f"),
            ("peak_rss_mb", "peak RSS MB", ".0f"),
            ("baseline_mb", "imports MB", ".0f"),
            ("rows", "rows", ""),
            ("note", "note", ""),
        ],
    )
    total = sum(r.get("seconds", 0.0) for r in rows if r["step"] != "build")
    peak = max((r.get("peak_rss_mb", 0.0) for r in rows), default=0.0)
    print(f"scoring total {total:.1f}s, largest step peak RSS {peak:.0f} MB")
    print("target: each step well inside 24 GB (aim < 4 GB)")
    return 1 if any(r["exit"] for r in rows) else 0


if __name__ == "__main__":
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")
    sys.exit(main())
