"""How ``make test`` splits the suite over two pytest-xdist workers.

A worker runs whole groups. A test's group is the world it shares: every module whose tests use
one of the session fixtures below (a built world, a run, a UI history, each minutes of setup)
goes to the group of that fixture, so the fixture is built once, in one worker; any other module
is a group of its own (its module fixtures are built once too). The shared worlds are queued
first, then the modules that build a warehouse with dbt, then the rest, so short unit-test
modules fill the gaps at the end instead of one long group starting last.

Only a worker collects tests, so each worker writes the groups it computed (by node id) to a
file the controller named, and the controller's scheduler (xdist's ``loadscope`` with these
scopes) reads it once every worker has finished collecting. (xdist's own ``loadgroup`` renames
node ids, which pytest 9 no longer allows.)
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from xdist.scheduler import LoadScopeScheduling

# Session fixtures that build a shared world, by the conftest that defines them.
SHARED_WORLDS = {
    ("tests/integration", "first_run"): "integration-first-run",
    ("tests/reliability", "template"): "reliability-template",
    ("tests/ui", "history"): "ui-history",
}
WORKER_INPUT_KEY = "stratum_groups_file"


def group_of(item: pytest.Item) -> str:
    """The group ``item`` runs in: the shared world it uses, else its module."""
    for name, fixturedefs in item._fixtureinfo.name2fixturedefs.items():
        for fixturedef in fixturedefs:
            group = SHARED_WORLDS.get((fixturedef.baseid, name))
            if group is not None:
                return group
    return item.nodeid.split("::", 1)[0]


def order_by_group(items: list[pytest.Item]) -> dict[str, str]:
    """Queue the heavy groups first (a stable sort: within a group, the collection order);
    returns each node id's group."""
    groups = {item.nodeid: group_of(item) for item in items}
    builds = {groups[item.nodeid] for item in items if "dbt_manifest" in item.fixturenames}
    shared = set(SHARED_WORLDS.values())

    def rank(item: pytest.Item) -> int:
        group = groups[item.nodeid]
        return 0 if group in shared else 1 if group in builds else 2

    items.sort(key=rank)
    return groups


def write_groups(path: Path, groups: dict[str, str]) -> None:
    """Written beside and renamed into place: the controller never reads half a file."""
    partial = path.with_name(f".{path.name}.{os.getpid()}")
    partial.write_text(json.dumps(groups, sort_keys=True))
    os.replace(partial, path)


class SharedWorldScheduling(LoadScopeScheduling):
    """xdist's ``loadscope`` whose scopes are the groups the workers wrote to ``groups_file``."""

    def __init__(self, config: pytest.Config, log, groups_file: Path) -> None:
        super().__init__(config, log)
        self._groups_file = groups_file
        self._groups: dict[str, str] | None = None

    def _split_scope(self, nodeid: str) -> str:
        if self._groups is None:
            self._groups = json.loads(self._groups_file.read_text())
        return self._groups.get(nodeid) or super()._split_scope(nodeid)
