"""What-if: apply a proposed tier policy to current scores and show who would move.

    python -m pipelines.tiering.whatif --policy config/tiers/proposed.yaml
    python -m pipelines.tiering.whatif --policy proposed.yaml --snapshot 20250601-ab12cd34

Reads the warehouse read-only (``scores.account_scores`` + ``tiers.customer_tier``) or a
published snapshot Parquet (score columns + tier) and writes nothing. The proposed policy is
applied as on a first run (no hysteresis), which shows where the rules alone would put each
account; in production hysteresis then phases the moves in.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd

from pipelines import warehouse as wh
from pipelines.settings import get_paths
from pipelines.tiering.engine import assign_tiers
from pipelines.tiering.ledger import migration_pivot
from pipelines.tiering.policy import TierPolicy, load_policy

NONE = "(none)"  # accounts without a current tier


@dataclass(frozen=True)
class WhatIfReport:
    policy_version: str
    accounts: int
    moved: int
    matrix: pd.DataFrame  # from (current) × to (proposed) counts
    revenue_share: pd.DataFrame  # per tier: accounts and net_revenue_365d share, before/after
    movers: pd.DataFrame  # sample: golden_account_id, from_tier, to_tier, net_revenue_365d, reasons

    def format(self) -> str:
        """Plain-text report for the terminal."""
        pct = self.moved / self.accounts if self.accounts else 0.0
        share = self.revenue_share.copy()
        for col in ("revenue_share_before", "revenue_share_after"):
            share[col] = share[col].map(lambda v: f"{v:.1%}")
        lines = [
            f"What-if for policy {self.policy_version}",
            f"Accounts: {self.accounts:,}   moved: {self.moved:,} ({pct:.1%})",
            "",
            "Movement matrix (rows: current tier, columns: proposed tier)",
            self.matrix.to_string(),
            "",
            "Accounts and net revenue (365d) share per tier",
            share.to_string(index=False),
            "",
            f"Sample of movers (largest net revenue first, {len(self.movers)} shown)",
            self.movers.to_string(index=False) if len(self.movers) else "(nobody moves)",
        ]
        return "\n".join(lines)


def _revenue_share(
    before: np.ndarray, after: np.ndarray, revenue: np.ndarray, order: list[str]
) -> pd.DataFrame:
    """Accounts and net revenue (365d) share per tier, before and after."""
    total = revenue.sum()
    tiers = [c for c in order if c in set(before) | set(after)] + ([NONE] if NONE in before else [])
    rows = []
    for code in tiers:
        b, a = before == code, after == code
        rows.append(
            {
                "tier": code,
                "accounts_before": int(b.sum()),
                "accounts_after": int(a.sum()),
                "revenue_share_before": float(revenue[b].sum() / total) if total else 0.0,
                "revenue_share_after": float(revenue[a].sum() / total) if total else 0.0,
            }
        )
    return pd.DataFrame(rows)


def _movers(
    proposed: pd.DataFrame, before: np.ndarray, after: np.ndarray, revenue: np.ndarray, n: int
) -> pd.DataFrame:
    """The ``n`` movers with the largest net revenue, with the proposed policy's reasons."""
    moved = before != after
    movers = pd.DataFrame(
        {
            "golden_account_id": proposed["golden_account_id"].to_numpy(object)[moved],
            "from_tier": before[moved],
            "to_tier": after[moved],
            "net_revenue_365d": revenue[moved],
            **{
                c: proposed[c].to_numpy(object)[moved]
                for c in ("rule_fired", "reason_en", "reason_zh")
            },
        }
    )
    movers = movers.sort_values(["net_revenue_365d", "golden_account_id"], ascending=[False, True])
    return movers.head(n).reset_index(drop=True)


def simulate(
    scores: pd.DataFrame,
    current_tiers: pd.DataFrame,
    policy: TierPolicy,
    as_of: date,
    sample: int = 20,
) -> WhatIfReport:
    """Compare ``current_tiers`` (golden_account_id, tier) with ``policy`` applied to ``scores``
    as of ``as_of`` (the scores' own date: overrides expire relative to it)."""
    proposed = assign_tiers(scores, policy, as_of)
    current = (
        current_tiers[["golden_account_id", "tier"]]
        .drop_duplicates("golden_account_id")
        .set_index("golden_account_id")["tier"]
    )
    before = current.reindex(proposed["golden_account_id"]).fillna(NONE).to_numpy(object)
    after = proposed["tier"].to_numpy(object)
    revenue = (
        pd.to_numeric(scores["net_revenue_365d"], errors="coerce").fillna(0.0).to_numpy(float)
        if "net_revenue_365d" in scores.columns
        else np.zeros(len(scores))
    )
    long = (
        pd.DataFrame({"from_tier": before, "to_tier": after})
        .groupby(["from_tier", "to_tier"])
        .size()
        .rename("accounts")
        .reset_index()
    )
    current_codes = [c for c in pd.unique(current.astype(str)) if c not in policy.codes]
    order = policy.codes + sorted(current_codes)
    return WhatIfReport(
        policy_version=policy.policy_version,
        accounts=len(proposed),
        moved=int((before != after).sum()),
        matrix=migration_pivot(long, order),
        revenue_share=_revenue_share(before, after, revenue, order),
        movers=_movers(proposed, before, after, revenue, sample),
    )


def _read_current(path: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    with wh.connection(path, read_only=True) as con:
        scores = wh.read_table(con, "scores.account_scores")
        tiers = wh.read_table(con, "tiers.customer_tier", ["golden_account_id", "tier"])
    return scores, tiers


def _read_snapshot(snapshot_id: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    path = get_paths().snapshots_dir / snapshot_id / "customer_tier.parquet"
    if not path.exists():
        raise SystemExit(f"snapshot not found: {path}")
    frame = pd.read_parquet(path)
    return frame, frame[["golden_account_id", "tier"]]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m pipelines.tiering.whatif",
        description="Simulate a proposed tier policy against current tiers; writes nothing.",
    )
    parser.add_argument("--policy", required=True, type=Path, help="proposed policy YAML")
    source = parser.add_mutually_exclusive_group()
    source.add_argument(
        "--against", choices=["current"], default="current", help="compare with the warehouse"
    )
    source.add_argument("--snapshot", help="compare with a published snapshot id instead")
    parser.add_argument("--sample", type=int, default=20, help="movers to list")
    parser.add_argument("--warehouse", help="DuckDB file (default: settings)")
    args = parser.parse_args(argv)

    policy = load_policy(args.policy)
    if args.snapshot:
        scores, current = _read_snapshot(args.snapshot)
    else:
        scores, current = _read_current(args.warehouse or str(get_paths().warehouse))
    if "as_of_date" not in scores.columns or not len(scores):
        print("error: the scores carry no as_of_date; run the pipeline first", file=sys.stderr)
        return 2
    as_of = pd.Timestamp(scores["as_of_date"].iloc[0]).date()
    score_cols = [c for c in scores.columns if c != "tier"]
    report = simulate(scores[score_cols], current, policy, as_of=as_of, sample=args.sample)
    print(report.format())
    return 0


if __name__ == "__main__":
    sys.exit(main())
