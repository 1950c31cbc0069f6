"""The dbt CLI resource, without the work dagster-dbt does in the step's own process for
features this project does not use.

Before every ``dbt build`` subprocess, ``DbtCliResource.cli`` builds a dbt Core adapter in the
Dagster process (profile, project, the manifest of all ~575 macros, parsed with Jinja), which
only ``DbtEventIterator.fetch_row_counts`` and ``fetch_column_metadata`` use; the row counts this
project records come from its own query after dbt has exited (``_observations`` in
``assets.py``), so the adapter was built and dropped on each of a run's five dbt steps,
whatever the data size. And the first ``cli`` call of a resource ran ``dbt --version`` as one
more subprocess (a whole dbt import) to learn the version of the dbt package that this
interpreter has installed. Together, on a 1,000-account run in process (2026-12-03): 42.6 s
before, 38.3-38.9 s after; the five dbt steps 27.3 -> 22.5-23.2 s.
"""

from __future__ import annotations

import shutil
import sys
from functools import cached_property
from pathlib import Path
from typing import Any

from dagster_dbt import DbtCliResource
from packaging import version


def _environment_dbt() -> Path:
    """The dbt next to this interpreter (the project's virtualenv; not resolved: a virtualenv's
    python is a link to the base interpreter, its dbt is not)."""
    return Path(sys.executable).absolute().parent / "dbt"


def dbt_executable() -> str:
    """This environment's dbt, even when it is not on PATH; else the one on PATH."""
    local = _environment_dbt()
    return str(local) if local.exists() else (shutil.which("dbt") or "dbt")


class StratumDbtCliResource(DbtCliResource):
    """``DbtCliResource`` that builds no adapter handle in the Dagster process (so
    ``fetch_row_counts`` and ``fetch_column_metadata`` are not available: the project's own
    observations count rows) and reads the dbt version from the installed package when the
    executable is this environment's own."""

    def _initialize_dbt_core_adapter(self, args: Any) -> None:  # type: ignore[override]
        return None

    @cached_property
    def _cli_version(self) -> version.Version:
        if Path(self.dbt_executable).absolute() != _environment_dbt():
            return super()._cli_version
        from dbt.version import __version__

        return version.parse(__version__)
