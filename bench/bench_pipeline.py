"""Benchmark: the sample-data generator at production scale (``python -m pipelines.generate``).

Run: ``.venv/bin/python bench/bench_pipeline.py [--accounts N]``.

Times ``python -m pipelines.generate --accounts N`` in a child process and reports wall time,
peak RSS and the size of the landing files it writes (per entity). The whole Dagster job at
this scale is measured stage by stage by ``bench_ingest``, ``bench_scoring`` and
``bench_tiering``; this script only covers the generator, which produces the landing files a
full ``make run`` at 1M accounts would start from.

Target: the generator is a test-data tool, not part of the daily run; it should finish at 1M
accounts in minutes and fit in memory on the 24 GB machine.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _measure import QUIET_ENV, REPO


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=1_000_000)
    parser.add_argument("--as-of", default="2025-06-30")
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="stratum_bench_generate_"))
    try:
        out = root / "landing"
        cmd = [
            sys.executable, "-m", "pipelines.generate", "--accounts", str(args.accounts),
            "--seed", "7", "--as-of", args.as_of, "--out", str(out),
        ]  # fmt: skip
        start = time.perf_counter()
        proc = subprocess.run(
            cmd,
            cwd=REPO,
            env={**os.environ, **QUIET_ENV, "PYTHONPATH": str(REPO)},
            capture_output=True,
            text=True,
        )
        wall = time.perf_counter() - start
        peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        if proc.returncode != 0:
            print(proc.stderr[-4000:], file=sys.stderr)
            return 1
        print(f"generator at {args.accounts:,} accounts: {wall:.1f}s, peak RSS {peak:.0f} MB")
        total = 0
        for entity in sorted(p for p in out.iterdir() if p.is_dir()):
            files = list(entity.iterdir())
            size = sum(f.stat().st_size for f in files)
            total += size
            kinds = sorted({f.suffix for f in files})
            print(f"  {entity.name:<16} {len(files):3d} files {size / 1e6:10,.0f} MB  {kinds}")
        print(f"  {'total':<16} {'':9} {total / 1e6:10,.0f} MB")
        print("target: minutes, well inside 24 GB (a test-data tool, not the daily run)")
        return 0
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
