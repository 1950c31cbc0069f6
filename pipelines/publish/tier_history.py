"""``customer_tier_history``, the serving table of tier intervals, derived from the snapshots.

A full build reads every in-force snapshot (:func:`history_sql`): its cost grows with the
number of days published, a year of daily snapshots of a million accounts being 365 M rows to
sort every day. So a daily publish extends the live serving file's history instead when that
gives the same table as the full build (:func:`fill_history`): the new snapshot is the only
one added and dated after all the others, the id redirects are unchanged, and the live history
was built by this definition (:data:`HISTORY_VERSION`, a comment on the table). Then only the
new snapshot and the last interval of each account are read: the cost of the day's data.
Anything else (a backfill, a republished date, a merge, a serving file of another version)
rebuilds from the snapshots, as recovery always does.
"""

from __future__ import annotations

import duckdb

from pipelines import warehouse as wh
from pipelines.history import SnapshotInfo

# Changes whenever history_sql or the closing rule below changes: a live history built by an
# older definition is never extended, it is rebuilt.
HISTORY_VERSION = "stratum customer_tier_history v1"
HISTORY = "serving_build.customer_tier_history"
LIVE_HISTORY = "serving_live.main.customer_tier_history"
REDIRECTS = "serving_build.golden_id_redirects"
HISTORY_COLUMNS = (
    "golden_account_id, tier, valid_from, valid_to, is_current, snapshot_id, policy_version, "
    "published_golden_account_id"
)


# A relation with the columns history_sql reads from the redirects, and no row.
NO_REDIRECTS = (
    "(select null::varchar as retired_golden_account_id, "
    "null::varchar as surviving_golden_account_id where false)"
)


def _outranked_sql(redirects: str) -> str:
    """CTEs ending with ``outranked``: the (published id, date) of the rows that lose their date
    to another row of the same survivor (the rule is in :func:`history_sql`), over ``snaps``."""
    return f"""contenders as (
            -- The rows of ids a merge touched (few): the only ones that can meet on a date.
            select
                coalesce(r.surviving_golden_account_id, s.published_golden_account_id)
                    as golden_account_id,
                s.published_golden_account_id,
                s.as_of_date,
                s.tier_since,
                r.retired_golden_account_id is not null as merged_away
            from snaps as s
            left join {redirects} as r
                on r.retired_golden_account_id = s.published_golden_account_id
            where s.published_golden_account_id in (
                select retired_golden_account_id from {redirects}
                union all
                select surviving_golden_account_id from {redirects}
            )
        ),
        outranked as (
            select published_golden_account_id, as_of_date
            from contenders
            qualify row_number() over (
                partition by golden_account_id, as_of_date
                order by merged_away, tier_since nulls last, published_golden_account_id
            ) > 1
        ),"""


def history_sql(files: list[str], redirects: str = NO_REDIRECTS) -> str:
    """The SELECT of ``customer_tier_history`` over the in-force snapshot files ``files`` (SQL
    literals, in as-of order), re-keyed with ``redirects`` (a relation holding
    ``retired_golden_account_id`` -> ``surviving_golden_account_id``)."""
    # Derived from the snapshots themselves, so it can never disagree with what BI was shown.
    # Every row is first re-keyed to its survivor, so the survivor carries the history of the
    # ids merged into it. On a date when several of a survivor's ids had a row, the survivor's
    # own row wins, then the tier held longest (earliest tier_since), as the tier step does
    # (pipelines.tiering.store.follow_merges), then the smallest id. An interval is an island
    # of consecutive dates with one tier published under one id, so each traces to one id.
    return f"""
        with snaps as not materialized (
            select golden_account_id as published_golden_account_id, tier, tier_since,
                as_of_date, snapshot_id, policy_version
            from read_parquet([{", ".join(files)}])
        ),
        {_outranked_sql(redirects)}
        daily as (
            select
                coalesce(r.surviving_golden_account_id, s.published_golden_account_id)
                    as golden_account_id,
                s.*
            from snaps as s
            left join {redirects} as r
                on r.retired_golden_account_id = s.published_golden_account_id
            anti join outranked as o
                on o.published_golden_account_id = s.published_golden_account_id
                and o.as_of_date = s.as_of_date
        ),
        dated as (
            select *,
                lag(tier) over by_date as prev_tier,
                lag(published_golden_account_id) over by_date as prev_published
            from daily
            window by_date as (partition by golden_account_id order by as_of_date)
        ),
        starts as (
            select golden_account_id, tier, as_of_date as valid_from, snapshot_id, policy_version,
                published_golden_account_id
            from dated
            where prev_tier is null or prev_tier <> tier
                or prev_published <> published_golden_account_id
        )
        select
            golden_account_id,
            tier,
            valid_from,
            lead(valid_from) over (partition by golden_account_id order by valid_from) as valid_to,
            lead(valid_from) over (partition by golden_account_id order by valid_from) is null
                as is_current,
            snapshot_id,
            policy_version,
            published_golden_account_id
        from starts
    """


def live_extends(con: duckdb.DuckDBPyConnection, snapshots: list[SnapshotInfo]) -> bool:
    """Whether the live serving file (attached as ``serving_live``) holds the history of every
    snapshot but the last of ``snapshots`` (sorted as listed), which is dated after all the
    others, under the same id redirects (``serving_build.golden_id_redirects``, filled before):
    then the history is that one's extension (:func:`fill_history`)."""
    *earlier, added = snapshots
    if not earlier or not wh.table_exists(con, LIVE_HISTORY):
        return False
    if added.as_of_date <= max(s.as_of_date for s in earlier):
        return False  # a backfill or a republished date: intervals before its date change
    comment = con.execute(
        "select comment from duckdb_tables() where database_name = 'serving_live' "
        "and table_name = 'customer_tier_history'"
    ).fetchone()
    if comment is None or comment[0] != HISTORY_VERSION:
        return False
    served = {
        r[0] for r in con.execute("select snapshot_id from serving_live.tier_snapshots").fetchall()
    }
    return served == {s.snapshot_id for s in earlier} and _same_redirects(con)


def _same_redirects(con: duckdb.DuckDBPyConnection) -> bool:
    """Whether the current snapshot re-keys ids exactly as the live file did (a merge since
    re-keys rows of earlier dates: that history is rebuilt)."""
    if not wh.table_exists(con, "serving_live.main.golden_id_redirects"):
        return False
    pairs = "select retired_golden_account_id, surviving_golden_account_id from "
    live = "serving_live.golden_id_redirects"
    differ = con.execute(
        f"select count(*) from (({pairs} {REDIRECTS} except {pairs} {live}) "
        f"union all ({pairs} {live} except {pairs} {REDIRECTS}))"
    ).fetchone()[0]
    return differ == 0


def _extend_sql(added_file: str) -> str:
    """The live history with the added snapshot's day: a new interval where an account's tier
    (or the id it was published under) differs from its last interval, which that closes;
    every last interval reopened first (the closing rule runs again for the new date)."""
    return f"""
        with ranked as (
            select *, row_number() over (
                partition by golden_account_id order by valid_from desc
            ) = 1 as is_last
            from {LIVE_HISTORY}
        ),
        added as ({history_sql([added_file], REDIRECTS)}),
        joined as (
            select r.*, a.valid_from as added_on,
                a.golden_account_id is not null and (
                    a.tier is distinct from r.tier
                    or a.published_golden_account_id is distinct from r.published_golden_account_id
                ) as moved
            from ranked as r
            left join added as a
                on r.is_last and a.golden_account_id = r.golden_account_id
        )
        select golden_account_id, tier, valid_from,
            case when not is_last then valid_to when moved then added_on end as valid_to,
            is_last and not moved as is_current,
            snapshot_id, policy_version, published_golden_account_id
        from joined
        union all
        select a.*
        from added as a
        left join ranked as r
            on r.is_last and r.golden_account_id = a.golden_account_id
        where r.golden_account_id is null
            or a.tier is distinct from r.tier
            or a.published_golden_account_id is distinct from r.published_golden_account_id
    """


def fill_history(
    con: duckdb.DuckDBPyConnection, files: list[str], closed_on: str, extends_live: bool
) -> str:
    """Create ``customer_tier_history`` in ``serving_build`` from the in-force snapshot
    ``files`` (SQL literals, in as-of order), re-keyed with the current snapshot's redirects
    (``serving_build.golden_id_redirects``, filled before). ``extends_live`` (from
    :func:`live_extends`): the last file is the one added to the live file's history. Returns
    how: ``extended`` or ``rebuilt``."""
    how = "extended" if extends_live else "rebuilt"
    select = _extend_sql(files[-1]) if how == "extended" else history_sql(files, REDIRECTS)
    con.execute(f"create table {HISTORY} as select {HISTORY_COLUMNS} from ({select})")
    # Accounts absent from the current snapshot (deleted in the CRM) are closed; an id merged
    # away is no longer in the history: its rows are its survivor's.
    con.execute(
        f"""
        update {HISTORY}
        set is_current = false, valid_to = {wh.literal(closed_on)}::date
        where is_current
          and golden_account_id not in (
              select coalesce(r.surviving_golden_account_id, c.golden_account_id)
              from serving_build.customer_tier_current as c
              left join {REDIRECTS} as r
                  on r.retired_golden_account_id = c.golden_account_id
          )
        """
    )
    con.execute(f"comment on table {HISTORY} is {wh.literal(HISTORY_VERSION)}")
    return how
