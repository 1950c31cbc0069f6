"""Benchmark: the whole daily job on DuckDB and on Spark, side by side (docs/scale-out.md).

Run: ``.venv/bin/python bench/bench_engines.py [--accounts 100000] [--engines duckdb spark]``
(needs the ``spark`` extra for the Spark engine: ``make install-spark``).

For each engine, a fresh data dir with the same generated landing files, one run of the
``stratum_daily`` job for one as-of date (each engine in its own process), and the wall time of
every step that takes more than a second. Then what the score stage holds in memory: the feature
frame the score assets read (pandas, deep size), per million accounts.

Target: none as such: the figures say what the Spark path costs on one machine, where DuckDB
is the right engine; Spark is for clusters (docs/scale-out.md).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _measure import QUIET_ENV, REPO
from _pipeline_world import AS_OF, CACHE, SEED


def run_job(engine: str, data_dir: Path) -> dict:
    """The job in-process (called in a child): step wall times and the feature frame's size."""
    os.environ.update(
        {**QUIET_ENV, "STRATUM_DATA_DIR": str(data_dir), "STRATUM_ENGINE": engine,
         "STRATUM_CODE_VERSION": "bench"}
    )  # fmt: skip
    from dagster import DagsterInstance

    from pipelines import warehouse as wh
    from pipelines.definitions import defs
    from pipelines.engine import read_model
    from pipelines.settings import get_paths

    start = time.perf_counter()
    with DagsterInstance.ephemeral() as instance:
        result = defs.resolve_job_def("stratum_daily").execute_in_process(
            instance=instance, raise_on_error=False, partition_key=AS_OF.isoformat()
        )
        steps = {
            e.step_key: e.event_specific_data.duration_ms / 1000
            for e in result.all_events
            if e.event_type_value == "STEP_SUCCESS"
        }
    wall = time.perf_counter() - start
    read_start = time.perf_counter()
    with wh.connection(get_paths().warehouse, read_only=True) as con:
        features = read_model(con, "features.account_features")
    read_s = time.perf_counter() - read_start
    return {
        "success": result.success,
        "wall_s": wall,
        "steps": {k: v for k, v in sorted(steps.items(), key=lambda kv: -kv[1]) if v >= 1.0},
        "features_rows": len(features),
        "features_columns": features.shape[1],
        "features_mb": features.memory_usage(deep=True).sum() / 1e6,
        "features_read_s": read_s,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=100_000)
    parser.add_argument("--engines", nargs="+", default=["duckdb", "spark"])
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(run_job(args.child[0], Path(args.child[1]))))
        return 0
    from pipelines.generate.cache import cached_world, copy_world

    landing = cached_world(CACHE / "worlds", args.accounts, SEED, AS_OF)
    root = Path(tempfile.mkdtemp(prefix="stratum_bench_engines_"))
    try:
        for engine in args.engines:
            data_dir = root / engine
            copy_world(landing, data_dir)
            proc = subprocess.run(
                [sys.executable, __file__, "--child", engine, str(data_dir)],
                cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)},
                capture_output=True, text=True,
            )  # fmt: skip
            if proc.returncode != 0:
                print(proc.stderr[-4000:], file=sys.stderr)
                return 1
            figures = json.loads(proc.stdout.strip().splitlines()[-1])
            peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
            per_million = figures["features_mb"] * 1e6 / max(figures["features_rows"], 1)
            print(f"== {engine} at {args.accounts:,} accounts: job {figures['wall_s']:.0f} s, "
                  f"success {figures['success']}, peak RSS so far {peak:.0f} MB")  # fmt: skip
            for step, seconds in figures["steps"].items():
                print(f"  {step:<40} {seconds:8.1f} s")
            print(f"  feature frame: {figures['features_rows']:,} x {figures['features_columns']}"
                  f" = {figures['features_mb']:.0f} MB ({per_million:.0f} MB per million"
                  f" accounts), read in {figures['features_read_s']:.1f} s")  # fmt: skip
        print(f"load average at the end: {os.getloadavg()}")
        return 0
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
