"""Risk: rule points, levels and the stale-data flag."""

from __future__ import annotations

from datetime import date

import pandas as pd

from pipelines.scoring.risk import RiskConfig, score_risk
from tests.config_files import load_config

AS_OF = date(2024, 6, 30)


def test_levels_and_stale_flag():
    cfg = load_config(RiskConfig, "risk.yaml")[0]
    acc = pd.DataFrame(
        {
            "golden_account_id": [
                "good",
                "bad",
                "bad_stale",
                "missing",
                "bad_payer_stale",
                "prospect_no_record",
            ],
            "credit_rating": ["AAA", "C", "C", None, "AAA", None],
            "overdue_amount_cny": [0, 2e6, 2e6, None, 0, None],
            "lawsuit_count": [0, 5, 5, None, 0, None],
            "abnormal_operation": [False, True, True, None, False, None],
            "risk_as_of_date": [
                date(2024, 6, 1),
                date(2024, 6, 1),
                date(2022, 1, 1),
                None,
                date(2020, 1, 1),
                None,
            ],
            "refund_rate": [0.0, 0.0, 0.0, 0.0, 0.9, None],
        }
    )
    # The feature layer's risk_age_days: days from the assessment to the as-of date.
    acc["risk_age_days"] = (pd.Timestamp(AS_OF) - pd.to_datetime(acc["risk_as_of_date"])).dt.days
    cfg = cfg.model_copy(update={"levels": cfg.levels.model_copy(update={"high": 20})})
    out = score_risk(acc, cfg).set_index("golden_account_id")
    assert out.loc["good", "risk_level"] == "low" and not out.loc["good", "risk_stale"]
    assert out.loc["bad", "risk_level"] == "high" and out.loc["bad", "risk_score"] == 100
    assert out.loc["bad", "risk_age_days"] == 29 and out.loc["bad_stale", "risk_age_days"] == 911
    # Stale external data is not trusted: same bad bureau data, but "stale" and 0 points.
    assert out.loc["bad_stale", "risk_stale"] and out.loc["bad_stale", "risk_level"] == "stale"
    assert out.loc["bad_stale", "risk_score"] == 0
    assert out.loc["bad_stale", "risk_reason"] == "risk stale: risk data stale (911 days old)"
    # No record at all is unknown, not stale: nothing is out of date.
    assert not out.loc["missing", "risk_stale"] and out.loc["missing", "risk_level"] == "unknown"
    assert out.loc["missing", "risk_reason"] == "risk unknown: no risk record"
    assert out.loc["missing", "risk_score"] == 0  # its payment history is known (no refunds)
    # Neither a record nor a payment history: no score.
    assert pd.isna(out.loc["prospect_no_record", "risk_score"])
    assert out.loc["prospect_no_record", "risk_level"] == "unknown"
    # Internal payment behaviour alone can still make a stale account high.
    assert out.loc["bad_payer_stale", "risk_level"] == "high"
    assert "stale" in out.loc["bad_stale", "risk_reason"]
    assert (
        "lawsuits" in out.loc["bad", "risk_reason"] and "逾期" in out.loc["bad", "risk_reason_zh"]
    )
