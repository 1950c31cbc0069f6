"""Clustering rules on hand-made scored pairs: credit codes, branches, cities, decisions."""

from __future__ import annotations

from datetime import date

import pandas as pd
import pytest

from pipelines.identity.clustering import cluster_records
from pipelines.identity.config import Decision, Decisions
from tests.transform.uscc import make_uscc

U1, U2, U3 = make_uscc(11), make_uscc(12), make_uscc(13)
TYPO = U1[:5] + ("7" if U1[5] != "7" else "8") + U1[6:]  # one character off, check fails


def features(rows: list[tuple]) -> pd.DataFrame:
    """rows: (id, valid uscc, uscc as typed, city, is_branch)."""
    frame = pd.DataFrame(rows, columns=["unique_id", "uscc", "uscc_any", "city", "is_branch"])
    frame["created_at"] = pd.Timestamp("2024-01-01")
    return frame


def pairs(rows: list[tuple]) -> pd.DataFrame:
    """rows: (id_l, id_r, probability)."""
    frame = pd.DataFrame(rows, columns=["unique_id_l", "unique_id_r", "match_probability"])
    frame["match_weight"] = 10.0 * frame["match_probability"]
    return frame


def groups(result) -> list[list[str]]:
    records = result.records
    out = records.groupby("cluster")["account_id"].apply(sorted).tolist()
    return sorted(out)


def test_same_valid_code_merges_without_any_scored_pair():
    f = features([("A", U1, U1, "杭州市", False), ("B", U1, U1, "上海市", False)])
    result = cluster_records(f, pairs([]), Decisions(), 0.5)
    assert groups(result) == [["A", "B"]]
    assert set(result.records["match_rule"]) == {"uscc"}


def test_two_valid_codes_never_merge_even_at_probability_one():
    f = features([("A", U1, U1, "杭州市", False), ("B", U2, U2, "杭州市", False)])
    result = cluster_records(f, pairs([("A", "B", 1.0)]), Decisions(), 0.5)
    assert groups(result) == [["A"], ["B"]]
    assert result.verdicts["verdict"].tolist() == ["conflict_uscc"]


def test_branch_and_head_office_stay_apart():
    f = features([("H", None, None, "杭州市", False), ("BR", None, None, "杭州市", True)])
    result = cluster_records(f, pairs([("BR", "H", 0.99)]), Decisions(), 0.5)
    assert groups(result) == [["BR"], ["H"]]
    assert result.verdicts["verdict"].tolist() == ["conflict_branch"]


def test_other_city_stays_apart_unless_the_credit_code_agrees():
    f = features(
        [
            ("A", None, None, "杭州市", False),
            ("B", None, None, "南京市", False),
            ("C", U1, U1, "杭州市", False),
            ("D", None, TYPO, "宁波市", False),
        ]
    )
    result = cluster_records(f, pairs([("A", "B", 0.99), ("C", "D", 0.9)]), Decisions(), 0.5)
    assert groups(result) == [["A"], ["B"], ["C", "D"]]


def test_below_threshold_stays_apart_and_missing_city_is_no_conflict():
    f = features([("A", None, None, "杭州市", False), ("B", None, None, None, False)])
    below = cluster_records(f, pairs([("A", "B", 0.49)]), Decisions(), 0.5)
    assert groups(below) == [["A"], ["B"]]
    above = cluster_records(f, pairs([("A", "B", 0.51)]), Decisions(), 0.5)
    assert groups(above) == [["A", "B"]]
    assert set(above.records["match_rule"]) == {"probabilistic"}


def test_a_record_between_two_codes_is_ambiguous_unless_one_clearly_wins():
    f = features(
        [
            ("X", U1, U1, "宁波市", False),
            ("Y", U2, U2, "宁波市", False),
            ("N", None, None, "宁波市", False),
        ]
    )
    close = pairs([("N", "X", 0.9), ("N", "Y", 0.9)])
    result = cluster_records(f, close, Decisions(), 0.5)
    assert groups(result) == [["N"], ["X"], ["Y"]]
    assert sorted(result.verdicts["verdict"]) == ["ambiguous", "ambiguous"]
    clear = close.assign(match_weight=[20.0, 6.0])
    result = cluster_records(f, clear, Decisions(), 0.5, ambiguity_margin=5.0)
    assert groups(result) == [["N", "X"], ["Y"]]


def test_transitive_chain_through_two_codes_is_cut_at_the_weakest_link():
    # A(U1) - N1 - N2 - B(U2): the component would hold two codes; the weakest edge is dropped.
    f = features(
        [
            ("A", U1, U1, "杭州市", False),
            ("N1", None, None, "杭州市", False),
            ("N2", None, None, "杭州市", False),
            ("B", U2, U2, "杭州市", False),
        ]
    )
    p = pairs([("A", "N1", 0.99), ("N1", "N2", 0.6), ("B", "N2", 0.98)])
    result = cluster_records(f, p, Decisions(), 0.5)
    assert groups(result) == [["A", "N1"], ["B", "N2"]]
    assert result.stats["components_rebuilt"] == 1


def _decision(kind: str, ids: list[str], did: str = "D-1") -> Decisions:
    return Decisions(
        decisions=[
            Decision(
                id=did, decision=kind, account_ids=ids, decided_by="analyst.wang",
                decided_at=date(2026, 11, 1),
            )
        ]
    )  # fmt: skip


def test_must_link_joins_and_cannot_link_separates():
    f = features([("A", None, None, "杭州市", False), ("B", None, None, "上海市", False)])
    joined = cluster_records(f, pairs([]), _decision("must_link", ["A", "B"]), 0.5)
    assert groups(joined) == [["A", "B"]]
    assert set(joined.records["match_rule"]) == {"must_link"}

    g = features([("A", None, None, "杭州市", False), ("B", None, None, "杭州市", False)])
    kept = cluster_records(g, pairs([("A", "B", 0.99)]), _decision("cannot_link", ["A", "B"]), 0.5)
    assert groups(kept) == [["A"], ["B"]]
    assert kept.verdicts["verdict"].tolist() == ["cannot_link"]


def test_cannot_link_holds_against_a_transitive_path():
    f = features(
        [("A", None, None, "杭州市", False), ("M", None, None, "杭州市", False),
         ("B", None, None, "杭州市", False)]
    )  # fmt: skip
    p = pairs([("A", "M", 0.99), ("B", "M", 0.9)])
    result = cluster_records(f, p, _decision("cannot_link", ["A", "B"]), 0.5)
    assert groups(result) == [["A", "M"], ["B"]]


def test_must_link_across_two_valid_codes_is_kept_for_the_blocking_check():
    # A reviewer can force it; find_violations (and the blocking check) then names the cluster.
    f = features([("A", U1, U1, "杭州市", False), ("B", U3, U3, "杭州市", False)])
    result = cluster_records(f, pairs([]), _decision("must_link", ["A", "B"]), 0.5)
    assert groups(result) == [["A", "B"]]


def test_decision_naming_an_unknown_record_is_ignored():
    f = features([("A", None, None, "杭州市", False), ("B", None, None, "杭州市", False)])
    result = cluster_records(f, pairs([]), _decision("must_link", ["A", "GONE"]), 0.5)
    assert groups(result) == [["A"], ["B"]]


def test_decisions_file_is_validated():
    with pytest.raises(ValueError, match="repeat a record"):
        Decision(id="D", decision="must_link", account_ids=["A", "A"], decided_by="x",
                 decided_at=date(2026, 1, 1))  # fmt: skip
    with pytest.raises(ValueError, match="decision ids repeat: D-1"):
        Decisions(decisions=[*_decision("must_link", ["A", "B"]).decisions,
                             *_decision("cannot_link", ["C", "D"]).decisions])  # fmt: skip
