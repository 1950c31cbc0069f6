"""One account's tiers, scores and reasons across every published snapshot.

    python -m pipelines.explain <golden_account_id> [--all-columns]

An id retired by an identity merge is followed to the id that survived it
(``golden_id_redirects``), whose history carries both; the rows of every id merged into an
account are shown with it, marked with the id they were published under.

Reads only what BI reads — the read-only serving database (``tier_snapshots``,
``tier_ledger``, ``customer_tier_history``, ``golden_id_redirects``) and the immutable
snapshot files — never the warehouse, so it runs while a pipeline run is in progress.
Superseded snapshots (an earlier run of a date that was rerun) are listed too, marked as such.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import pandas as pd

from pipelines import warehouse as wh
from pipelines.settings import get_paths

# What an analyst compares from one snapshot to the next (all in the BI contract).
TIER_COLUMNS = ["tier", "rule_fired", "risk_flag", "in_control_group", "pending_downgrade_to"]
SCORE_COLUMNS = [
    "net_revenue_365d", "rfm_score", "rfm_segment", "abc_class", "clv_12m", "p_alive",
    "fit_score", "conversion_probability", "risk_level",
]  # fmt: skip


class ExplainError(RuntimeError):
    """Nothing to explain: no serving database, or the account is in no snapshot."""


@dataclass(frozen=True)
class Merge:
    """How an id asked for was retired: merged into ``merged_into``, whose history (or that of
    ``survivor``, at the end of a chain of merges) carries its own."""

    retired: str
    survivor: str
    merged_into: str
    merged_on: object  # a date, or None when the merge event is missing
    rule: str | None


@dataclass(frozen=True)
class AccountHistory:
    account: str  # the id shown: the survivor when the id asked for was merged into it
    snapshots: pd.DataFrame  # one row per snapshot and published id (null where absent)
    ledger: pd.DataFrame  # tier changes of in-force snapshots, under the id they were recorded
    intervals: pd.DataFrame  # SCD2 tier intervals (re-keyed to the survivor)
    redirected_from: Merge | None = None  # the merge that retired the id asked for
    merged_in: pd.DataFrame = field(default_factory=pd.DataFrame)  # ids merged into account

    @property
    def present(self) -> pd.DataFrame:
        return self.snapshots[self.snapshots["tier"].notna()]


def _connect(serving_db: Path) -> duckdb.DuckDBPyConnection:
    if not serving_db.exists():
        raise ExplainError(f"no serving database at {serving_db}: nothing has been published yet")
    con = wh.connect(":memory:")
    wh.attach(con, serving_db, "serving", read_only=True)
    return con


def _redirects(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """The serving ``golden_id_redirects`` (empty when the file predates it)."""
    if not wh.table_exists(con, "serving.main.golden_id_redirects"):
        return pd.DataFrame(columns=["retired_golden_account_id", "surviving_golden_account_id"])
    return con.execute("select * from serving.golden_id_redirects order by merged_on, 1").df()


def _merge_of(redirects: pd.DataFrame, account: str) -> Merge | None:
    row = redirects[redirects["retired_golden_account_id"] == account]
    if row.empty:
        return None
    r = row.iloc[0]
    merged_on = None if pd.isna(r["merged_on"]) else pd.Timestamp(r["merged_on"]).date()
    rule = None if pd.isna(r["rule"]) else r["rule"]
    return Merge(
        account, r["surviving_golden_account_id"], r["merged_into_golden_account_id"],
        merged_on, rule,
    )  # fmt: skip


def _account_rows(
    con: duckdb.DuckDBPyConnection, serving_dir: Path, account: str, ids: list[str]
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """(catalogue, snapshot rows, ledger, intervals) of ``account`` and the ``ids`` merged
    into it."""
    catalogue = con.execute(
        "select snapshot_id, as_of_date, created_at, in_force, superseded_by, parquet_path "
        "from serving.tier_snapshots order by as_of_date, created_at"
    ).df()
    if catalogue.empty:
        raise ExplainError("no snapshot has been published yet")
    paths = [(serving_dir / p).as_posix() for p in catalogue["parquet_path"]]
    rows = con.execute(
        "select * from read_parquet(?, union_by_name = true) "
        "where list_contains(?, golden_account_id)",
        [paths, ids],
    ).df()
    ledger = con.execute(
        "select effective_date, snapshot_id, golden_account_id as recorded_as, from_tier, "
        "to_tier, change_type, rule_fired, reason_en, scores_crossed from serving.tier_ledger "
        "where list_contains(?, golden_account_id) order by effective_date, snapshot_id",
        [ids],
    ).df()
    intervals = con.execute(
        "select * exclude (golden_account_id) from serving.customer_tier_history "
        "where golden_account_id = ? order by valid_from",
        [account],
    ).df()
    return catalogue, rows, ledger, intervals


def load_history(serving_dir: Path, serving_db: Path, account: str) -> AccountHistory:
    """Every snapshot's row of ``account`` (in as-of order), its ledger and SCD2 intervals.
    An id retired by a merge is followed to its survivor (whose history carries it); the rows
    of every id merged into the account are listed with it, under the id they were published
    under (``published_as``)."""
    con = _connect(serving_db)
    try:
        redirects = _redirects(con)
        merge = _merge_of(redirects, account)
        shown = merge.survivor if merge else account
        merged_in = redirects[redirects["surviving_golden_account_id"] == shown]
        ids = [shown, *merged_in["retired_golden_account_id"]]
        catalogue, rows, ledger, intervals = _account_rows(con, serving_dir, shown, ids)
    finally:
        con.close()
    if rows.empty:
        raise ExplainError(f"account {account} is in none of the {len(catalogue)} snapshots")
    rows = rows.drop(columns=["as_of_date"], errors="ignore").rename(
        columns={"golden_account_id": "published_as"}
    )
    snapshots = catalogue.drop(columns="parquet_path").merge(rows, on="snapshot_id", how="left")
    # Within a snapshot the account's own row comes last: it is the one BI shows as its tier.
    snapshots = snapshots.assign(_own=snapshots["published_as"] == shown)
    snapshots = snapshots.sort_values(["as_of_date", "created_at", "_own"], kind="stable")
    snapshots = snapshots.drop(columns="_own").reset_index(drop=True)
    return AccountHistory(
        shown, *(_as_dates(f) for f in (snapshots, ledger, intervals)), merge, _as_dates(merged_in)
    )


def _as_dates(frame: pd.DataFrame) -> pd.DataFrame:
    """DATE columns (pandas reads them as midnight timestamps) back to plain dates."""
    out = frame.copy()
    for col in out.columns:
        values = out[col]
        if (
            pd.api.types.is_datetime64_any_dtype(values)
            and (values.dropna() == values.dropna().dt.normalize()).all()
        ):
            out[col] = values.dt.date
    return out


def _table(frame: pd.DataFrame) -> str:
    if frame.empty:
        return "  (none)"
    shown = frame.astype(object).where(frame.notna(), "—")
    return "\n".join("  " + line for line in shown.to_string(index=False).splitlines())


def _snapshot_label(row: pd.Series) -> str:
    return "in force" if row["in_force"] else f"superseded by {row['superseded_by']}"


def _merge_lines(history: AccountHistory) -> list[str]:
    """What the reader must know first: the id asked for was merged away, or others were
    merged into this one."""
    lines = []
    merge = history.redirected_from
    if merge is not None:
        via = "" if merge.merged_into == merge.survivor else f" (via {merge.merged_into})"
        lines += [
            f"Account {merge.retired} was merged into {merge.survivor}{via} on "
            f"{merge.merged_on or 'an unrecorded date'} (rule: {merge.rule or 'unrecorded'}); "
            f"it has no history of its own: {merge.survivor}'s below carries it.",
            "",
        ]
    if not history.merged_in.empty:
        merged = ", ".join(
            f"{r.retired_golden_account_id} ({r.merged_on}, {r.rule})"
            for r in history.merged_in.itertuples(index=False)
        )
        lines += [f"Ids merged into {history.account}: {merged}.", ""]
    return lines


def render(history: AccountHistory, all_columns: bool = False) -> str:
    """The report printed by the CLI."""
    latest = history.present.iloc[-1]
    snaps = history.snapshots.assign(
        as_of=history.snapshots["as_of_date"].astype(str),
        status=history.snapshots.apply(_snapshot_label, axis=1),
        tier=history.snapshots["tier"].fillna("(absent)"),
    )
    scores = [c for c in SCORE_COLUMNS if c in snaps.columns]
    if all_columns:
        scores += [c for c in snaps.columns if c.endswith(("_score", "_probability"))]
    merged = not history.merged_in.empty
    who = ["published_as"] if merged else []
    ledger = history.ledger if merged else history.ledger.drop(columns="recorded_as")
    present = history.present
    lines = _merge_lines(history) + [
        f"Account {history.account}: {latest.get('account_name', '')} "
        f"({latest.get('industry', '')}, {latest.get('region', '')})",
        f"In {present['snapshot_id'].nunique()} of {snaps['snapshot_id'].nunique()} published "
        f"snapshots; latest tier {latest['tier']} as of {latest['as_of_date']} "
        f"({latest['snapshot_id']}).",
        "",
        "Tier per snapshot:",
        _table(snaps[["as_of", "snapshot_id", "status", *who, *TIER_COLUMNS]]),
        "",
        "Scores per snapshot:",
        _table(snaps[["as_of", "snapshot_id", *who, *dict.fromkeys(scores)]].round(3)),
        "",
        "Why (reason of the tier, then of the scores), per snapshot:",
    ]
    for row in present.itertuples(index=False):
        under = f" (published as {row.published_as})" if merged else ""
        lines.append(f"  {row.as_of_date} {row.snapshot_id} [{row.tier}]{under} {row.reason_en}")
        lines.append(f"      scores: {row.score_reasons}")
    lines += ["", "Tier changes (tier_ledger, in-force snapshots):", _table(ledger)]
    lines += ["", "Tier intervals (customer_tier_history):", _table(history.intervals)]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pipelines.explain", description=__doc__)
    parser.add_argument("golden_account_id")
    parser.add_argument("--all-columns", action="store_true", help="every score column")
    args = parser.parse_args(argv)
    paths = get_paths()
    try:
        history = load_history(paths.serving_dir, paths.serving_db, args.golden_account_id)
    except ExplainError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    with pd.option_context("display.width", 200, "display.max_colwidth", 80):
        print(render(history, args.all_columns))
    return 0


if __name__ == "__main__":
    sys.exit(main())
