"""Generated worlds on disk, made once per (accounts, seed, as-of date, years) and reused.

Tests and benchmarks use the same generator at small and large sizes; writing a world's
landing files costs seconds at a thousand accounts and many minutes at a million, so each one
is written once into a cache folder and copied from there. The key includes a hash of the
generator's own code: a changed generator never serves a stale world.
"""

from __future__ import annotations

import hashlib
import shutil
import uuid
from datetime import date
from pathlib import Path

from pipelines.generate.world import generate_world
from pipelines.generate.writers import write_landing

_GENERATOR_DIR = Path(__file__).resolve().parent


def generator_version() -> str:
    """Hash of the generator's source files (12 hex)."""
    digest = hashlib.sha256()
    for path in sorted(_GENERATOR_DIR.glob("*.py")):
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


def cached_world(cache_dir: Path, accounts: int, seed: int, as_of: date, years: int = 3) -> Path:
    """The folder holding ``landing/`` and ``ground_truth/`` of this world, generated on first
    use. Written beside its final name and renamed into place, so an interrupted write never
    leaves a half world behind."""
    name = f"{accounts}-{seed}-{as_of:%Y%m%d}-{years}y-{generator_version()}"
    target = Path(cache_dir) / name
    if target.exists():
        return target
    staging = Path(cache_dir) / f".{name}.{uuid.uuid4().hex[:8]}"
    world = generate_world(accounts, seed, as_of, years=years)
    write_landing(world, staging / "landing", staging / "ground_truth")
    try:
        staging.rename(target)
    except OSError:  # another process made it first
        shutil.rmtree(staging, ignore_errors=True)
    return target


def copy_world(cached: Path, data_dir: Path) -> None:
    """Copy a cached world's ``landing/`` and ``ground_truth/`` into ``data_dir``."""
    for part in ("landing", "ground_truth"):
        shutil.copytree(cached / part, Path(data_dir) / part)
