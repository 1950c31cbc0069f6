"""The one context of a run: as-of date, snapshot id, configuration and versions.

A run is for one as-of date, its Dagster partition. :class:`RunContextResource` resolves the
context once, when the run starts — partition key, run id, trigger, every config file
(:func:`pipelines.config.load_stratum_config`) and the code version — and every asset and check
reads it from there: nothing re-reads the environment or a table written earlier in the run,
and dbt gets the same values as ``--vars``.

The resource also takes the per-data-dir run lock (:mod:`pipelines.run_lock`) for the whole
run, then recovers what a killed run may have left behind (:mod:`pipelines.recovery`), and
tags the run with what an analyst filters on in the UI (``stratum/as_of``,
``stratum/trigger``, ``stratum/snapshot_id``, ``stratum/policy_version``,
``stratum/rules_version``).
"""

from __future__ import annotations

import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from dagster import ConfigurableResource, InitResourceContext
from pydantic import Field, PrivateAttr

from pipelines import recovery, run_lock
from pipelines.config import StratumConfig, load_stratum_config
from pipelines.partitions import check_as_of
from pipelines.quality.blocked import complete_blocked_tag
from pipelines.runs import REFUSED_TAG, WORKER_TAG, worker_tag
from pipelines.settings import REPO_ROOT, code_version_override, get_paths

PARTITION_TAG = "dagster/partition"
TRIGGER_TAG = "stratum/trigger"


class RunContextError(RuntimeError):
    """The run cannot be given a context (no or bad partition, bad configuration)."""


@dataclass(frozen=True)
class RunContext:
    """Everything a stage needs to know about the run it is part of."""

    as_of: date
    run_id: str
    trigger: str
    config: StratumConfig
    code_version: str
    # The first run of a re-execution chain (Dagster's root run): a run re-executed from a
    # failed step continues the same snapshot instead of starting another.
    root_run_id: str = ""

    @property
    def snapshot_id(self) -> str:
        return snapshot_id_for(self.as_of, self.root_run_id or self.run_id)

    @property
    def policy_version(self) -> str:
        return self.config.policy_version

    @property
    def rules_version(self) -> str:
        return self.config.rules_version

    def tags(self) -> dict[str, str]:
        """Run tags an analyst filters on in the Dagster UI."""
        return {
            "stratum/as_of": self.as_of.isoformat(),
            TRIGGER_TAG: self.trigger,
            "stratum/snapshot_id": self.snapshot_id,
            "stratum/policy_version": self.policy_version,
            "stratum/rules_version": self.rules_version,
        }

    def dbt_vars(self) -> dict[str, str]:
        """What dbt receives as ``--vars`` (see dbt_project/macros/as_of_date.sql)."""
        return {
            "as_of_date": self.as_of.isoformat(),
            "run_id": self.run_id,
            "snapshot_id": self.snapshot_id,
            "rules_version": self.rules_version,
            "policy_version": self.policy_version,
            "code_version": self.code_version,
            "feature_settings": self.config.feature_settings(),
        }


def dbt_vars_for(as_of: date, run_id: str = "manual") -> dict[str, object]:
    """The ``--vars`` a run for ``as_of`` would give dbt, outside a run (``make docs``, a
    ``dbt build`` by hand): ``python -m pipelines.run_context --as-of YYYY-MM-DD``."""
    ctx = RunContext(as_of, run_id, "manual", load_stratum_config(), code_version())
    return ctx.dbt_vars()


def snapshot_id_for(as_of: date, run_id: str) -> str:
    """``YYYYMMDD-<first 8 characters of the run id>``: one snapshot per run and as-of date."""
    return f"{as_of:%Y%m%d}-{run_id[:8]}"


def trigger_of(tags: Mapping[str, str]) -> str:
    """How the run was started, from Dagster's own tags (or the launcher's)."""
    if tags.get(TRIGGER_TAG):
        return tags[TRIGGER_TAG]
    if tags.get("dagster/backfill"):
        return f"backfill:{tags['dagster/backfill']}"
    if tags.get("dagster/schedule_name"):
        return f"schedule:{tags['dagster/schedule_name']}"
    if tags.get("dagster/sensor_name"):
        return f"sensor:{tags['dagster/sensor_name']}"
    return "manual"


def code_version() -> str:
    """``STRATUM_CODE_VERSION`` or the git commit of the checkout (``-dirty`` if modified)."""
    explicit = code_version_override()
    if explicit:
        return explicit
    try:
        sha = subprocess.run(
            ["git", "rev-parse", "--short=12", "HEAD"],
            cwd=REPO_ROOT, capture_output=True, text=True, check=True,
        ).stdout.strip()  # fmt: skip
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=REPO_ROOT, capture_output=True, text=True, check=True,
        ).stdout.strip()  # fmt: skip
        return f"{sha}-dirty" if dirty else sha
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def resolve_run_context(
    run_id: str,
    tags: Mapping[str, str],
    policy_path: str | Path | None = None,
    root_run_id: str | None = None,
) -> RunContext:
    """The context of the run with these tags (its partition key is the as-of date)."""
    key = tags.get(PARTITION_TAG)
    if not key:
        raise RunContextError(
            "this run has no as-of date: the Stratum job is partitioned by as-of date, so "
            "launch it for a partition (make run with an as-of date, make backfill, or "
            "pick a date in the Dagster UI)"
        )
    try:
        as_of = check_as_of(key)
    except ValueError as exc:
        raise RunContextError(str(exc)) from None
    return RunContext(
        as_of=as_of,
        run_id=run_id,
        trigger=trigger_of(tags),
        config=load_stratum_config(policy_path=policy_path or None),
        code_version=code_version(),
        root_run_id=root_run_id or run_id,
    )


class RunContextResource(ConfigurableResource):
    """The run context (resource key ``run``), resolved once when the run starts.

    ``tier_policy``: a policy file for this run instead of ``config/tiers/default.yaml``
    (run config ``resources.run.config.tier_policy``; ``STRATUM_TIER_POLICY`` when empty).
    ``rebuild``: build and publish even when nothing changed since the snapshot in force for
    the date (see :mod:`pipelines.run_inputs`).
    """

    tier_policy: str = Field(default="", description="Tier policy file for this run.")
    rebuild: bool = Field(
        default=False,
        description="Rebuild and publish even if no input changed since the date's snapshot.",
    )

    _context: RunContext | None = PrivateAttr(default=None)
    _lock: run_lock.RunLock | None = PrivateAttr(default=None)

    def setup_for_execution(self, context: InitResourceContext) -> None:
        run = context.dagster_run
        if run is None:  # e.g. a resource built outside a run: no context to resolve
            return
        policy = Path(self.tier_policy) if self.tier_policy else None
        if policy is not None and not policy.is_absolute():
            policy = REPO_ROOT / policy
        resolved = resolve_run_context(run.run_id, run.tags, policy, run.root_run_id)
        try:
            self._lock = run_lock.acquire(
                get_paths().data_dir, run.run_id, resolved.as_of.isoformat()
            )
        except run_lock.RunInProgressError as exc:
            if context.instance is not None:  # not an attempt: the sensor must not count it
                context.instance.add_run_tags(run.run_id, {REFUSED_TAG: str(exc)[:500]})
            raise
        self._context = resolved
        self._recover(context)
        if context.instance is not None:
            context.instance.add_run_tags(run.run_id, {**resolved.tags(), WORKER_TAG: worker_tag()})

    def _recover(self, context: InitResourceContext) -> None:
        # Under the lock nothing else writes: sweep what killed runs left and catch the
        # serving file up with the snapshots. A failure here must not stop the run: the
        # publish step rebuilds the serving file anyway.
        try:
            report = recovery.recover(get_paths())
        except Exception as exc:  # noqa: BLE001
            context.log.warning(f"recovery of the data dir failed (the run goes on): {exc!r}")
            return
        if report.removed or report.serving_rebuilt:
            context.log.warning(f"recovered after an interrupted run: {report.summary()}")

    def teardown_after_execution(self, context: InitResourceContext) -> None:
        if self._lock is not None:
            self._lock.release()
            self._lock = None
        run = context.dagster_run
        if run is None or context.instance is None or self._context is None:
            return
        # Every blocked run says why in one sentence, even when the check that stopped it
        # (a dbt test, the identity limits) gave no clause of its own.
        try:
            complete_blocked_tag(context.instance, run.run_id, get_paths().serving_dir)
        except Exception as exc:  # noqa: BLE001 - a missing sentence must not fail the run
            context.log.warning(f"could not complete the run's stratum/blocked tag: {exc!r}")

    @property
    def ctx(self) -> RunContext:
        if self._context is None:
            raise RunContextError("the run context is only available inside a run")
        return self._context


def main(argv: list[str] | None = None) -> int:
    """Print the dbt ``--vars`` of a run for an as-of date (default: the last complete day)."""
    import argparse
    import json

    from pipelines.partitions import latest_complete_as_of

    parser = argparse.ArgumentParser(
        prog="python -m pipelines.run_context", description=main.__doc__
    )
    parser.add_argument("--as-of", type=date.fromisoformat, default=None)
    args = parser.parse_args(argv)
    print(json.dumps(dbt_vars_for(args.as_of or latest_complete_as_of()), sort_keys=True))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
