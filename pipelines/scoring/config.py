"""Loading scoring rules: YAML under ``config/scoring/`` into pydantic models, plus a rules version.

The rules version is ``<version>-<sha256[:10]>`` of the file's bytes, so editing the rules without
bumping ``version:`` still changes what is stamped on the output.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError

from pipelines.settings import CONFIG_DIR

SCORING_CONFIG_DIR = CONFIG_DIR / "scoring"


def scoring_config_dir() -> Path:
    """``STRATUM_SCORING_CONFIG_DIR`` if set (tests, what-if runs), else ``config/scoring``."""
    value = os.environ.get("STRATUM_SCORING_CONFIG_DIR")
    return Path(value) if value else SCORING_CONFIG_DIR


M = TypeVar("M", bound=BaseModel)


class StrictModel(BaseModel):
    """Base for config models: unknown keys are errors, so a typo cannot be silently ignored."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class ScoringConfigError(ValueError):
    """A scoring YAML file is missing, unparsable or breaks its schema."""


def rules_version_of(raw: bytes, version: str) -> str:
    """``<version>-<first 10 hex of sha256(raw)>``."""
    return f"{version}-{hashlib.sha256(raw).hexdigest()[:10]}"


def load_config(model: type[M], path: Path | str) -> tuple[M, str]:
    """Parse ``path`` into ``model`` and return ``(config, rules_version)``.

    Raises ``ScoringConfigError`` naming the file and each bad key (dotted path) with the reason.
    """
    path = Path(path)
    if not path.is_absolute():
        path = scoring_config_dir() / path
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ScoringConfigError(f"{path}: cannot read scoring config ({exc})") from exc
    try:
        data = yaml.safe_load(raw) or {}
    except yaml.YAMLError as exc:
        raise ScoringConfigError(f"{path}: invalid YAML ({exc})") from exc
    if not isinstance(data, dict):
        raise ScoringConfigError(f"{path}: top level must be a mapping")
    try:
        cfg = model.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"key '{'.'.join(str(p) for p in err['loc']) or '<root>'}': {err['msg']}"
            for err in exc.errors()
        )
        raise ScoringConfigError(f"{path}: {problems}") from exc
    version = str(getattr(cfg, "version", "0"))
    return cfg, rules_version_of(raw, version)


def combine_versions(versions: dict[str, str]) -> str:
    """One short hash standing for several component versions (stable order)."""
    joined = "|".join(f"{k}={versions[k]}" for k in sorted(versions))
    return hashlib.sha256(joined.encode()).hexdigest()[:12]
