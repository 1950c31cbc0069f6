"""The dbt resource skips dagster-dbt's in-process adapter and its ``dbt --version`` subprocess
(pipelines/transform/resource.py), and still asks an executable from elsewhere its version."""

from __future__ import annotations

import dagster_dbt.core.resource as dagster_dbt_resource
import pytest
from dbt.version import __version__ as installed_dbt
from packaging import version

from pipelines.transform.assets import dbt_resource
from pipelines.transform.resource import StratumDbtCliResource


def _must_not_run(*args, **kwargs):
    raise AssertionError(f"called with {args}")


def test_the_projects_dbt_reports_the_installed_version_without_a_subprocess(monkeypatch):
    monkeypatch.setattr(dagster_dbt_resource, "check_output", _must_not_run)
    resource = dbt_resource()
    assert isinstance(resource, StratumDbtCliResource)
    assert resource._cli_version == version.parse(installed_dbt)
    # dbt Core, not Fusion: dagster-dbt keeps its dbt Core code paths (log parsing, selection).
    assert resource._cli_version.major < 2


def test_no_adapter_is_built_in_the_steps_process(monkeypatch):
    # The parent builds a profile, a project and the macro manifest here; a stub that would
    # fail if called proves the override never reaches it.
    monkeypatch.setattr(
        dagster_dbt_resource.DbtCliResource, "_initialize_dbt_core_adapter", _must_not_run
    )
    assert dbt_resource()._initialize_dbt_core_adapter(["build", "--vars", "{}"]) is None


@pytest.mark.parametrize(
    ("output", "expected"),
    [("Core:\n  - installed: 1.9.4\n", "1.9.4"), ("dbt-fusion 2.0.0-preview.45\n", "2.0.0")],
)
def test_a_dbt_from_another_environment_is_asked_its_version(
    monkeypatch, tmp_path, output, expected
):
    other = tmp_path / "dbt"
    other.write_text("#!/bin/sh\n")
    other.chmod(0o755)
    calls = []

    def fake_check_output(args, *rest, **kwargs):
        calls.append(args)
        return output.encode()

    monkeypatch.setattr(dagster_dbt_resource, "check_output", fake_check_output)
    resource = StratumDbtCliResource(
        project_dir=str(dbt_resource().project_dir), dbt_executable=str(other)
    )
    assert resource._cli_version == version.parse(expected)
    assert calls == [[str(other), "--version"]]
