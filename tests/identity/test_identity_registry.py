"""Golden ids that never move: the registry's assignment rules on hand-made clusters."""

from __future__ import annotations

from datetime import date

import pandas as pd

from pipelines.identity.registry import assign_golden_ids

D1, D2 = date(2026, 1, 1), date(2026, 1, 2)
EMPTY_PREVIOUS = pd.DataFrame({"account_id": [], "golden_account_id": []}, dtype=object)
EMPTY_REGISTRY = pd.DataFrame(
    {
        "golden_account_id": pd.Series(dtype=object),
        "status": pd.Series(dtype=object),
        "merged_into": pd.Series(dtype=object),
        "anchor_account_id": pd.Series(dtype=object),
        "issued_on": pd.Series(dtype="datetime64[ns]"),
    }
)


def clusters(groups: dict[str, list[str]], created: dict[str, str]) -> pd.DataFrame:
    rows = [(a, min(ids), pd.Timestamp(created[a])) for ids in groups.values() for a in ids]
    return pd.DataFrame(rows, columns=["account_id", "cluster", "created_at"])


CREATED = {
    "A1": "2020-01-01",
    "A2": "2021-01-01",
    "A0": "2019-01-01",  # older than A1, arrives late
    "B1": "2020-06-01",
    "B2": "2022-01-01",
    "C1": "2018-01-01",
}


def first_run() -> tuple:
    out = assign_golden_ids(
        clusters({"a": ["A1", "A2"], "b": ["B1", "B2"], "c": ["C1"]}, CREATED),
        EMPTY_PREVIOUS,
        EMPTY_REGISTRY,
        D1,
    )
    return out, out.records[["account_id", "golden_account_id"]], out.registry


def ids(out) -> dict[str, str]:
    return dict(zip(out.records["account_id"], out.records["golden_account_id"], strict=True))


def test_first_run_issues_g_plus_earliest_record():
    out, _, registry = first_run()
    assert ids(out) == {
        "A1": "G-A1",
        "A2": "G-A1",
        "B1": "G-B1",
        "B2": "G-B1",
        "C1": "G-C1",
    }
    assert set(out.events["event_type"]) == {"issued"}
    assert sorted(registry["golden_account_id"]) == ["G-A1", "G-B1", "G-C1"]
    assert (registry["status"] == "active").all()


def test_unchanged_clusters_keep_their_ids_and_make_no_events():
    _, previous, registry = first_run()
    out = assign_golden_ids(
        clusters({"a": ["A1", "A2"], "b": ["B1", "B2"], "c": ["C1"]}, CREATED),
        previous,
        registry,
        D2,
    )
    assert ids(out)["A2"] == "G-A1" and ids(out)["B2"] == "G-B1"
    assert out.events.empty


def test_id_survives_deletion_of_its_anchor_and_late_older_duplicate():
    _, previous, registry = first_run()
    # A1 (the anchor) is deleted; an older record A0 of the same company arrives late.
    out = assign_golden_ids(
        clusters({"a": ["A0", "A2"], "b": ["B1", "B2"], "c": ["C1"]}, CREATED),
        previous,
        registry,
        D2,
    )
    assert ids(out)["A0"] == ids(out)["A2"] == "G-A1"
    assert out.events.empty


def test_merge_keeps_the_earliest_issued_id_and_retires_the_other():
    _, previous, registry = first_run()
    registry.loc[registry["golden_account_id"] == "G-B1", "issued_on"] = pd.Timestamp("2025-12-01")
    rules = pd.DataFrame({"cluster": ["A1"], "rule": ["must_link:D-7"]})
    out = assign_golden_ids(
        clusters({"ab": ["A1", "A2", "B1", "B2"], "c": ["C1"]}, CREATED),
        previous,
        registry,
        D2,
        rules=rules,
    )
    assert set(ids(out).values()) == {"G-B1", "G-C1"}
    merged = out.events[out.events["event_type"] == "merged"]
    assert merged[["golden_account_id", "other_golden_account_id", "rule"]].values.tolist() == [
        ["G-A1", "G-B1", "must_link:D-7"]
    ]
    row = out.registry.set_index("golden_account_id").loc["G-A1"]
    assert row["status"] == "retired" and row["merged_into"] == "G-B1"

    # a later run still resolves records last seen under the retired id to the survivor
    again = assign_golden_ids(
        clusters({"ab": ["A1", "A2", "B1", "B2"], "c": ["C1"]}, CREATED),
        previous,  # A1, A2 last seen under G-A1, now retired
        out.registry,
        D2,
    )
    assert ids(again)["A1"] == "G-B1"
    assert again.events.empty


def test_split_keeps_the_id_with_the_larger_part_and_issues_a_new_one():
    out1 = assign_golden_ids(
        clusters({"a": ["A1", "A2", "B2"]}, CREATED), EMPTY_PREVIOUS, EMPTY_REGISTRY, D1
    )
    rules = pd.DataFrame({"cluster": ["B2"], "rule": ["cannot_link:D-9"]})
    out = assign_golden_ids(
        clusters({"a": ["A1", "A2"], "b": ["B2"]}, CREATED),
        out1.records[["account_id", "golden_account_id"]],
        out1.registry,
        D2,
        rules=rules,
    )
    assert ids(out) == {"A1": "G-A1", "A2": "G-A1", "B2": "G-B2"}
    split = out.events[out.events["event_type"] == "split"]
    assert split[["golden_account_id", "other_golden_account_id", "rule"]].values.tolist() == [
        ["G-B2", "G-A1", "cannot_link:D-9"]
    ]


def test_ids_of_deleted_companies_go_inactive_and_come_back():
    _, previous, registry = first_run()
    gone = assign_golden_ids(
        clusters({"a": ["A1", "A2"], "b": ["B1", "B2"]}, CREATED), previous, registry, D2
    )
    assert gone.events[["event_type", "golden_account_id"]].values.tolist() == [
        ["deactivated", "G-C1"]
    ]
    assert gone.registry.set_index("golden_account_id").loc["G-C1", "status"] == "inactive"
    back = assign_golden_ids(
        clusters({"a": ["A1", "A2"], "b": ["B1", "B2"], "c": ["C1"]}, CREATED),
        previous,
        gone.registry,
        D2,
    )
    assert ids(back)["C1"] == "G-C1"
    assert back.events["event_type"].tolist() == ["reactivated"]


def test_new_id_never_reuses_an_id_issued_before():
    # C1's id was issued and retired into G-A1; C1 later splits off again: it cannot take G-C1.
    registry = pd.DataFrame(
        {
            "golden_account_id": ["G-A1", "G-C1"],
            "status": ["active", "retired"],
            "merged_into": [None, "G-A1"],
            "anchor_account_id": ["A1", "C1"],
            "issued_on": [pd.Timestamp(D1)] * 2,
        }
    )
    previous = pd.DataFrame(
        {"account_id": ["A1", "A2", "C1"], "golden_account_id": ["G-A1", "G-A1", "G-A1"]}
    )
    out = assign_golden_ids(
        clusters({"a": ["A1", "A2"], "c": ["C1"]}, CREATED), previous, registry, D2
    )
    assert ids(out)["C1"] == "G-C1-2"
    assert out.registry["golden_account_id"].is_unique
