"""The one error a landing file that cannot be read raises."""

from __future__ import annotations

from pathlib import Path


class LandingFileError(Exception):
    """A landing file that cannot be read at all. ``str()`` is ``"<file>: <location>: <reason>"``."""

    def __init__(self, path: str | Path, reason: str, location: str | None = None) -> None:
        self.path = str(path)
        self.reason = reason
        self.location = location
        where = f"{self.path}: {location}: " if location else f"{self.path}: "
        super().__init__(where + reason)
