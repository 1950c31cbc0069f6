"""The ``identity`` schema in the warehouse: registry, assignments, events, pairs, review queue.

Tables (all written in one transaction per run, so a failed or killed run leaves the previous
state):

- ``golden_ids``: every golden id ever issued: status (active / retired / inactive),
  ``merged_into`` for a retired id, anchor record, issue date;
- ``record_assignments``: every CRM account record ever seen -> its golden id (deleted records
  keep their last id, so they come back under it);
- ``account_identity``: this run's current records -> golden id, match rule, cluster size
  (the dbt source ``identity.account_identity``);
- ``identity_events``: merges, splits, issues, deactivations and applied decisions (append-only);
- ``golden_id_redirects``: every id retired by a merge -> the id carrying its history now, with
  the merge's date and rule (derived from the two above; published with each snapshot);
- ``applied_decisions``: decisions already recorded as events;
- ``match_pairs``: this run's scored pairs (p >= review threshold) with verdict and evidence;
- ``identity_review``: pairs for a reviewer (published to the serving database);
- ``cluster_violations``: clusters that break the size or credit-code limits (blocking);
- ``match_state``: one row, the fingerprint of the inputs behind the ids in force (the staging
  records, the region seed, the config, decisions and code versions), the run that matched
  them and its statistics: a run whose inputs have that fingerprint has nothing to match.
"""

from __future__ import annotations

import hashlib
import json
from datetime import date

import duckdb
import pandas as pd

from pipelines import warehouse as wh
from pipelines.contracts import source_columns, types_of
from pipelines.identity.registry import EVENT_COLUMNS, REGISTRY_COLUMNS, resolve_redirects

SCHEMA = "identity"
REVIEW_TYPES = types_of(source_columns("identity", "identity_review"))
REDIRECTS = "identity.golden_id_redirects"
REDIRECT_TYPES = types_of(source_columns("identity", "golden_id_redirects"))
STATE = "identity.match_state"
# Everything matching reads from the warehouse besides its own registry (features.py).
STATE_TYPES = {
    "fingerprint": "varchar",
    "as_of_date": "date",
    "run_id": "varchar",
    "stats": "varchar",
}
INPUT_RELATIONS = (
    "staging.stg_crm__accounts",
    "staging.stg_crm__contacts",
    "staging.china_regions",
)

DDL = {
    "golden_ids": """
        create table if not exists identity.golden_ids (
            golden_account_id varchar primary key,
            status varchar not null,
            merged_into varchar,
            anchor_account_id varchar not null,
            issued_on date not null
        )""",
    "record_assignments": """
        create table if not exists identity.record_assignments (
            account_id varchar primary key,
            golden_account_id varchar not null,
            is_current boolean not null,
            updated_on date not null
        )""",
    "identity_events": """
        create table if not exists identity.identity_events (
            event_id varchar not null,
            event_type varchar not null,
            golden_account_id varchar,
            other_golden_account_id varchar,
            rule varchar,
            records integer,
            decision_id varchar,
            decided_by varchar,
            decided_at date,
            as_of_date date not null,
            run_id varchar not null
        )""",
    "applied_decisions": """
        create table if not exists identity.applied_decisions (
            decision_id varchar primary key,
            decision varchar not null,
            first_applied_on date not null,
            run_id varchar not null
        )""",
}


def ensure_schema(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(f"create schema if not exists {SCHEMA}")
    for ddl in DDL.values():
        con.execute(ddl)


def read_registry(con: duckdb.DuckDBPyConnection) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(previous record assignments, registry of issued ids); empty on the first run."""
    ensure_schema(con)
    previous = con.execute(
        "select account_id, golden_account_id from identity.record_assignments order by 1"
    ).df()
    registry = con.execute(
        f"select {', '.join(REGISTRY_COLUMNS)} from identity.golden_ids order by 1"
    ).df()
    return previous, registry


def merge_redirects(con: duckdb.DuckDBPyConnection) -> pd.Series:
    """Golden id retired by a merge -> the id that survived (chains followed); empty before
    the registry exists. What later stages follow to carry an account's history over."""
    if not wh.table_exists(con, "identity.golden_ids"):
        return pd.Series(dtype=object)
    retired = con.execute(
        "select golden_account_id, status, merged_into from identity.golden_ids "
        "where status = 'retired'"
    ).df()
    return resolve_redirects(retired)


def redirect_rows(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """One row per id retired by a merge (the ``golden_id_redirects`` contract): the survivor
    at the end of its chain, the id it was merged into, and the date and rule of that merge
    (its latest ``merged`` event; null when the ledger lacks one)."""
    survivors = merge_redirects(con)
    ensure_schema(con)
    retired = con.execute(
        """
        select g.golden_account_id as retired_golden_account_id,
            g.merged_into as merged_into_golden_account_id,
            e.as_of_date as merged_on,
            e.rule
        from identity.golden_ids as g
        left join (
            select golden_account_id, as_of_date, rule
            from identity.identity_events
            where event_type = 'merged'
            qualify row_number() over (
                partition by golden_account_id order by as_of_date desc, event_id desc
            ) = 1
        ) as e on e.golden_account_id = g.golden_account_id
        where g.status = 'retired'
        order by 1
        """
    ).df()
    retired["surviving_golden_account_id"] = (
        retired["retired_golden_account_id"].map(survivors).to_numpy()
    )
    return retired[list(REDIRECT_TYPES)]


def write_redirects(con: duckdb.DuckDBPyConnection) -> int:
    """Replace ``identity.golden_id_redirects`` from the registry; returns its rows."""
    rows = redirect_rows(con)
    wh.replace_table(con, REDIRECTS, rows, REDIRECT_TYPES)
    return len(rows)


def applied_decision_ids(con: duckdb.DuckDBPyConnection) -> set[str]:
    ensure_schema(con)
    return {
        r[0] for r in con.execute("select decision_id from identity.applied_decisions").fetchall()
    }


def write_run_outputs(
    con: duckdb.DuckDBPyConnection,
    match_pairs: pd.DataFrame,
    review: pd.DataFrame,
    violations: pd.DataFrame,
) -> None:
    """The run's pairs, review queue and violations (replaced every run)."""
    ensure_schema(con)
    wh.replace_table(con, "identity.match_pairs", match_pairs)
    # The review queue is published: cast to the contract of the identity source (dbt YAML).
    wh.replace_table(con, "identity.identity_review", review, REVIEW_TYPES)
    wh.replace_table(con, "identity.cluster_violations", violations)


def _upsert_assignments(con: duckdb.DuckDBPyConnection, current: pd.DataFrame, as_of: date) -> None:
    seen = current[["account_id", "golden_account_id"]].assign(
        is_current=True, updated_on=pd.Timestamp(as_of)
    )
    con.register("_seen", seen)
    try:
        con.execute("update identity.record_assignments set is_current = false")
        con.execute(
            "insert or replace into identity.record_assignments "
            "select account_id, golden_account_id, is_current, updated_on from _seen"
        )
    finally:
        con.unregister("_seen")


def write_registry(
    con: duckdb.DuckDBPyConnection,
    current: pd.DataFrame,
    registry: pd.DataFrame,
    events: pd.DataFrame,
    decisions: pd.DataFrame,
    as_of: date,
    run_id: str,
) -> None:
    """Persist the id registry, assignments, the current map and the run's events (for a
    date before the registry's latest run, only the current map: see below). Call it inside
    the caller's transaction (:func:`pipelines.identity.matching.persist`), so all of it
    lands or none.

    ``current``: account_id, golden_account_id, match_rule, cluster_size, is_anchor;
    ``events``: EVENT_COLUMNS + decision_id, decided_by, decided_at; ``decisions``: the
    decisions applied for the first time (decision_id, decision).
    """
    ensure_schema(con)
    ((latest,),) = con.execute("select max(updated_on) from identity.record_assignments").fetchall()
    if latest is not None and latest > as_of:
        # A backfill for an earlier date: its records resolve to the registry's ids (the dbt
        # source is rewritten for this run), but the registry itself only moves forward.
        wh.replace_table(con, "identity.account_identity", current)
        write_redirects(con)  # unchanged registry: only makes sure the table exists
        return
    con.execute("delete from identity.golden_ids")
    wh.append_rows(con, "identity.golden_ids", registry[REGISTRY_COLUMNS])
    _upsert_assignments(con, current, as_of)
    wh.replace_table(con, "identity.account_identity", current)
    stamped = events.assign(as_of_date=pd.Timestamp(as_of), run_id=run_id)
    stamped.insert(0, "event_id", [f"{run_id[:8]}-{i:06d}" for i in range(len(stamped))])
    wh.append_rows(
        con,
        "identity.identity_events",
        stamped[
            [
                "event_id",
                *EVENT_COLUMNS,
                "decision_id",
                "decided_by",
                "decided_at",
                "as_of_date",
                "run_id",
            ]
        ],
    )
    wh.append_rows(
        con,
        "identity.applied_decisions",
        decisions.assign(first_applied_on=pd.Timestamp(as_of), run_id=run_id),
    )
    write_redirects(con)


def inputs_fingerprint(con: duckdb.DuckDBPyConnection, versions: dict[str, str]) -> str:
    """A digest of what a matching run would read: every row of the input relations (an
    order-free sum of row hashes, with their column names and counts) and ``versions``
    (config, decisions, code). Equal digests mean the same records, so the same ids."""
    parts = [json.dumps(versions, sort_keys=True)]
    for relation in INPUT_RELATIONS:
        columns = wh.table_columns(con, relation)
        rows, digest = con.execute(
            f"select count(*), coalesce(sum(hash(t)::hugeint), 0) from {relation} as t"
        ).fetchone()
        parts.append(f"{relation}|{','.join(columns)}|{rows}|{digest}")
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:20]


def read_state(con: duckdb.DuckDBPyConnection) -> dict | None:
    """The ``match_state`` row (fingerprint, as_of_date, run_id, stats as a dict), or None."""
    if not wh.table_exists(con, STATE):
        return None
    row = con.execute(f"select fingerprint, as_of_date, run_id, stats from {STATE}").fetchone()
    if row is None:
        return None
    return {
        "fingerprint": row[0],
        "as_of_date": row[1],
        "run_id": row[2],
        "stats": json.loads(row[3]),
    }


def write_state(
    con: duckdb.DuckDBPyConnection, fingerprint: str | None, as_of: date, run_id: str, stats: dict
) -> None:
    """Record the inputs behind the ids just written (inside the run's transaction). Without a
    fingerprint (the code version is not comparable) the state is cleared: nothing skips on it."""
    frame = pd.DataFrame(
        {
            "fingerprint": [fingerprint],
            "as_of_date": [pd.Timestamp(as_of)],
            "run_id": [run_id],
            "stats": [json.dumps(stats, sort_keys=True, default=str)],
        }
    )
    wh.replace_table(con, STATE, frame if fingerprint else frame.iloc[:0], STATE_TYPES)
