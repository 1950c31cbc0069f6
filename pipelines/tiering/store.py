"""Reading and writing the ``tiers`` schema (no Dagster, no SQL: :mod:`pipelines.warehouse`).

The run's tiers replace ``tiers.customer_tier``; its change tables (ledger, notices, migration
matrix) are stored per snapshot id, so a rerun of a date replaces its own rows and never the
rows of another snapshot, and the serving step publishes only the rows of snapshots in force.
Column lists and types are the ``tiers`` source's contract in the dbt project
(dbt_project/models/publish/_tiers__sources.yml). The previous state comes from the previous
in-force *published* snapshot (:mod:`pipelines.history`), never from a table a killed or
unpublished run left behind.
"""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

import duckdb
import pandas as pd

from pipelines import warehouse as wh
from pipelines.contracts import source_columns, types_of
from pipelines.history import SnapshotInfo, previous_in_force, read_snapshot
from pipelines.identity.store import merge_redirects
from pipelines.tiering.hysteresis import STATE_COLUMNS, empty_state
from pipelines.tiering.outputs import TieringOutputs

SCORES_TABLE = "scores.account_scores"
CUSTOMER_TIER = "tiers.customer_tier"
LEDGER = "tiers.tier_ledger"


def contract(table: str) -> dict[str, str]:
    """``{column: type}`` of a ``tiers`` table, from the dbt source contract."""
    return types_of(source_columns("tiers", table))


class TierTableError(RuntimeError):
    """``tiers.customer_tier`` is empty or was written by another run than the one using it."""


def check_tier_table(con: duckdb.DuckDBPyConnection, snapshot_id: str) -> int:
    """Rows of ``tiers.customer_tier``, after making sure it holds ``snapshot_id`` only: a step
    that reads the run's tiers (KPIs, publish) must never pick up another run's."""
    ids, rows = wh.distinct_values(con, CUSTOMER_TIER, "snapshot_id")
    if not rows:
        raise TierTableError("tiers.customer_tier is empty: nothing to publish")
    if ids != [snapshot_id]:
        raise TierTableError(
            f"tiers.customer_tier holds snapshot(s) {', '.join(map(str, ids))}, not this run's "
            f"{snapshot_id}: the tier step of this run did not write it (run the tier step in "
            "the same run, or re-execute the run that did)"
        )
    return rows


def carried(column: str) -> bool:
    """Whether a column of ``scores.account_scores`` goes to ``tiers.customer_tier`` as it is,
    never read into Python: the scores' explanations and versions, which no tier rule reads.
    Texts in two languages are most of the table: a million accounts read in 19 s with them,
    in 1.2 s without (DuckDB makes a Python string of each value)."""
    return bool(re.fullmatch(r"(.+_)?reasons?(_zh)?|rules_version|model_version", column))


def read_scores(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """``scores.account_scores`` but its :func:`carried` columns, one row per account, ordered
    by id."""
    columns = [c for c in wh.table_columns(con, SCORES_TABLE) if not carried(c)]
    return wh.read_table(con, SCORES_TABLE, columns)


def previous_snapshot(serving_dir: Path, as_of: date) -> SnapshotInfo | None:
    """The published snapshot the run compares with: in force, latest date before ``as_of``."""
    return previous_in_force(serving_dir / "snapshots", as_of)


def read_state(
    con: duckdb.DuckDBPyConnection, serving_dir: Path, previous: SnapshotInfo | None
) -> pd.DataFrame:
    """The hysteresis state of ``previous`` (an empty state before the first snapshot)."""
    if previous is None:
        return empty_state()
    return read_snapshot(con, serving_dir, previous, STATE_COLUMNS)


def follow_merges(state: pd.DataFrame, redirects: pd.Series) -> pd.DataFrame:
    """The previous state with retired ids renamed to their survivors, so the survivor carries
    on the tier, its date and any pending downgrade instead of starting as a new account. Where
    several rows meet on one survivor, its own row wins, else the tier held longest."""
    if state.empty or redirects.empty:
        return state
    ids = state["golden_account_id"]
    out = state.assign(
        golden_account_id=ids.map(redirects).fillna(ids), _own=~ids.isin(redirects.index)
    )
    out = out.sort_values(
        ["golden_account_id", "_own", "tier_since"], ascending=[True, False, True]
    )
    return out.drop_duplicates("golden_account_id").drop(columns="_own").reset_index(drop=True)


def follow_identity_merges(con: duckdb.DuckDBPyConnection) -> pd.Series:
    """Re-key the ledger of ids retired by identity merges; return the redirects (retired ->
    survivor) for :func:`follow_merges` on the previous state."""
    redirects = merge_redirects(con)
    rekey_ledger(con, redirects)
    return redirects


def rekey_ledger(con: duckdb.DuckDBPyConnection, redirects: pd.Series) -> int:
    """Ledger events of retired ids re-keyed to their survivors (idempotent): the survivor's
    ledger holds the history of both. Returns the rows re-keyed."""
    if redirects.empty or not wh.table_exists(con, LEDGER):
        return 0
    return wh.rekey(con, LEDGER, "golden_account_id", redirects)


def write_outputs(con: duckdb.DuckDBPyConnection, out: TieringOutputs, as_of: date) -> None:
    """Write one run in a single transaction: current tiers replaced (contract columns cast,
    score columns after them as they are, the carried ones from scores.account_scores); this
    snapshot's ledger events, notices and migration matrix (re)written, other snapshots' rows
    kept."""
    matrix = out.migration.assign(as_of_date=pd.Timestamp(as_of), snapshot_id=out.snapshot_id)
    for table in ("tier_ledger", "downgrade_notices", "migration_matrix"):
        wh.create_table(con, f"tiers.{table}", contract(table))
    with wh.transaction(con):
        # the scores the tier step did not read (carried) joined back from their table
        wh.replace_table_joining(
            con, CUSTOMER_TIER, out.customer_tier, contract("customer_tier"), SCORES_TABLE
        )
        for table, rows in (
            ("tier_ledger", out.ledger),
            ("downgrade_notices", out.notices),
            ("migration_matrix", matrix),
        ):
            wh.replace_rows(
                con, f"tiers.{table}", rows, "snapshot_id", [out.snapshot_id], contract(table)
            )
