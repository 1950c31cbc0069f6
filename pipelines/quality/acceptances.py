"""Explicit acceptance of what a blocking check refused: ``config/acceptances.yaml``.

A blocking check that failed keeps failing, run after run, until what it judged is fixed,
withdrawn (the file removed or replaced in the landing folder) or accepted here. The file is
under version control, so every acceptance says who accepted what, when and why, and review
happens the way any configuration change is reviewed. An acceptance names exactly what it
covers:

* the files of a load batch, by content (``<landing path>@<sha256, at least 12 hex>``), for
  the raw gates ``gx_<entity>`` and ``quarantine_rate``: a later, different file is not
  covered, even under the same name;
* the volume change of one as-of date (``volume``, ``tier_volume``), optionally only some of
  its metrics.

Checks show the acceptance they applied in their metadata. Loaded by :mod:`pipelines.config`
like every other file (unknown keys are errors naming the key).
"""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

from pydantic import Field, field_validator, model_validator

from pipelines.config.loader import Loaded, StrictModel, load_model
from pipelines.settings import ENTITIES

FILE_CHECKS = ("quarantine_rate", *(f"gx_{e}" for e in ENTITIES))
VOLUME_CHECKS = ("volume", "tier_volume")
_FILE_REF = re.compile(r"^(?P<path>.+)@(?P<sha>[0-9a-f]{12,64})$")


class Acceptance(StrictModel):
    """One accepted failure. ``accepted_by`` is a person's or team's handle (it is shown in
    Dagster, so not an email address)."""

    check: str
    entity: str | None = None
    files: list[str] = Field(default_factory=list)
    as_of: date | None = None
    metrics: list[str] = Field(default_factory=list)
    accepted_by: str = Field(min_length=2)
    accepted_on: date
    reason: str = Field(min_length=10)

    @field_validator("check")
    @classmethod
    def _known_check(cls, value: str) -> str:
        if value not in FILE_CHECKS + VOLUME_CHECKS:
            known = ", ".join(("quarantine_rate", "gx_<entity>", *VOLUME_CHECKS))
            raise ValueError(f"unknown check {value!r} (known: {known})")
        return value

    @field_validator("accepted_by")
    @classmethod
    def _handle_not_email(cls, value: str) -> str:
        if "@" in value:
            raise ValueError("use a handle or team name, not an email address")
        return value

    @field_validator("files")
    @classmethod
    def _file_refs(cls, value: list[str]) -> list[str]:
        for ref in value:
            if not _FILE_REF.match(ref):
                raise ValueError(
                    f"{ref!r} is not '<landing path>@<sha256>' with at least 12 hex digits "
                    "(the failed check shows the exact line to copy)"
                )
        return value

    @model_validator(mode="after")
    def _scope(self) -> Acceptance:
        if self.check in FILE_CHECKS:
            if self.entity not in ENTITIES:
                raise ValueError(f"entity: a file check needs one of {', '.join(ENTITIES)}")
            if self.check.startswith("gx_") and self.check != f"gx_{self.entity}":
                raise ValueError(f"entity: {self.check} judges {self.check[3:]}, not {self.entity}")
            if not self.files or self.as_of or self.metrics:
                raise ValueError("files: a file check accepts files (and no as_of or metrics)")
        elif self.as_of is None or self.files or self.entity:
            raise ValueError("as_of: a volume check accepts one as-of date (and no files)")
        return self

    @property
    def shas(self) -> list[str]:
        return [_FILE_REF.match(ref)["sha"] for ref in self.files]  # type: ignore[index]

    def covers_file(self, sha256: str) -> bool:
        return any(sha256.startswith(prefix) for prefix in self.shas)

    def note(self) -> str:
        """One line for check metadata: what, who, when, why."""
        what = ", ".join(self.files) if self.files else f"as of {self.as_of}"
        if self.metrics:
            what += f" ({', '.join(self.metrics)})"
        return (
            f"{self.check} accepted for {what} by {self.accepted_by} on {self.accepted_on}: "
            f"{self.reason}"
        )


class AcceptancesFile(StrictModel):
    version: str = "0"
    acceptances: list[Acceptance] = Field(default_factory=list)

    def for_files(self, check: str, entity: str, shas: list[str]) -> list[Acceptance]:
        """The acceptances that together cover every file in ``shas`` for ``check``, or an
        empty list when any file is not covered."""
        matching = [a for a in self.acceptances if a.check == check and a.entity == entity]
        used: list[Acceptance] = []
        for sha in shas:
            found = next((a for a in matching if a.covers_file(sha)), None)
            if found is None:
                return []
            if found not in used:
                used.append(found)
        return used

    def for_volume(self, check: str, as_of: date) -> Acceptance | None:
        return next((a for a in self.acceptances if a.check == check and a.as_of == as_of), None)


def load_acceptances(path: Path) -> Loaded[AcceptancesFile]:
    """The acceptances file; none accepted (version ``none``) when the file does not exist."""
    if not path.exists():
        return Loaded(AcceptancesFile(), "none", path)
    return load_model(AcceptancesFile, path)


def file_ref(path: str, sha256: str) -> str:
    """How an acceptance names a file: ``<landing path>@<first 16 hex of its sha256>``."""
    return f"{path}@{sha256[:16]}"
