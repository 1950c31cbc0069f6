"""The review queue and the pair table: scored pairs side by side, with evidence in words.

Only company-level attributes appear (name, credit code, province, city, industry, owner
team); contact people, emails and phone numbers never do.
"""

from __future__ import annotations

from datetime import date

import duckdb
import pandas as pd

from pipelines.identity.clustering import Clusters
from pipelines.identity.evidence import evidence_columns
from pipelines.identity.model import COMPARISONS

SIDE_COLUMNS = ["account_id", "account_name", "uscc", "province", "city", "industry", "owner_team"]


def _sides(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    # Company-level attributes only: no contact person, email or phone.
    return con.execute(
        "select account_id, account_name, coalesce(uscc, trim(uscc_raw)) as uscc, province, "
        "city, industry, owner_team from staging.stg_crm__accounts"
    ).df()


def build_pair_tables(
    con: duckdb.DuckDBPyConnection,
    scored: pd.DataFrame,
    clusters: Clusters,
    current: pd.DataFrame,
    model_json: dict,
    as_of: date,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(match_pairs, identity_review): every scored pair with its verdict, golden ids and
    evidence; the review queue: pairs left in different golden accounts that the model scored
    at or above the review threshold (or above the match threshold but kept apart by a
    constraint), strongest first."""
    verdict = clusters.verdicts.set_index(["account_id_l", "account_id_r"])["verdict"]
    pairs = scored.rename(columns={"unique_id_l": "account_id_l", "unique_id_r": "account_id_r"})
    pairs["verdict"] = verdict.reindex(
        pd.MultiIndex.from_frame(pairs[["account_id_l", "account_id_r"]])
    ).to_numpy()
    golden = current.set_index("account_id")["golden_account_id"]
    pairs["golden_account_id_l"] = golden.reindex(pairs["account_id_l"]).to_numpy()
    pairs["golden_account_id_r"] = golden.reindex(pairs["account_id_r"]).to_numpy()
    pairs = pd.concat([pairs, evidence_columns(pairs, model_json)], axis=1)
    pairs["as_of_date"] = pd.Timestamp(as_of)
    apart = pairs["golden_account_id_l"] != pairs["golden_account_id_r"]
    queue = pairs[apart & pairs["verdict"].isin(["below", "match", "ambiguous"])].copy()
    sides = _sides(con).set_index("account_id")
    for side in ("l", "r"):
        attrs = sides.reindex(queue[f"account_id_{side}"])
        for col in SIDE_COLUMNS[1:]:
            queue[f"{col}_{side}"] = attrs[col].to_numpy()
    queue["pair_id"] = queue["account_id_l"] + "|" + queue["account_id_r"]
    review = queue.sort_values(["match_probability", "pair_id"], ascending=[False, True])
    columns = (
        ["pair_id", "match_probability", "match_weight"]
        + [f"{c}_{s}" for s in ("l", "r") for c in ["golden_account_id", *SIDE_COLUMNS]]
        + ["evidence", *[f"evidence_{c}" for c in COMPARISONS], "as_of_date"]
    )
    weights = [f"mw_{c}" for c in COMPARISONS]
    kept = [
        "account_id_l",
        "account_id_r",
        "golden_account_id_l",
        "golden_account_id_r",
        "match_probability",
        "match_weight",
        *weights,
        "verdict",
        "evidence",
        "as_of_date",
    ]
    return pairs[kept].reset_index(drop=True), review[columns].reset_index(drop=True)
