"""``make bench``: the whole job at 100k and 1M accounts, next to the DuckDB floor.

    python -m bench [--sizes 100000,1000000] [--seed 7]       # make bench [SIZES=100000]
    python -m bench stages [ingest scoring tiering clv identity pipeline]  # per-stage scripts

For each size: the project's generator writes the world once (cached under ``.cache/bench/``
by size, seed, as-of date and generator version); a fresh data dir gets a copy of its landing
files; then, each in its own measured process tree (``_tree.py``), one after another:

1. ``import pipelines.definitions`` (the start-up every launcher and code server pays);
2. the floor (``floor.py``): a plain DuckDB script over the same landing files;
3. the full run: ``python -m pipelines.launch run`` for the as-of date, as ``make run`` does;
4. the same date again, with no new file (must publish nothing new);
5. the next day, after a delivery of about 1% new orders and activities (``increment.py``).

Each run's steps are timed from the Dagster event log. Results go to
``bench/results/<date>.json``; the tables in ``docs/performance.md`` and the README are
rewritten from the latest result of every size (``report.py``). Nothing here is a test: the
figures depend on the machine and on what else runs on it, which every entry records.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time
from datetime import date, timedelta
from pathlib import Path

HERE = Path(__file__).resolve().parent
# The helpers import each other by module name (as the stage scripts always have).
sys.path[:0] = [str(HERE), str(HERE.parent)]

import report  # noqa: E402
from _pipeline_world import AS_OF, CACHE, SEED  # noqa: E402
from _tree import machine, run_measured  # noqa: E402
from increment import write_increment  # noqa: E402
from job import JobDir, fresh_job_dir, run_floor, run_import, run_job  # noqa: E402

DEFAULT_SIZES = (100_000, 1_000_000)


def _world(accounts: int, seed: int, logs: Path) -> tuple[Path, dict]:
    """The cached world's folder, generated in a measured child process when missing."""
    from pipelines.generate.cache import generator_version

    path = CACHE / "worlds" / f"{accounts}-{seed}-{AS_OF:%Y%m%d}-3y-{generator_version()}"
    if path.exists():
        return path, {"cached": True}
    code = (
        "import sys; from datetime import date; from pathlib import Path; "
        "from pipelines.generate.cache import cached_world; "
        f"cached_world(Path(sys.argv[1]), {accounts}, {seed}, date.fromisoformat(sys.argv[2]))"
    )
    cmd = [sys.executable, "-c", code, str(CACHE / "worlds"), AS_OF.isoformat()]
    env = {**os.environ, "PYTHONPATH": str(HERE.parent)}
    measured = run_measured(cmd, env, HERE.parent, logs / f"generate-{accounts}.log")
    if measured.returncode or not path.exists():
        raise RuntimeError(f"generating the {accounts:,}-account world failed: see {logs}")
    return path, {"cached": False, **measured.summary()}


def _print_run(label: str, result: dict) -> None:
    failed = [s["step"] for s in result.get("steps", []) if s["status"] == "failed"]
    print(
        f"  {label:<10} {result['wall_s']:8.1f} s wall {result['cpu_s']:8.1f} s CPU "
        f"{result['peak_rss_mb'] / 1024:6.2f} GB peak  exit {result['exit']}"
        + (f"  failed: {', '.join(failed)}" if failed else ""),
        flush=True,
    )


def bench_size(accounts: int, seed: int, code_version: str) -> dict:
    """Every measurement of one size (module docstring); the entry of the results file."""
    job = JobDir(CACHE / f"job-{accounts}-{seed}")
    job.logs.mkdir(parents=True, exist_ok=True)
    print(f"== {accounts:,} accounts (seed {seed}, as of {AS_OF})", flush=True)
    world, generate = _world(accounts, seed, job.logs)
    job = fresh_job_dir(job.root, world)
    entry: dict = {"accounts": accounts, "seed": seed, "generate": generate}
    entry["machine"] = machine()
    entry["import"] = run_import(job)
    _print_run("import", entry["import"])
    entry["floor"] = run_floor(job, AS_OF)
    entry["landing_rows"] = sum(entry["floor"].get("landing_rows", {}).values())
    _print_run("floor", entry["floor"])
    entry["full"] = run_job(job, AS_OF, "full", code_version)
    _print_run("full", entry["full"])
    entry["rerun"] = run_job(job, AS_OF, "rerun", code_version)
    _print_run("rerun", entry["rerun"])
    next_day = AS_OF + timedelta(days=1)
    increment = write_increment(job.landing, next_day)
    entry["next_day"] = {"increment_rows": increment} | run_job(
        job, next_day, "next_day", code_version
    )
    _print_run("next day", entry["next_day"])
    # The warehouse and snapshots are gigabytes at 1M: keep the logs only.
    shutil.rmtree(job.data_dir, ignore_errors=True)
    return entry


def _git_commit() -> str:
    out = subprocess.run(
        ["git", "rev-parse", "--short=12", "HEAD"], cwd=HERE.parent, capture_output=True, text=True
    )
    return out.stdout.strip() or "unknown"


def _stages(names: list[str]) -> int:
    """The per-stage scripts ``bench_<name>.py``, each in its own process."""
    scripts = sorted(HERE.glob("bench_*.py"))
    if names:
        scripts = [s for s in scripts if s.stem.removeprefix("bench_") in names]
    failed = 0
    env = {**os.environ, "PYTHONPATH": str(HERE.parent)}
    for script in scripts:
        print(f"== {script.stem}", flush=True)
        failed += (
            subprocess.run([sys.executable, str(script)], cwd=HERE.parent, env=env).returncode != 0
        )
    return 1 if failed else 0


def main(argv: list[str]) -> int:
    if argv[:1] == ["stages"]:
        return _stages(argv[1:])
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default=",".join(map(str, DEFAULT_SIZES)))
    parser.add_argument("--seed", type=int, default=SEED)
    args = parser.parse_args(argv)
    from pipelines.run_context import code_version

    version, commit = code_version(), _git_commit()
    failed = 0
    for accounts in [int(s.replace("_", "")) for s in args.sizes.split(",") if s.strip()]:
        started = time.time()
        entry = bench_size(accounts, args.seed, version)
        entry |= {"date": date.today().isoformat(), "commit": version, "git": commit}
        entry["cpus"] = entry["machine"]["cpus"]
        entry["bench_wall_s"] = round(time.time() - started, 1)
        path = report.save(entry, date.today())
        report.render()
        print(f"  results: {path.relative_to(HERE.parent)}; tables: docs/performance.md")
        failed += any(entry[k]["exit"] for k in ("floor", "full", "rerun", "next_day"))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
