"""One loader for every configuration file: YAML into a typed pydantic model.

Every file under ``config/`` goes through :func:`load_model`, so they all share

* one error class, :class:`ConfigError`, whose message is ``<file>: <key>: <reason>`` (one line
  per problem, the key dotted with list indexes, e.g. ``tiers[1].rules[0].when``);
* one version scheme, ``<human version>+<first 12 hex of sha256(normalised content)>``: the
  content is the parsed YAML dumped as sorted JSON, so comments and reformatting do not change
  the version but any value does, even when nobody bumps ``version:``.

Unknown keys are errors: every config model forbids extra fields (see :class:`StrictModel`).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generic, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError


class ConfigError(ValueError):
    """A configuration file is missing, unparsable, or has an invalid key or value.

    ``problems`` holds ``(key, reason)`` pairs; ``str()`` is one ``<file>: <key>: <reason>``
    line per problem.
    """

    def __init__(self, path: str | Path, problems: list[tuple[str, str]]) -> None:
        self.path = str(path)
        self.problems = problems
        lines = [f"{self.path}: {key}: {reason}" if key else f"{self.path}: {reason}"
                 for key, reason in problems]  # fmt: skip
        super().__init__("\n".join(lines))


class StrictModel(BaseModel):
    """Base of config models: unknown keys are errors, so a typo is never silently ignored."""

    model_config = ConfigDict(extra="forbid", frozen=True)


M = TypeVar("M", bound=BaseModel)


@dataclass(frozen=True)
class Loaded(Generic[M]):
    """A validated config file: the model, its version and where it came from."""

    model: M
    version: str
    path: Path


def content_hash(data: Any) -> str:
    """sha256 of the normalised content (sorted, compact JSON), first 12 hex digits."""
    canonical = json.dumps(
        data, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str
    )
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:12]


def version_of(data: Mapping[str, Any]) -> str:
    """``<version>+<content hash>``; ``0`` stands in for a file without ``version:``."""
    return f"{data.get('version', '0')}+{content_hash(data)}"


def read_yaml(path: Path) -> dict[str, Any]:
    """The top-level mapping of a YAML file, or :class:`ConfigError` saying why not."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(path, [("", f"cannot read: {exc.strerror or exc}")]) from None
    except yaml.YAMLError as exc:
        raise ConfigError(path, [("", f"not valid YAML: {exc}")]) from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(path, [("", "the top level must be a mapping of keys")])
    return data


def _loc(parts: tuple[Any, ...]) -> str:
    out = ""
    for part in parts:
        if isinstance(part, int):
            out += f"[{part}]"
        elif str(part).startswith("function-"):
            continue  # pydantic's internal step names
        else:
            out += f".{part}" if out else str(part)
    return out


def validation_problems(exc: ValidationError) -> list[tuple[str, str]]:
    """(dotted key, reason) per pydantic error, in plain words."""
    problems: list[tuple[str, str]] = []
    for err in exc.errors():
        loc = _loc(tuple(err["loc"]))
        kind = err["type"]
        if kind == "extra_forbidden":
            msg = "unknown key"
        elif kind == "missing":
            msg = "required key missing"
        else:
            msg = str(err["msg"]).removeprefix("Value error, ")
            if "input" in err and kind not in {"value_error", "assertion_error"}:
                msg += f" (got {err['input']!r})"
        # A validator of a container reports its own sub-paths, '; '-separated, as
        # 'sub.key: reason'; split them so every problem names its full key.
        for piece in msg.split("; ") if kind == "value_error" else [msg]:
            head, sep, rest = piece.partition(": ")
            if sep and " " not in head:
                key = f"{loc}.{head}" if loc and not head.startswith("[") else f"{loc}{head}"
                problems.append((key, rest))
            else:
                problems.append((loc, piece))
    return problems


def validate(model: type[M], data: Mapping[str, Any], path: str | Path) -> M:
    """``model.model_validate(data)``, errors turned into :class:`ConfigError` for ``path``."""
    try:
        return model.model_validate(dict(data))
    except ValidationError as exc:
        raise ConfigError(path, validation_problems(exc)) from None


def load_model(model: type[M], path: Path) -> Loaded[M]:
    """Read, validate and version one config file."""
    data = read_yaml(path)
    return Loaded(validate(model, data, path), version_of(data), path)


def combine_versions(versions: Mapping[str, str]) -> str:
    """One short hash standing for several component versions (order-independent)."""
    joined = "|".join(f"{k}={versions[k]}" for k in sorted(versions))
    return hashlib.sha256(joined.encode()).hexdigest()[:12]
