"""One account's tiers, scores and reasons across every published snapshot.

    python -m pipelines.explain <golden_account_id> [--all-columns]

Reads only what BI reads — the read-only serving database (``tier_snapshots``,
``tier_ledger``, ``customer_tier_history``) and the immutable snapshot files — never the
warehouse, so it runs while a pipeline run is in progress. Superseded snapshots (an earlier
run of a date that was rerun) are listed too, marked as such.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from dataclasses import dataclass
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
class AccountHistory:
    account: str
    snapshots: pd.DataFrame  # one row per snapshot (account columns null where it is absent)
    ledger: pd.DataFrame  # tier changes of in-force snapshots
    intervals: pd.DataFrame  # SCD2 tier intervals

    @property
    def present(self) -> pd.DataFrame:
        return self.snapshots[self.snapshots["tier"].notna()]


def _connect(serving_db: Path) -> duckdb.DuckDBPyConnection:
    if not serving_db.exists():
        raise ExplainError(f"no serving database at {serving_db}: nothing has been published yet")
    con = wh.connect(":memory:")
    wh.attach(con, serving_db, "serving", read_only=True)
    return con


def load_history(serving_dir: Path, serving_db: Path, account: str) -> AccountHistory:
    """Every snapshot's row of ``account`` (in as-of order), its ledger and SCD2 intervals."""
    con = _connect(serving_db)
    try:
        catalogue = con.execute(
            "select snapshot_id, as_of_date, created_at, in_force, superseded_by, parquet_path "
            "from serving.tier_snapshots order by as_of_date, created_at"
        ).df()
        if catalogue.empty:
            raise ExplainError("no snapshot has been published yet")
        paths = [(serving_dir / p).as_posix() for p in catalogue["parquet_path"]]
        rows = con.execute(
            "select * from read_parquet(?, union_by_name = true) where golden_account_id = ?",
            [paths, account],
        ).df()
        ledger = con.execute(
            "select effective_date, snapshot_id, from_tier, to_tier, change_type, rule_fired, "
            "reason_en, scores_crossed from serving.tier_ledger "
            "where golden_account_id = ? order by effective_date, snapshot_id",
            [account],
        ).df()
        intervals = con.execute(
            "select tier, valid_from, valid_to, is_current, snapshot_id, policy_version "
            "from serving.customer_tier_history where golden_account_id = ? order by valid_from",
            [account],
        ).df()
    finally:
        con.close()
    snapshots = catalogue.drop(columns="parquet_path").merge(
        rows.drop(columns=["as_of_date"], errors="ignore"), on="snapshot_id", how="left"
    )
    if rows.empty:
        raise ExplainError(f"account {account} is in none of the {len(catalogue)} snapshots")
    return AccountHistory(account, *(_as_dates(f) for f in (snapshots, ledger, intervals)))


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
    lines = [
        f"Account {history.account}: {latest.get('account_name', '')} "
        f"({latest.get('industry', '')}, {latest.get('region', '')})",
        f"In {len(history.present)} of {len(snaps)} published snapshots; latest tier "
        f"{latest['tier']} as of {latest['as_of_date']} ({latest['snapshot_id']}).",
        "",
        "Tier per snapshot:",
        _table(snaps[["as_of", "snapshot_id", "status", *TIER_COLUMNS]]),
        "",
        "Scores per snapshot:",
        _table(snaps[["as_of", "snapshot_id", *dict.fromkeys(scores)]].round(3)),
        "",
        "Why (reason of the tier, then of the scores), per snapshot:",
    ]
    for row in history.present.itertuples(index=False):
        lines.append(f"  {row.as_of_date} {row.snapshot_id} [{row.tier}] {row.reason_en}")
        lines.append(f"      scores: {row.score_reasons}")
    lines += ["", "Tier changes (tier_ledger, in-force snapshots):", _table(history.ledger)]
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
