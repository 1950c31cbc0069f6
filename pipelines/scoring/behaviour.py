"""Behaviour score: decayed, capped engagement points per activity type, computed in DuckDB.

Each event is worth ``points x 0.5 ** (age_days / half_life_days)``. Within one type and one
calendar period an account's events are capped at ``cap_per_period``: when there are more, the
period's decayed sum is scaled by ``cap / count`` so spam-like bursts cannot dominate. Negative
types (unsubscribe) subtract.
"""

from __future__ import annotations

from datetime import date
from typing import Literal

import duckdb
import numpy as np
import pandas as pd
from pydantic import Field, field_validator

from pipelines.config.loader import StrictModel
from pipelines.scoring.reasons import top_k_labels


class ActivityRule(StrictModel):
    points: float
    cap_per_period: int = Field(gt=0)
    label_zh: str = ""


class BehaviourConfig(StrictModel):
    version: str
    lookback_days: int = Field(gt=0)
    half_life_days: float = Field(gt=0)
    cap_period: Literal["week", "month", "quarter"] = "month"
    types: dict[str, ActivityRule] = Field(min_length=1)
    top_reasons: int = Field(2, ge=1)

    @field_validator("types")
    @classmethod
    def _names(cls, v: dict[str, ActivityRule]) -> dict[str, ActivityRule]:
        bad = [k for k in v if not k.replace("_", "").isalnum() or not k.islower()]
        if bad:
            raise ValueError(f"activity type names must be lower_snake_case: {bad}")
        return v


BEHAVIOUR_SQL = """
with rules(activity_type, points, cap) as (
    select * from (values {values})
),
per_period as (
    select
        a.golden_account_id,
        a.activity_type,
        date_trunc('{period}', a.occurred_at) as period,
        count(*) as n_events,
        sum(pow(0.5, date_diff('second', a.occurred_at, $as_of_ts) / 86400.0 / $half_life)) as decayed,
        any_value(r.points) as points,
        any_value(r.cap) as cap
    from marts.activities as a
    join rules as r on r.activity_type = a.activity_type
    where a.occurred_at <= $as_of_ts
        and a.occurred_at > $as_of_ts - to_days($lookback::integer)
    group by all
)
select
    golden_account_id,
    activity_type,
    sum(n_events)::bigint as n_events,
    sum(points * decayed * least(1.0, cap / n_events))::double as points
from per_period
group by all
"""


def behaviour_points_by_type(
    con: duckdb.DuckDBPyConnection, as_of: date, cfg: BehaviourConfig
) -> pd.DataFrame:
    """Long frame (golden_account_id, activity_type, n_events, points), one SQL statement.

    ``as_of`` is taken as the end of that day, so activities logged on the run date count.
    """
    values = ", ".join(
        f"('{name}', {float(rule.points)!r}, {int(rule.cap_per_period)})"
        for name, rule in cfg.types.items()
    )
    sql = BEHAVIOUR_SQL.format(values=values, period=cfg.cap_period)
    as_of_ts = pd.Timestamp(as_of) + pd.Timedelta(days=1)
    return con.execute(
        sql,
        {
            "as_of_ts": as_of_ts.to_pydatetime(),
            "half_life": float(cfg.half_life_days),
            "lookback": cfg.lookback_days,
        },
    ).df()


def score_behaviour(
    accounts: pd.Series, by_type: pd.DataFrame, cfg: BehaviourConfig
) -> pd.DataFrame:
    """Wide per-account frame: ``behaviour_<type>_points``, ``behaviour_points`` and reasons.

    ``accounts`` lists every golden_account_id so that accounts without activity get 0.
    """
    wide = (
        by_type.pivot_table(
            index="golden_account_id", columns="activity_type", values="points", aggfunc="sum"
        )
        if len(by_type)
        else pd.DataFrame(index=pd.Index([], name="golden_account_id"))
    )
    wide = wide.reindex(index=pd.Index(accounts, name="golden_account_id"), columns=list(cfg.types))
    wide = wide.fillna(0.0).astype(float)
    out = pd.DataFrame(index=wide.index)
    for name in cfg.types:
        out[f"behaviour_{name}_points"] = wide[name].round(3)
    out["behaviour_points"] = wide.sum(axis=1).round(3)

    # Reasons: the types with the largest absolute contribution, strongest first.
    vals = wide.to_numpy()
    en_labels = [n.replace("_", " ") for n in cfg.types]
    zh_labels = [r.label_zh or n for n, r in cfg.types.items()]
    en = top_k_labels(vals, en_labels, cfg.top_reasons, min_abs=0.05, index=wide.index)
    zh = top_k_labels(vals, zh_labels, cfg.top_reasons, min_abs=0.05, index=wide.index, sep="，")
    out["behaviour_reason"] = np.where(
        en != "", "engagement points: " + en, "no engagement in the look-back window"
    )
    out["behaviour_reason_zh"] = np.where(zh != "", "互动得分：" + zh, "近期无互动")
    return out.reset_index()
