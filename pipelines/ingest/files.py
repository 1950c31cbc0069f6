"""What is in a landing folder: every entry gets a reader, or the reason it is not read.

Nothing under ``landing/<entity>/`` is passed over in silence: a file the pipeline does not
read (hidden, an Office lock file, old ``.xls``, an archive, a sub-folder, a name with a stray
space, a name outside the configured glob) is listed with the reason in the run's metadata and
in ``raw._file_manifest`` (status ``ignored``), so the sender can fix it.
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

ReaderKind = Literal["csv", "parquet", "xlsx", "jsonl"]


@dataclass(frozen=True)
class FileFormat:
    """How to read an accepted file: the reader, the CSV delimiter, the compression."""

    kind: ReaderKind
    delimiter: str = ","
    gzip: bool = False

    @property
    def label(self) -> str:
        name = "tsv" if self.delimiter == "\t" else self.kind
        return name + (".gz" if self.gzip else "")


# Longest suffix first: ".csv.gz" must win over ".gz".
ACCEPTED_SUFFIXES: dict[str, FileFormat] = {
    ".csv.gz": FileFormat("csv", gzip=True),
    ".tsv.gz": FileFormat("csv", "\t", gzip=True),
    ".jsonl.gz": FileFormat("jsonl", gzip=True),
    ".ndjson.gz": FileFormat("jsonl", gzip=True),
    ".csv": FileFormat("csv"),
    ".tsv": FileFormat("csv", "\t"),
    ".parquet": FileFormat("parquet"),
    ".xlsx": FileFormat("xlsx"),
    ".jsonl": FileFormat("jsonl"),
    ".ndjson": FileFormat("jsonl"),
}
ACCEPTED_LIST = ", ".join(ACCEPTED_SUFFIXES)

_ARCHIVE = "archives are not unpacked: extract the files into the entity folder"
_PARTIAL = "looks like a partial download or upload: it is read once renamed to its final name"
IGNORED_SUFFIXES: dict[str, str] = {
    ".xls": "old Excel format (.xls) is not read: open it in Excel and save it as .xlsx, "
    "or export it as .csv",
    ".xlsm": "macro-enabled workbook (.xlsm) is not read: save it as .xlsx or export .csv",
    ".xlsb": "binary workbook (.xlsb) is not read: save it as .xlsx or export .csv",
    ".txt": "a .txt file's delimiter is unknown: rename it .tsv if tab-separated (Excel's "
    "'Unicode Text') or .csv if comma-separated",
    ".zip": _ARCHIVE,
    ".rar": _ARCHIVE,
    ".7z": _ARCHIVE,
    ".tar": _ARCHIVE,
    ".tgz": _ARCHIVE,
    ".gz": "compressed file of an unknown kind: only .csv.gz, .tsv.gz and .jsonl.gz are read",
    ".tmp": _PARTIAL,
    ".part": _PARTIAL,
    ".partial": _PARTIAL,
    ".crdownload": _PARTIAL,
    ".filepart": _PARTIAL,
    ".download": _PARTIAL,
}


@dataclass(frozen=True)
class LandingEntry:
    """One entry of ``landing/<entity>/``: a format to read it with, or why it is ignored."""

    path: Path
    rel: str  # relative to the landing dir, as the manifest records it
    format: FileFormat | None
    ignored: str | None = None


def _suffix(name: str, table: dict[str, object]) -> str | None:
    lower = name.lower()
    return next((s for s in table if lower.endswith(s)), None)


def file_format(path: Path) -> FileFormat | None:
    """The reader for ``path`` by its name (``orders.csv.gz`` -> gzip CSV), or None."""
    suffix = _suffix(path.name, ACCEPTED_SUFFIXES)
    return ACCEPTED_SUFFIXES[suffix] if suffix else None


def _folder_reason(path: Path) -> str:
    inside = sum(1 for p in path.rglob("*") if p.is_file())
    return (
        f"sub-folder ({inside} file(s) inside): files in sub-folders are not read; "
        "move them up into the entity folder"
    )


def ignore_reason(path: Path, glob: str = "*") -> str | None:
    """Why ``path`` (an entry of an entity folder) is not read, or None if it is read."""
    name = path.name
    if name.startswith("."):
        return "hidden file (name starts with '.'): a partial upload or a system file"
    if name.startswith("~$"):
        return "Office lock file (~$): the workbook is open in Excel; the real file is read"
    if path.is_dir():
        return _folder_reason(path)
    if not path.is_file():
        return "not a regular file"
    if name != name.strip():
        return "file name starts or ends with a space: rename it without the space to load it"
    if not fnmatch.fnmatch(name, glob):
        return f"does not match the glob {glob!r} set for this source in config/sources.yaml"
    if file_format(path) is not None:
        return None
    known = _suffix(name, IGNORED_SUFFIXES)
    if known:
        return IGNORED_SUFFIXES[known]
    kind = Path(name).suffix or "(no extension)"
    return f"unsupported file type {kind!r}: accepted are {ACCEPTED_LIST}"


def scan_entity_folder(landing_dir: Path, entity: str, glob: str = "*") -> list[LandingEntry]:
    """Every entry of ``landing_dir/<entity>/``, sorted by name, with its format or reason."""
    folder = Path(landing_dir) / entity
    if not folder.is_dir():
        return []
    entries = []
    for path in sorted(folder.iterdir(), key=lambda p: p.name):
        rel = path.relative_to(landing_dir).as_posix()
        reason = ignore_reason(path, glob)
        entries.append(LandingEntry(path, rel, None if reason else file_format(path), reason))
    return entries


def list_landing_files(landing_dir: Path, entity: str, glob: str = "*") -> list[Path]:
    """The files of ``landing_dir/<entity>/`` that are read, sorted by name."""
    return [e.path for e in scan_entity_folder(landing_dir, entity, glob) if e.format]
