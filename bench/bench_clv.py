"""Benchmark: fit BG/NBD + Gamma-Gamma and predict for 1,000,000 synthetic customer summaries.

Run: ``.venv/bin/python bench/bench_clv.py [n_customers]``. Prints the wall time of each step.
"""

from __future__ import annotations

import sys
import time

import numpy as np
import pandas as pd

from pipelines.scoring.clv import ClvConfig, score_clv


def synthetic_summaries(n: int, seed: int = 7) -> pd.DataFrame:
    """Summaries drawn from the BG/NBD story (weeks): gamma purchase rates, beta dropout."""
    rng = np.random.default_rng(seed)
    lam = rng.gamma(shape=0.25, scale=1 / 4.4, size=n)
    p_drop = rng.beta(0.8, 2.4, size=n)
    T = rng.uniform(4, 156, size=n)
    # Number of purchases before dropping out ~ geometric; cap by what the age allows.
    x = np.minimum(rng.poisson(lam * T), rng.geometric(np.clip(p_drop, 1e-3, 1)) - 1)
    t_x = np.where(x > 0, T * rng.beta(3, 1.5, size=n), 0.0)
    m = np.where(x > 0, rng.gamma(6.0, 1 / rng.gamma(3.7, 1 / 15.4, size=n)), 0.0)
    return pd.DataFrame(
        {
            "golden_account_id": np.arange(n).astype(str),
            "frequency": x.astype(float),
            "recency": t_x,
            "T": T,
            "monetary_value": m,
        }
    )


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
    t0 = time.perf_counter()
    summary = synthetic_summaries(n)
    t1 = time.perf_counter()
    cfg = ClvConfig(version="bench")
    out, bg, gg = score_clv(summary, cfg)
    t2 = time.perf_counter()
    print(f"customers: {n:,}  (fit sample {min(n, cfg.fit_sample_size):,})")
    print(f"synthesise: {t1 - t0:.2f}s  fit + predict: {t2 - t1:.2f}s")
    print(f"BG/NBD {bg}\nGamma-Gamma {gg}")
    print(f"non-finite CLV: {int((~np.isfinite(out['clv_12m'])).sum())}")


if __name__ == "__main__":
    main()
