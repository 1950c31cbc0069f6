"""The ledger, SCD2 history, downgrade notices and migration matrix over a run sequence."""

from __future__ import annotations

from datetime import date, timedelta

import duckdb
import pandas as pd

from pipelines.publish.snapshot import history_sql
from pipelines.tiering.engine import assign_tiers
from pipelines.tiering.ledger import (
    downgrade_notices,
    ledger_events,
    migration_matrix,
    migration_pivot,
)
from tests.tiering.tier_fixtures import make_policy, make_scores, state_of

DAY0 = date(2025, 1, 1)


def _sequence():
    """G001 goes B -> A (promotion) -> pending -> C (demotion after grace) -> A (return).
    G002 stays C throughout; G003 only appears on the third run."""
    policy = make_policy()
    b = {"abc_class": "B", "p_alive": 0.8}
    a_ok = {"abc_class": "A", "p_alive": 0.8}
    a_weak = {"abc_class": "A", "p_alive": 0.2}
    steps = [
        (DAY0, [b, {}]),
        (DAY0 + timedelta(40), [a_ok, {}]),  # promotion (dwell 40 >= 30)
        (DAY0 + timedelta(80), [a_weak, {}, {}]),  # pending (grace 30), G003 new
        (DAY0 + timedelta(110), [a_weak, {}, {}]),  # demoted after grace
        (DAY0 + timedelta(150), [a_ok, {}, {}]),  # back to A
    ]
    state, runs = None, []
    for i, (day, rows) in enumerate(steps):
        scores = make_scores(rows)
        out = assign_tiers(scores, policy, day, state)
        sid = f"{day:%Y%m%d}-run{i}"
        events = ledger_events(out, scores, policy, sid)
        notices = downgrade_notices(out, scores, policy, sid)
        runs.append((day, out.assign(snapshot_id=sid), events, notices))
        state = state_of(out)
    return policy, runs, None


def _serving_history(tmp_path, runs) -> pd.DataFrame:
    """The SCD2 history exactly as the publish step derives it from the snapshots."""
    files = []
    for day, out, _, _ in runs:
        path = tmp_path / f"{day:%Y%m%d}.parquet"
        out.assign(as_of_date=pd.Timestamp(day))[
            [
                "golden_account_id",
                "tier",
                "tier_since",
                "as_of_date",
                "snapshot_id",
                "policy_version",
            ]
        ].to_parquet(path)
        files.append(f"'{path.as_posix()}'")
    return duckdb.sql(history_sql(files)).df()


def test_ledger_records_each_change_once():
    _, runs, _ = _sequence()
    events = pd.concat([r[2] for r in runs], ignore_index=True)
    g1 = events[events["golden_account_id"] == "G001"]
    assert list(
        zip(g1["from_tier"].fillna("-"), g1["to_tier"], g1["change_type"], strict=True)
    ) == [
        ("-", "B", "new"),
        ("B", "A", "promotion"),
        ("A", "C", "demotion"),
        ("C", "A", "promotion"),
    ]
    assert g1["effective_date"].tolist() == [
        pd.Timestamp(DAY0 + timedelta(d)) for d in (0, 40, 110, 150)
    ]
    assert events[events["golden_account_id"] == "G002"]["change_type"].tolist() == ["new"]
    assert events[events["golden_account_id"] == "G003"]["effective_date"].tolist() == [
        pd.Timestamp(DAY0 + timedelta(80))
    ]
    demotion = g1[g1["change_type"] == "demotion"].iloc[0]
    assert "P(alive) 0.20, needs ≥ 0.50" in demotion["scores_crossed"]
    promotion = g1[g1["change_type"] == "promotion"].iloc[0]
    assert promotion["scores_crossed"] == "ABC class A; P(alive) 0.80 ≥ 0.50"
    assert promotion["snapshot_id"] == f"{DAY0 + timedelta(40):%Y%m%d}-run1"


def test_pending_run_has_no_event_but_keeps_tier():
    _, runs, _ = _sequence()
    _, out, events, notices = runs[2]
    g1 = out.set_index("golden_account_id").loc["G001"]
    assert g1["tier"] == "A" and g1["pending_downgrade_to"] == "C"
    assert "G001" not in set(events["golden_account_id"])
    assert notices.empty


def test_downgrade_notice_says_how_to_regain_the_tier():
    _, runs, _ = _sequence()
    notices = runs[3][3]
    assert notices["golden_account_id"].tolist() == ["G001"]
    n = notices.iloc[0]
    assert (n["from_tier"], n["to_tier"], n["owner_team"]) == ("A", "C", "key_accounts")
    # closest A rule is "ABC class A and P(alive) >= 0.5": only P(alive) is missing.
    assert n["regain_en"] == "P(alive) 0.20, needs ≥ 0.50"
    assert n["regain_zh"] == "存活概率0.20，需≥0.50"
    assert n["from_tier_name_zh"] == "战略客户"


def test_scd2_history_intervals_chain(tmp_path):
    _, runs, _ = _sequence()
    history = _serving_history(tmp_path, runs)
    g1 = history[history["golden_account_id"] == "G001"].sort_values("valid_from")
    assert g1["tier"].tolist() == ["B", "A", "C", "A"]
    assert g1["is_current"].tolist() == [False, False, False, True]
    # each interval ends the day the next begins
    assert g1["valid_to"].iloc[:-1].tolist() == g1["valid_from"].iloc[1:].tolist()
    assert pd.isna(g1["valid_to"].iloc[-1])
    assert history.groupby("golden_account_id")["is_current"].sum().eq(1).all()
    assert len(history[history["golden_account_id"] == "G002"]) == 1


def test_migration_matrix_counts():
    policy, runs, _ = _sequence()
    long = migration_matrix(runs[3][1])
    counts = {(r.from_tier, r.to_tier): r.accounts for r in long.itertuples()}
    assert counts == {("A", "C"): 1, ("C", "C"): 2}
    first = migration_pivot(migration_matrix(runs[0][1]), policy.codes)
    assert first.loc["new", "B"] == 1 and first.loc["new", "C"] == 1
    assert int(first.to_numpy().sum()) == 2
