"""Configuration: every file under ``config/`` loaded by one loader, versioned one way.

``pipelines.config.loader`` (the loader, :class:`ConfigError`) is imported by the stages that
define config models; ``pipelines.config.bundle`` (the whole tree, cross-checked) imports those
stages. The bundle's names are resolved lazily here so that either can be imported first.
"""

from typing import Any

from pipelines.config.loader import ConfigError, Loaded

__all__ = ["ConfigError", "Loaded", "StratumConfig", "load_stratum_config"]


def __getattr__(name: str) -> Any:
    if name in ("StratumConfig", "load_stratum_config"):
        from pipelines.config import bundle

        return getattr(bundle, name)
    raise AttributeError(name)
