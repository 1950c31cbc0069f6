"""Run the pipeline in a child process, optionally stopping dead at a chosen point so that the
test can SIGKILL it there. ``python -m tests.reliability.harness --help``.

The run is a real run of the ``stratum_daily`` job in the instance of ``$DAGSTER_HOME``
(``execute_job``, as ``dagster job execute`` does), or a re-execution from failure of an
earlier run. With ``--pause-at``, a function on the way is wrapped so that, when reached, it
writes ``--marker`` and sleeps: the process is then exactly where the test wants to kill it.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import sys
import time
from pathlib import Path

# point -> (module, function, condition on the call's arguments, call the original first?)
PAUSES = {
    # Inside the transaction that loads the second delivery's orders file.
    "ingest": (
        "pipelines.ingest.loader",
        "validation_sql",
        lambda a, k: a[0].name == "orders",
        False,
    ),
    # The erasure's rewrite of the warehouse: its fresh copy written and synced, not in place.
    "privacy": (
        "pipelines.privacy.compaction",
        "_fsync",
        lambda a, k: a[0].name.endswith(".compacting"),
        True,
    ),
    # The matching step's registry committed, the step not finished.
    "identity": ("pipelines.identity.assets", "persist", lambda a, k: True, True),
    # Inside the Great Expectations check of the profile (after dbt built it).
    "checks": (
        "pipelines.quality.checks",
        "validate_frame",
        lambda a, k: a[1] == "customer_360",
        False,
    ),
    # Between two score tables: some written, the rest not.
    "scoring": (
        "pipelines.scoring.assets",
        "write_scores",
        lambda a, k: a[1] == "clv",
        False,
    ),
    # After the tier step wrote this snapshot's tiers and change tables, before its KPIs.
    "tiering": ("pipelines.tiering.assets", "compute_tier_kpis", lambda a, k: True, False),
    # Snapshot staged and serving file built, nothing committed.
    "publish_staged": ("pipelines.publish.snapshot", "build_serving_db", lambda a, k: True, True),
    # Snapshot committed (folder renamed), serving file not swapped yet.
    "publish_committed": (
        "pipelines.publish.snapshot",
        "swap_serving_db",
        lambda a, k: True,
        False,
    ),
}


def stratum_job():
    """The job, for ``reconstructable``."""
    from pipelines.definitions import defs

    return defs.resolve_job_def("stratum_daily")


def _pause_at(point: str, marker: Path) -> None:
    module_name, name, condition, after = PAUSES[point]
    module = importlib.import_module(module_name)
    original = getattr(module, name)

    def stop(*args, **kwargs):
        result = original(*args, **kwargs) if after else None
        if condition(args, kwargs):
            marker.write_text(json.dumps({"point": point, "pid": os.getpid()}))
            time.sleep(3600)  # until SIGKILL
        return result if after else original(*args, **kwargs)

    setattr(module, name, stop)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.reliability.harness")
    parser.add_argument("--as-of", required=True)
    parser.add_argument("--pause-at", choices=sorted(PAUSES))
    parser.add_argument("--marker", type=Path)
    parser.add_argument("--reexecute", help="run id to re-execute from failure")
    args = parser.parse_args(argv)

    from dagster import DagsterInstance, ReexecutionOptions, execute_job, reconstructable

    if args.pause_at:
        _pause_at(args.pause_at, args.marker)
    with DagsterInstance.get() as instance:
        options = (
            ReexecutionOptions.from_failure(args.reexecute, instance) if args.reexecute else None
        )
        result = execute_job(
            reconstructable(stratum_job),
            instance=instance,
            # A re-execution keeps its parent's partition (the UI passes it on the same way).
            tags={"dagster/partition": args.as_of},
            reexecution_options=options,
        )
        print(json.dumps({"run_id": result.run_id, "success": result.success}))
    return 0 if result.success else 1


if __name__ == "__main__":
    sys.exit(main())
