"""One small generated world shared by the generator tests (generation takes well under 1 s)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pandas as pd
import pytest

from pipelines.generate import World, generate_world, write_landing

AS_OF = date(2026, 6, 30)
SEED = 11
N_COMPANIES = 3000


@pytest.fixture(scope="session")
def world() -> World:
    return generate_world(N_COMPANIES, SEED, AS_OF, years=3)


@pytest.fixture(scope="session")
def written(world: World, tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[Path]]:
    root = tmp_path_factory.mktemp("world")
    return write_landing(world, root / "landing", root / "ground_truth")


@pytest.fixture(scope="session")
def company_of(world: World) -> pd.Series:
    """account_id -> true_company_id."""
    return world.truth_accounts.set_index("account_id")["true_company_id"]
