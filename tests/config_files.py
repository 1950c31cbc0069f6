"""The repository's configuration files, loaded the way the pipeline loads them."""

from __future__ import annotations

from pathlib import Path
from typing import TypeVar

from pydantic import BaseModel

from pipelines.config.loader import load_model
from pipelines.settings import REPO_ROOT

CONFIG_DIR = REPO_ROOT / "config"
M = TypeVar("M", bound=BaseModel)


def load_config(model: type[M], path: Path | str) -> tuple[M, str]:
    """``(model, version)`` of a scoring file (a bare name is looked up in config/scoring)."""
    path = Path(path)
    if not path.is_absolute():
        path = CONFIG_DIR / "scoring" / path
    loaded = load_model(model, path)
    return loaded.model, loaded.version


def run_context(as_of, run_id: str = "test-run-0000", quality=None, policy=None):
    """A :class:`~pipelines.run_context.RunContext` for tests of stage functions: the
    repository's configuration, optionally with another quality policy or tier policy."""
    import dataclasses

    from pipelines.config import Loaded, load_stratum_config
    from pipelines.run_context import RunContext

    config = load_stratum_config()
    if quality is not None:
        config = dataclasses.replace(config, quality=Loaded(quality, "test", Path("test")))
    if policy is not None:
        config = dataclasses.replace(
            config, policy=Loaded(policy, policy.policy_version, Path("test"))
        )
    return RunContext(
        as_of=as_of, run_id=run_id, trigger="test", config=config, code_version="test"
    )
