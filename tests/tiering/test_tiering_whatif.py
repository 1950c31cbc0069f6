"""What-if simulation on a known case."""

from __future__ import annotations

from datetime import date

import pandas as pd

from pipelines.tiering.policy import parse_policy
from pipelines.tiering.whatif import simulate
from tests.tiering.tier_fixtures import make_scores, policy_data


def _case():
    scores = make_scores(
        [
            {"abc_class": "A", "p_alive": 0.9, "net_revenue_365d": 600.0},  # A -> A
            {"abc_class": "B", "rfm_score": 4.5, "net_revenue_365d": 300.0},  # B -> B
            {"abc_class": "C", "rfm_score": 4.2, "net_revenue_365d": 80.0},  # B -> C (stricter)
            {"abc_class": "C", "net_revenue_365d": 20.0},  # C -> C
            {"has_paid_order": False, "net_revenue_365d": 0.0},  # P -> P
        ]
    )
    current = pd.DataFrame(
        {
            "golden_account_id": ["G001", "G002", "G003", "G004", "G005"],
            "tier": ["A", "B", "B", "C", "P"],
        }
    )
    proposed = policy_data(version="proposed")
    proposed["tiers"][1]["rules"][1]["when"] = {"score": "rfm_score", "gte": 4.4}
    return scores, current, parse_policy(proposed)


def test_simulate_known_case():
    scores, current, policy = _case()
    report = simulate(scores, current, policy, as_of=date(2025, 6, 1))
    assert report.accounts == 5
    assert report.moved == 1
    assert report.matrix.loc["B", "C"] == 1
    assert report.matrix.loc["B", "B"] == 1
    assert int(report.matrix.to_numpy().sum()) == 5
    share = report.revenue_share.set_index("tier")
    assert share.loc["B", "revenue_share_before"] == 380.0 / 1000.0
    assert share.loc["B", "revenue_share_after"] == 300.0 / 1000.0
    assert share.loc["C", "revenue_share_after"] == 100.0 / 1000.0
    assert share.loc["B", "accounts_after"] == 1
    mover = report.movers.iloc[0]
    assert (mover["golden_account_id"], mover["from_tier"], mover["to_tier"]) == ("G003", "B", "C")
    assert mover["rule_fired"] == "fallback"
    text = report.format()
    assert "moved: 1 (20.0%)" in text
    assert "G003" in text and "Movement matrix" in text


def test_simulate_reports_accounts_without_current_tier():
    scores, current, policy = _case()
    report = simulate(scores, current.iloc[:4], policy, as_of=date(2025, 6, 1))
    assert report.matrix.loc["(none)", "P"] == 1
    assert report.moved == 2


def _write_policy(tmp_path, policy_dict):
    import yaml

    path = tmp_path / "proposed.yaml"
    path.write_text(yaml.safe_dump(policy_dict, allow_unicode=True), encoding="utf-8")
    return path


def test_cli_against_warehouse_is_read_only(tmp_path, capsys):
    import duckdb

    from pipelines.tiering.whatif import main

    scores, current, _ = _case()
    proposed = policy_data(version="proposed")
    proposed["tiers"][1]["rules"][1]["when"] = {"score": "rfm_score", "gte": 4.4}
    db = tmp_path / "wh.duckdb"
    con = duckdb.connect(str(db))
    con.execute("create schema scores; create schema tiers")
    con.register("s", scores)
    con.register("c", current)
    con.execute("create table scores.account_scores as select * from s")
    con.execute("create table tiers.customer_tier as select * from c")
    con.close()
    before = db.read_bytes()

    assert main(["--policy", str(_write_policy(tmp_path, proposed)), "--warehouse", str(db)]) == 0
    out = capsys.readouterr().out
    assert "moved: 1 (20.0%)" in out and "G003" in out
    assert db.read_bytes() == before


def test_cli_against_snapshot(tmp_path, capsys, monkeypatch):
    from pipelines.tiering.whatif import main

    scores, current, _ = _case()
    snap = tmp_path / "serving" / "snapshots" / "20250601-abcdef12"
    snap.mkdir(parents=True)
    scores.merge(current, on="golden_account_id").to_parquet(snap / "customer_tier.parquet")
    monkeypatch.setenv("STRATUM_SERVING_DIR", str(tmp_path / "serving"))
    proposed = policy_data(version="proposed")
    proposed["tiers"][1]["rules"][1]["when"] = {"score": "rfm_score", "gte": 4.4}
    path = _write_policy(tmp_path, proposed)
    assert main(["--policy", str(path), "--snapshot", "20250601-abcdef12", "--sample", "5"]) == 0
    assert "moved: 1 (20.0%)" in capsys.readouterr().out
