"""Control-group assignment: deterministic, stable and close to the configured share."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pandas as pd

from pipelines.tiering.engine import assign_tiers
from pipelines.tiering.holdout import assign_control_group, holdout_draw
from pipelines.tiering.policy import load_policy
from tests.config_files import CONFIG_DIR
from tests.tiering.tier_fixtures import random_scores, state_of

IDS = pd.Series([f"GA-{i:06d}" for i in range(20000)])


def test_draw_is_deterministic_and_salted():
    a = holdout_draw(IDS, "salt-1")
    assert np.array_equal(a, holdout_draw(IDS, "salt-1"))
    assert np.array_equal(a[::-1], holdout_draw(IDS[::-1], "salt-1"))  # per id, not per position
    b = holdout_draw(IDS, "salt-2")
    assert np.mean(a == b) < 0.01
    assert a.min() >= 0 and a.max() < 1


def test_share_per_tier_within_tolerance():
    tiers = pd.Series(np.where(np.arange(len(IDS)) % 2 == 0, "B", "C"))
    held = assign_control_group(IDS, tiers, {"B": 0.05, "C": 0.20, "A": 0.0}, "s")
    share_b = held[tiers == "B"].mean()
    share_c = held[tiers == "C"].mean()
    assert abs(share_b - 0.05) < 0.01
    assert abs(share_c - 0.20) < 0.015
    none = assign_control_group(IDS, pd.Series(["A"] * len(IDS)), {"A": 0.0}, "s")
    assert not none.any()


def test_membership_stable_across_runs():
    policy = load_policy(CONFIG_DIR / "tiers" / "default.yaml")
    scores = random_scores(4000, seed=3)
    first = assign_tiers(scores, policy, date(2025, 6, 1))
    second = assign_tiers(scores, policy, date(2025, 6, 8) + timedelta(1), state_of(first))
    assert first["in_control_group"].any()
    assert (first["in_control_group"] == second["in_control_group"]).all()
    # A has share 0 in the default policy: strategic accounts are never held out.
    assert not first.loc[first["tier"] == "A", "in_control_group"].any()
