"""Golden ids across runs on a generated world: unchanged, deletions, late duplicates,
decisions, the placeholder-name case, and what the review queue may show."""

from __future__ import annotations

import re
from datetime import date, timedelta

import duckdb
import pandas as pd
import pytest

from pipelines.identity.config import Decision, Decisions, load_identity_config
from pipelines.identity.matching import match_accounts, persist
from pipelines.settings import REPO_ROOT
from tests.conftest import query
from tests.identity.conftest import AS_OF, restage
from tests.transform.raw_tables import append_rows

CONFIG = load_identity_config(REPO_ROOT / "config").model


def run(path, decisions: Decisions | None = None, as_of: date = AS_OF, run_id: str = "run-0001"):
    restage(path)  # the run's dbt staging step: raw records a test changed reach staging
    with duckdb.connect(str(path)) as con:
        outcome = match_accounts(con, CONFIG, decisions or Decisions(), as_of)
        written = persist(con, outcome, as_of, run_id)
    return outcome, written


def ids(outcome) -> dict[str, str]:
    return dict(
        zip(outcome.current["account_id"], outcome.current["golden_account_id"], strict=True)
    )


def raw_account(path, account_id: str) -> dict:
    frame = query(path, f"select * from raw.crm_accounts where account_id = '{account_id}'")
    return frame.iloc[0].to_dict()


@pytest.fixture
def first_run(small_world_template, warehouse_copy):
    path = warehouse_copy(small_world_template)
    outcome, written = run(path)
    assert written
    return path, outcome


def test_unchanged_data_gives_identical_ids_and_no_events(first_run):
    path, first = first_run
    second, _ = run(path, as_of=AS_OF + timedelta(days=1), run_id="run-0002")
    assert ids(second) == ids(first)
    events = query(path, "select event_type, as_of_date from identity.identity_events")
    assert set(events["event_type"]) == {"issued"}
    assert set(events["as_of_date"].astype(str)) == {AS_OF.isoformat()}
    # the first run's ids are the G- + earliest-created record format the project always had
    anchors = first.current[first.current["is_anchor"]]
    assert (anchors["golden_account_id"] == "G-" + anchors["account_id"]).all()


def test_id_survives_deleting_its_anchor_and_a_late_older_duplicate(first_run):
    path, first = first_run
    current = first.current
    multi = current[(current["cluster_size"] >= 2) & current["is_anchor"]].iloc[0]
    golden = multi["golden_account_id"]
    anchor = raw_account(path, multi["account_id"])
    loner = current[current["cluster_size"] == 1].iloc[0]
    original = raw_account(path, loner["account_id"])
    with duckdb.connect(str(path)) as con:
        # the anchor record is soft-deleted in the CRM
        append_rows(con, "crm_accounts", [{**anchor, "is_deleted": True,
                                           "updated_at": anchor["updated_at"] + timedelta(days=1)}])  # fmt: skip
        # an older record of the lone company is imported late (created before the original)
        append_rows(con, "crm_accounts", [{**original, "account_id": "ACC-LATE-1",
                                           "created_at": original["created_at"] - timedelta(days=400)}])  # fmt: skip
    second, written = run(path, run_id="run-0002")
    assert written
    now = ids(second)
    assert multi["account_id"] not in now
    survivors = current[
        (current["golden_account_id"] == golden) & (current["account_id"] != multi["account_id"])
    ]
    assert {now[a] for a in survivors["account_id"]} == {golden}
    assert now["ACC-LATE-1"] == now[loner["account_id"]] == loner["golden_account_id"]
    unchanged = {a: g for a, g in ids(first).items() if a in now}
    assert {a: now[a] for a in unchanged} == unchanged
    events = query(
        path, "select event_type from identity.identity_events where run_id = 'run-0002'"
    )
    assert events.empty


def _decision(kind: str, ids_: list[str], did: str) -> Decisions:
    return Decisions(
        decisions=[Decision(id=did, decision=kind, account_ids=ids_, decided_by="analyst.wang",
                            decided_at=date(2026, 11, 18), reason="checked with the account team")]
    )  # fmt: skip


def test_must_link_merges_on_the_next_run_and_is_recorded(first_run):
    path, first = first_run
    current = first.current.merge(
        query(path, "select account_id, uscc, city from staging.stg_crm__accounts"), on="account_id"
    )
    loners = current[(current["cluster_size"] == 1) & current["uscc"].isna()]
    a, b = loners.iloc[0], loners[loners["city"] != loners.iloc[0]["city"]].iloc[0]
    decisions = _decision("must_link", [a["account_id"], b["account_id"]], "D-2026-0001")
    second, written = run(path, decisions, run_id="run-0002")
    assert written
    now = ids(second)
    assert now[a["account_id"]] == now[b["account_id"]]
    survivor = now[a["account_id"]]
    retired = ({a["golden_account_id"], b["golden_account_id"]} - {survivor}).pop()
    events = query(
        path,
        "select event_type, golden_account_id, other_golden_account_id, rule, decision_id, "
        "decided_by, cast(decided_at as varchar) as decided_at from identity.identity_events "
        "where run_id = 'run-0002' order by event_type",
    )
    events = events.astype(object).where(events.notna(), None)
    assert events.to_dict("records") == [
        {"event_type": "decision_applied", "golden_account_id": min(survivor, retired),
         "other_golden_account_id": max(survivor, retired), "rule": "must_link",
         "decision_id": "D-2026-0001", "decided_by": "analyst.wang", "decided_at": "2026-11-18"},
        {"event_type": "merged", "golden_account_id": retired, "other_golden_account_id": survivor,
         "rule": "must_link:D-2026-0001", "decision_id": None, "decided_by": None,
         "decided_at": None},
    ]  # fmt: skip
    registry = query(
        path,
        f"select status, merged_into from identity.golden_ids where golden_account_id = '{retired}'",
    )
    assert registry.values.tolist() == [["retired", survivor]]
    # the redirect the publish step carries with the next snapshot (golden_id_redirects)
    redirects = query(path, "select * from identity.golden_id_redirects")
    assert redirects.astype(str).values.tolist() == [
        [retired, survivor, survivor, AS_OF.isoformat(), "must_link:D-2026-0001"]
    ]
    # applied once: the next run records no new event
    run(path, decisions, run_id="run-0003")
    assert query(path, "select * from identity.identity_events where run_id = 'run-0003'").empty


def test_cannot_link_splits_a_probabilistic_merge(first_run):
    path, first = first_run
    current = first.current
    pair = current[(current["match_rule"] == "probabilistic") & (current["cluster_size"] == 2)]
    golden = pair["golden_account_id"].iloc[0]
    members = sorted(current.loc[current["golden_account_id"] == golden, "account_id"])
    second, written = run(path, _decision("cannot_link", members, "D-2026-0002"), run_id="run-0002")
    assert written
    now = ids(second)
    assert now[members[0]] != now[members[1]]
    assert golden in {now[members[0]], now[members[1]]}
    split = query(
        path,
        "select golden_account_id, other_golden_account_id, rule from identity.identity_events "
        "where run_id = 'run-0002' and event_type = 'split'",
    )
    assert split["other_golden_account_id"].tolist() == [golden]
    assert split["rule"].tolist() == ["cannot_link:D-2026-0002"]


def test_placeholder_name_for_300_customers_never_becomes_one_account(first_run):
    path, first = first_run
    loners = first.current[first.current["cluster_size"] == 1]["account_id"].iloc[:300].tolist()
    rows = [raw_account(path, a) for a in loners]
    with duckdb.connect(str(path)) as con:
        append_rows(con, "crm_accounts", [
            {**r, "account_name": "未知客户", "uscc": None, "province": None, "city": None,
             "updated_at": r["updated_at"] + timedelta(days=1)} for r in rows
        ])  # fmt: skip
    second, written = run(path, run_id="run-0002")
    now = ids(second)
    assert written, second.violations.to_dict("records")
    assert len({now[a] for a in loners}) == 300
    assert {now[a] for a in loners} == {ids(first)[a] for a in loners}


def test_placeholder_name_and_one_city_alone_never_merge(first_run):
    """The same placeholder name in one city: records merge only on other evidence (a shared
    company email domain or phone), never on name and city alone; or the run is blocked."""
    path, first = first_run
    loners = first.current[first.current["cluster_size"] == 1]["account_id"].iloc[:300].tolist()
    rows = [raw_account(path, a) for a in loners]
    with duckdb.connect(str(path)) as con:
        append_rows(con, "crm_accounts", [
            {**r, "account_name": "测试客户", "uscc": None, "province": "上海市", "city": "上海市",
             "updated_at": r["updated_at"] + timedelta(days=1)} for r in rows
        ])  # fmt: skip
    second, written = run(path, run_id="run-0002")
    if not written:
        assert second.violations["reason"].str.contains("limit 25").all()
        assert second.violations["sample_names"].str.contains("测试客户").all()
        return
    now = ids(second)
    assert len({now[a] for a in loners}) >= 290
    pairs = query(path, "select * from identity.match_pairs where verdict = 'match'")
    placeholder = pairs[pairs["account_id_l"].isin(loners) & pairs["account_id_r"].isin(loners)]
    assert placeholder["evidence"].str.contains("in common \\(\\+").all()
    assert placeholder["evidence"].str.contains("name: same name, carried by many records").all()


def test_violation_blocks_the_registry_and_names_the_cluster(first_run):
    path, first = first_run
    coded = first.current.merge(
        query(
            path, "select account_id, uscc from staging.stg_crm__accounts where uscc is not null"
        ),
        on="account_id",
    )
    a, b = (
        coded.iloc[0]["account_id"],
        coded[coded["uscc"] != coded.iloc[0]["uscc"]].iloc[0]["account_id"],
    )
    before = query(path, "select * from identity.golden_ids order by 1")
    second, written = run(path, _decision("must_link", [a, b], "D-2026-0003"), run_id="run-0002")
    assert not written
    row = second.violations.iloc[0]
    assert row["reason"] == "holds 2 different valid credit codes"
    assert a in row["sample_records"] and b in row["sample_records"]
    pd.testing.assert_frame_equal(
        query(path, "select * from identity.golden_ids order by 1"), before
    )
    assert query(path, "select * from identity.cluster_violations")[
        "golden_account_id"
    ].tolist() == [row["golden_account_id"]]


def test_review_queue_and_pairs_hold_no_contact_data(first_run):
    path, first = first_run
    review = query(path, "select * from identity.identity_review")
    pairs = query(path, "select * from identity.match_pairs")
    assert len(review) > 0 and len(pairs) > len(review)
    lo, hi = CONFIG.thresholds.review, CONFIG.thresholds.match
    assert review["match_probability"].between(lo, 1.0).all()
    assert (review["golden_account_id_l"] != review["golden_account_id_r"]).all()
    assert (pairs.loc[pairs["verdict"] == "below", "match_probability"] < hi).all()
    contacts = query(path, "select email, phone_e164 from staging.stg_crm__contacts")
    secrets = set(contacts["email"].dropna()) | set(contacts["phone_e164"].dropna())
    for frame in (review, pairs):
        text = [str(v) for v in frame.to_numpy().ravel()]
        assert not any("@" in t for t in text)
        assert not any(re.search(r"(?<![0-9A-Z])1[3-9]\d{9}(?![0-9A-Z])", t) for t in text)
        assert not secrets & set(text)
    assert not {"email", "phone", "phones", "email_domains", "full_name"} & {
        c.removesuffix("_l").removesuffix("_r") for c in review.columns
    }


def test_review_queue_is_readable_in_the_serving_database(first_run, tmp_path):
    from tests.publish.test_publish_snapshot import _publish

    path, _ = first_run
    review = query(path, "select * from identity.identity_review")
    serving = tmp_path / "serving"
    with duckdb.connect(str(path)) as con:
        _publish(con, serving, {"G-1": "A"}, "s1", AS_OF)
    with duckdb.connect(str(serving / "serving.duckdb"), read_only=True) as con:
        published = con.execute("select * from identity_review").df()
    assert len(review) > 0
    assert published["pair_id"].tolist() == review["pair_id"].tolist()
    assert published["evidence"].tolist() == review["evidence"].tolist()


def test_a_run_that_dies_while_writing_leaves_the_previous_tables_whole(first_run, monkeypatch):
    """The run's pairs, review queue and registry are written in one transaction: an error
    (or a kill) half-way leaves every identity table as the previous run left it."""
    from pipelines.identity import matching

    path, first = first_run
    loner = first.current[first.current["cluster_size"] == 1].iloc[0]
    original = raw_account(path, loner["account_id"])
    with duckdb.connect(str(path)) as con:
        # A late, older duplicate: the next run has a new pair and a new record.
        append_rows(con, "crm_accounts", [{**original, "account_id": "ACC-LATE-2",
                                           "created_at": original["created_at"] - timedelta(days=400)}])  # fmt: skip
    tables = ["match_pairs", "identity_review", "cluster_violations", "golden_ids",
              "record_assignments", "account_identity", "identity_events"]  # fmt: skip
    before = {t: query(path, f"select * from identity.{t} order by all") for t in tables}

    def disk_full(*args, **kwargs):
        raise OSError("No space left on device")

    with monkeypatch.context() as mp:
        mp.setattr(matching, "write_registry", disk_full)
        with pytest.raises(OSError, match="No space left"):
            run(path, run_id="run-0002")
    for table in tables:
        after = query(path, f"select * from identity.{table} order by all")
        pd.testing.assert_frame_equal(after, before[table], obj=table)
    # Not vacuous: the same run, completed, does change the pairs and the assignments.
    _, written = run(path, run_id="run-0002")
    pairs = query(path, "select account_id_l, account_id_r from identity.match_pairs")
    assert written and "ACC-LATE-2" in set(pairs.to_numpy().ravel())
    assert "ACC-LATE-2" in set(
        query(path, "select account_id from identity.account_identity")["account_id"]
    )


@pytest.mark.parametrize("contacts", ["kept", "none delivered"])
def test_a_book_without_any_shared_name_or_code_gets_one_id_per_record(first_run, contacts):
    """A retail book (e.g. the CDNOW history: customer numbers as names, no credit codes, no
    city) gives the EM passes no record pair to learn from: the run keeps the priors for those
    parameters and still resolves every record, instead of failing in Splink."""
    path, first = first_run
    with duckdb.connect(str(path)) as con:
        con.execute(
            "update raw.crm_accounts set account_name = 'customer ' || account_id, uscc = null, "
            "province = null, city = null"
        )
        if contacts == "none delivered":
            con.execute("delete from raw.crm_contacts")
    second, written = run(path, run_id="run-0002")
    now = ids(second)
    assert written, second.violations.to_dict("records")
    assert first.stats["em_passes"] == "name_core, uscc_any"
    assert second.stats["em_passes"] == "none (priors)"
    # Shared contact phones alone (the generator's duplicates share some) do not reach the
    # match threshold: every record is its own account, and a record that was alone before
    # keeps its golden id.
    assert len(set(now.values())) == len(now)
    alone = first.current[first.current["cluster_size"] == 1]["account_id"]
    assert {now[a] for a in alone} == {ids(first)[a] for a in alone}
