"""Benchmark: fit BG/NBD + Gamma-Gamma and predict for every account of the generator's world.

Run: ``.venv/bin/python bench/bench_clv.py [--accounts N]`` (after ``bench_scoring.py`` has built
the world of that size). Reads the purchase history from ``features.account_features`` and
times the pure functions of ``pipelines/scoring/clv.py``: the summary in model units, the fit
(on a fixed-size sample) and the prediction for everyone.
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np
from _pipeline_world import AS_OF, is_built, world_dir

from pipelines import warehouse as wh
from pipelines.scoring.clv import FEATURE_COLUMNS, ClvConfig, clv_scores
from pipelines.scoring.features import ACCOUNT_FEATURES


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=1_000_000)
    args = parser.parse_args()
    data_dir = world_dir(args.accounts)
    if not is_built(data_dir, ACCOUNT_FEATURES):
        print("the world is not built yet: run bench/bench_scoring.py first", file=sys.stderr)
        return 2
    t0 = time.perf_counter()
    with wh.connection(data_dir / "warehouse" / "stratum.duckdb", read_only=True) as con:
        features = wh.read_table(con, ACCOUNT_FEATURES, FEATURE_COLUMNS)
    t1 = time.perf_counter()
    cfg = ClvConfig(version="bench")
    result = clv_scores(features, cfg, AS_OF)
    t2 = time.perf_counter()
    n = result.customers_fitted
    print(f"accounts: {len(features):,}; with a purchase history: {n:,}")
    print(f"(fit sample {min(n, cfg.fit_sample_size):,})")
    print(f"read features: {t1 - t0:.2f}s  fit + predict: {t2 - t1:.2f}s")
    print(f"BG/NBD {result.bgnbd}\nGamma-Gamma {result.gamma_gamma}")
    print(f"non-finite CLV: {int((~np.isfinite(result.scores['clv_12m'])).sum())}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
