"""What the tier asset reports per run, so an analyst can plot and audit tiering history.

* ``accounts_<tier>`` and ``revenue_share_<tier>`` for every tier of the policy (ints and
  floats under stable keys: Dagster plots each over the partitions);
* ``movers``: the run's biggest tier changes — account id, from → to, change, rule, reason —
  as a table. Ids only: company and people names never go into Dagster metadata.

Plain functions over :class:`~pipelines.tiering.outputs.TieringOutputs`; no warehouse access.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from dagster import MetadataValue, TableColumn, TableRecord, TableSchema

from pipelines.tiering.outputs import TieringOutputs
from pipelines.tiering.policy import TierPolicy

TOP_MOVERS = 20
MOVES = ("promotion", "demotion", "override", "reclassified")
MOVERS_SCHEMA = TableSchema(
    columns=[
        TableColumn("golden_account_id", "string", description="Resolved customer"),
        TableColumn("move", "string", description="Tier before → tier after"),
        TableColumn("change_type", "string"),
        TableColumn("tiers_moved", "int", description="How many tiers the account moved"),
        TableColumn("net_revenue_365d", "float", description="Trailing 12-month net revenue, CNY"),
        TableColumn("rule_fired", "string", description="Policy rule that assigned the new tier"),
        TableColumn("reason_en", "string", description="Why, in plain words"),
    ]
)


def tier_share_metadata(summary: pd.DataFrame) -> dict[str, MetadataValue]:
    """``accounts_<tier>`` (int) and ``revenue_share_<tier>`` (float) from
    :func:`pipelines.tiering.outputs.tier_summary`."""
    metadata: dict[str, MetadataValue] = {}
    for row in summary.itertuples(index=False):
        metadata[f"accounts_{row.tier}"] = MetadataValue.int(int(row.accounts))
        metadata[f"revenue_share_{row.tier}"] = MetadataValue.float(float(row.revenue_share_365d))
    return metadata


def top_movers(out: TieringOutputs, policy: TierPolicy, limit: int = TOP_MOVERS) -> pd.DataFrame:
    """This run's tier changes (new accounts aside), biggest first: most tiers moved, then
    most trailing revenue, then account id (a stable order for equal moves)."""
    ledger = out.ledger[out.ledger["change_type"].isin(MOVES)]
    rank = {code: i for i, code in enumerate(policy.codes)}
    revenue = out.customer_tier.set_index("golden_account_id")["net_revenue_365d"]
    moved = (
        ledger["from_tier"].map(rank).astype(float) - ledger["to_tier"].map(rank).astype(float)
    ).abs()
    frame = pd.DataFrame(
        {
            "golden_account_id": ledger["golden_account_id"].astype(str),
            "move": ledger["from_tier"].astype(str) + " → " + ledger["to_tier"].astype(str),
            "change_type": ledger["change_type"],
            "tiers_moved": moved.fillna(0).astype(int),
            "net_revenue_365d": pd.to_numeric(
                ledger["golden_account_id"].map(revenue), errors="coerce"
            ).fillna(0.0),
            "rule_fired": ledger["rule_fired"].fillna(""),
            "reason_en": ledger["reason_en"].fillna(""),
        }
    )
    frame = frame.sort_values(
        ["tiers_moved", "net_revenue_365d", "golden_account_id"], ascending=[False, False, True]
    )
    return frame.head(limit).reset_index(drop=True)


def movers_metadata(out: TieringOutputs, policy: TierPolicy) -> dict[str, Any]:
    """The ``movers`` table and how many accounts changed tier (``movers_total``)."""
    movers = top_movers(out, policy)
    records = [
        TableRecord(
            {
                k: (round(float(v), 2) if isinstance(v, float | np.floating) else v)
                for k, v in row.items()
            }
        )
        for row in movers.astype(object).to_dict("records")
    ]
    total = int(out.ledger["change_type"].isin(MOVES).sum())
    return {
        "movers": MetadataValue.table(records=records, schema=MOVERS_SCHEMA),
        "movers_total": MetadataValue.int(total),
    }
