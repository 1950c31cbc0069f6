"""The feature layer's interface, seen from Python: the columns every score reads exist in
the dbt contract, its activity types are the landing contract's, and its settings come from the
scoring rules (one source)."""

from __future__ import annotations

import re
from datetime import date

import pytest

from pipelines.config import load_stratum_config
from pipelines.contracts import model_columns
from pipelines.ingest.contracts import ACTIVITY_TYPES
from pipelines.scoring import behaviour, clustering, clv, fit, rfm, risk
from pipelines.scoring.features import engagement_column
from pipelines.settings import DBT_PROJECT_DIR
from tests.config_files import run_context

CONFIG = load_stratum_config()
ACCOUNT = {c.name for c in model_columns("account_features")}
WINDOWS = {c.name for c in model_columns("account_windows")}


@pytest.mark.parametrize(
    ("score", "columns"),
    [
        ("rfm", rfm.FEATURE_COLUMNS),
        ("clv", clv.FEATURE_COLUMNS),
        ("risk", risk.FEATURE_COLUMNS),
        ("behaviour", behaviour.feature_columns(CONFIG.rules("behaviour"))),
        ("fit", fit.feature_columns(CONFIG.rules("fit"))),
        ("clustering", clustering.feature_columns(CONFIG.rules("clustering"))),
        ("abc", ["golden_account_id", "net_revenue_365d"]),
    ],
)
def test_every_column_a_score_reads_is_in_the_account_features_contract(score, columns):
    assert set(columns) <= ACCOUNT, sorted(set(columns) - ACCOUNT)


def test_every_column_the_prediction_models_read_is_in_the_account_windows_contract():
    from pipelines.scoring.models import WINDOW_COLUMNS

    assert set(WINDOW_COLUMNS) <= WINDOWS, sorted(set(WINDOW_COLUMNS) - WINDOWS)


def test_engagement_columns_cover_the_landing_contracts_activity_types():
    macro = (DBT_PROJECT_DIR / "macros" / "features.sql").read_text()
    listed = re.search(r"set types = \[(.*?)\]", macro, re.S).group(1)
    assert tuple(re.findall(r"'(\w+)'", listed)) == ACTIVITY_TYPES
    assert {engagement_column(t) for t in ACTIVITY_TYPES} <= ACCOUNT


def test_feature_settings_are_the_scoring_rules():
    settings = CONFIG.feature_settings()
    rules, behave = CONFIG.rules("rfm"), CONFIG.rules("behaviour")
    assert settings["rfm_lookback_days"] == rules.lookback_days
    engagement = settings["engagement"]
    assert engagement["lookback_days"] == behave.lookback_days
    assert engagement["half_life_days"] == behave.half_life_days
    assert engagement["cap_period"] == behave.cap_period
    assert engagement["caps"] == {t: r.cap_per_period for t, r in behave.types.items()}
    # dbt gets them with the rest of the run context.
    assert run_context(date(2026, 11, 20)).dbt_vars()["feature_settings"] == settings
