"""Run the benchmarks: ``python -m bench [name ...]`` (``make bench``).

Each ``bench/bench_<name>.py`` is a script that does one heavy thing at production scale
(1,000,000 accounts, tens of millions of orders) and prints what it measured. This runner starts
each in its own process and reports wall time and peak resident memory, so the figures are not
polluted by other benchmarks. Targets are stated in each script; nothing here is a test.
"""

from __future__ import annotations

import os
import resource
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main(argv: list[str]) -> int:
    scripts = sorted(HERE.glob("bench_*.py"))
    if argv:
        scripts = [s for s in scripts if s.stem.removeprefix("bench_") in argv]
    failed = 0
    rows = []
    for script in scripts:
        print(f"== {script.stem}", flush=True)
        start = time.perf_counter()
        # The scripts import ``pipelines`` from the repo root, which is not their own folder.
        env = {**os.environ, "PYTHONPATH": str(HERE.parent)}
        proc = subprocess.run([sys.executable, str(script)], cwd=HERE.parent, env=env)
        elapsed = time.perf_counter() - start
        # ru_maxrss of children is the largest child so far; each script runs alone, in order,
        # so it is that script's peak when larger than all before it (reported as an upper bound).
        peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        rows.append((script.stem, elapsed, peak_mb, proc.returncode))
        failed += proc.returncode != 0
    print("\nbenchmark                      wall s   peak RSS MB (max so far)   exit")
    for name, elapsed, peak, rc in rows:
        print(f"{name:<30} {elapsed:7.1f}   {peak:10.0f}                 {rc}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
