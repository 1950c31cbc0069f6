"""Benchmark: every scoring asset on 1,000,000 accounts / 20M orders / 10M activities / 300k leads.

Run: ``.venv/bin/python bench/bench_scoring.py [--accounts N] [--orders N] [--keep DIR]``.

Builds a synthetic warehouse (``bench/_world.py``, DuckDB SQL over ``range()``) in a temp dir,
then materialises each asset of ``pipelines/scoring/assets.py`` - the very functions Dagster
runs, invoked directly with a ``Warehouse`` resource - in its own child process, in dependency
order, and prints wall time and peak RSS per asset.

Target (project brief): a daily run on a 2-core / 24 GB machine, heavy work in DuckDB or on
per-account aggregates; reference RFM over 20M orders / 1M customers ~2 s and ~0.5 GB. Memory
should grow with accounts x features, not with order history.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

from _measure import peak_rss_mb, print_table, report_step, run_step

AS_OF = date(2025, 6, 30)
# Dependency order of the assets (conversion reads scores.fit; account_scores reads them all).
STEPS = [
    "rfm",
    "abc",
    "clusters",
    "behaviour",
    "fit",
    "conversion",
    "clv",
    "risk",
    "account_scores",
]
ASSET_NAMES = {
    "rfm": "rfm_scores",
    "abc": "abc_scores",
    "clusters": "cluster_scores",
    "behaviour": "behaviour_scores",
    "fit": "fit_scores",
    "conversion": "conversion_scores",
    "clv": "clv_scores",
    "risk": "risk_scores",
    "account_scores": "account_scores",
}


def materialise(step: str, warehouse: str) -> dict:
    """In a child process: run one scoring asset against ``warehouse``."""
    from dagster import build_asset_context

    from pipelines.config import load_stratum_config
    from pipelines.resources import Warehouse
    from pipelines.run_context import RunContext, RunContextResource
    from pipelines.scoring import assets

    ctx = RunContext(AS_OF, "bench-run", "bench", load_stratum_config(), "bench")
    fn = getattr(assets, ASSET_NAMES[step])
    result = fn(
        context=build_asset_context(),
        warehouse=Warehouse(path=warehouse),
        run=RunContextResource.of(ctx),
    )
    meta = result.metadata or {}
    out = {"rows": getattr(meta.get("row_count"), "value", None)}
    status = meta.get("model_status")
    if status is not None:
        out["note"] = str(getattr(status, "value", status))[:60]
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=1_000_000)
    parser.add_argument("--orders", type=int, default=20_000_000)
    parser.add_argument("--activities", type=int, default=10_000_000)
    parser.add_argument("--leads", type=int, default=300_000)
    parser.add_argument("--keep", help="build (or reuse) the warehouse in this dir and keep it")
    parser.add_argument("--only", nargs="*", help="run only these steps (warehouse must exist)")
    parser.add_argument("--step", help=argparse.SUPPRESS)
    parser.add_argument("--warehouse", help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.step:  # child process: import first so that the timing is the asset's work alone
        import dagster  # noqa: F401
        import matplotlib.pyplot  # noqa: F401  (metadata charts: ~2 s import, once per process)

        import pipelines.scoring.assets  # noqa: F401

        report_step(lambda: materialise(args.step, args.warehouse))
        return 0

    root = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="stratum_bench_"))
    root.mkdir(parents=True, exist_ok=True)
    warehouse = root / "warehouse" / "stratum.duckdb"
    warehouse.parent.mkdir(parents=True, exist_ok=True)
    env = {"STRATUM_DATA_DIR": str(root)}
    try:
        if not (args.keep and warehouse.exists()):
            from _world import build_warehouse

            t0 = time.perf_counter()
            counts = build_warehouse(
                str(warehouse), AS_OF, args.accounts, args.orders, args.activities, args.leads
            )
            size_gb = warehouse.stat().st_size / 1e9
            print(
                f"synthetic warehouse: {counts} in {time.perf_counter() - t0:.1f}s, "
                f"{size_gb:.2f} GB on disk, generator peak RSS {peak_rss_mb():.0f} MB",
                flush=True,
            )
        # A stored conversion model from an earlier run would be reused: start from none.
        shutil.rmtree(root / "models", ignore_errors=True)
        rows = []
        for step in args.only or STEPS:
            r = run_step(Path(__file__), step, ["--warehouse", str(warehouse)], env)
            rows.append(r)
            print(
                f"{step:<16} {r.get('seconds', float('nan')):7.1f}s  "
                f"peak RSS {r.get('peak_rss_mb', float('nan')):7.0f} MB  exit {r['exit']}",
                flush=True,
            )
        print(f"\nscoring at {args.accounts:,} accounts / {args.orders:,} orders (as of {AS_OF})")
        print_table(
            rows,
            [
                ("step", "asset", ""),
                ("seconds", "seconds", ".1f"),
                ("cpu_s", "CPU s", ".1f"),
                ("peak_rss_mb", "peak RSS MB", ".0f"),
                ("baseline_mb", "imports MB", ".0f"),
                ("rows", "rows", ""),
                ("note", "note", ""),
            ],
        )
        total = sum(r.get("seconds", 0.0) for r in rows)
        peak = max((r.get("peak_rss_mb", 0.0) for r in rows), default=0.0)
        print(f"total {total:.1f}s, largest step peak RSS {peak:.0f} MB")
        print("target: each step well inside 24 GB (aim < 4 GB); RFM over 20M orders ~2 s")
        return 1 if any(r["exit"] for r in rows) else 0
    finally:
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")
    sys.exit(main())
