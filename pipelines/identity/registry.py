"""Golden ids that never move: assigning this run's clusters to the ids issued before.

An id, once issued, is kept by the cluster holding most of the records that carried it (so it
survives the deletion of its anchor record and the late arrival of an older duplicate). When
one cluster holds records of several ids, the earliest-issued id survives and the others are
retired, pointing to it (a ``merged`` event). A cluster that wins no id gets a new one:
``G-`` + its earliest-created record, the format ids always had (a ``split`` event when its
records came from an id another cluster kept). Ids whose records are all gone become inactive
and come back if their records do. Pure pandas; writing is in ``store.py``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np
import pandas as pd

from pipelines.frames import isin

ACTIVE, RETIRED, INACTIVE = "active", "retired", "inactive"
REGISTRY_COLUMNS = ["golden_account_id", "status", "merged_into", "anchor_account_id", "issued_on"]
EVENT_COLUMNS = ["event_type", "golden_account_id", "other_golden_account_id", "rule", "records"]


@dataclass
class Assignment:
    records: pd.DataFrame  # account_id, golden_account_id, cluster
    registry: pd.DataFrame  # REGISTRY_COLUMNS, every id ever issued, statuses updated
    events: pd.DataFrame  # EVENT_COLUMNS: issued, merged, split, deactivated, reactivated


def resolve_redirects(registry: pd.DataFrame) -> pd.Series:
    """Retired id -> the active id it (transitively) points to."""
    retired = registry.loc[registry["status"] == RETIRED].set_index("golden_account_id")
    target = retired["merged_into"].copy()
    for _ in range(64):  # chains are short; bounded in case of a corrupted cycle
        nxt = target.map(target).fillna(target)
        if nxt.equals(target):
            break
        target = nxt
    return target


def _winners(members: pd.DataFrame) -> pd.DataFrame:
    """(prev_id, cluster) kept: the cluster holding most of the id's records (ties: smallest)."""
    claims = members.dropna(subset=["prev_id"]).groupby(["prev_id", "cluster"]).size()
    claims = claims.rename("n").reset_index()
    claims = claims.sort_values(["prev_id", "n", "cluster"], ascending=[True, False, True])
    return claims.drop_duplicates("prev_id")[["prev_id", "cluster"]]


def _mint(anchors: pd.Series, taken: set[str]) -> pd.Series:
    """'G-' + anchor record, with -2, -3... when that id was issued before (to another)."""
    out = {}
    for cluster, anchor in anchors.items():
        candidate, k = f"G-{anchor}", 1
        while candidate in taken:
            k += 1
            candidate = f"G-{anchor}-{k}"
        taken.add(candidate)
        out[cluster] = candidate
    return pd.Series(out, dtype=object)


def assign_golden_ids(
    clusters: pd.DataFrame,
    previous: pd.DataFrame,
    registry: pd.DataFrame,
    as_of: date,
    rules: pd.DataFrame | None = None,
) -> Assignment:
    """Golden id per record of ``clusters`` (account_id, cluster, created_at).

    ``previous``: account_id -> golden_account_id as last assigned; ``registry``: every issued
    id with REGISTRY_COLUMNS; ``rules``: optional (cluster, rule) naming why a cluster joined
    records, used on merge events (default ``probabilistic``).
    """
    redirects = resolve_redirects(registry)
    prev = previous.set_index("account_id")["golden_account_id"]
    prev = prev.map(redirects).fillna(prev)
    members = clusters.assign(prev_id=prev.reindex(clusters["account_id"]).to_numpy())
    won = _winners(members)
    info = registry.set_index("golden_account_id")
    won["issued_on"] = info["issued_on"].reindex(won["prev_id"]).to_numpy()
    won = won.sort_values(["cluster", "issued_on", "prev_id"])
    survivor = won.drop_duplicates("cluster").set_index("cluster")["prev_id"]
    merged = won[won["prev_id"].to_numpy() != survivor.reindex(won["cluster"]).to_numpy()]

    unclaimed = pd.Index(clusters["cluster"].unique()).difference(survivor.index)
    anchors = (
        members[isin(members["cluster"], unclaimed)]
        .sort_values(["created_at", "account_id"])
        .drop_duplicates("cluster")
        .set_index("cluster")["account_id"]
        .sort_index()
    )
    minted = _mint(anchors, set(registry["golden_account_id"]))
    ids = pd.concat([survivor, minted])
    records = clusters[["account_id", "cluster"]].assign(
        golden_account_id=ids.reindex(clusters["cluster"]).to_numpy()
    )
    events = _events(members, minted, merged, survivor, registry, rules)
    new_registry = _update_registry(registry, minted, anchors, merged, survivor, ids, as_of)
    return Assignment(records=records, registry=new_registry, events=events)


def _events(
    members: pd.DataFrame,
    minted: pd.Series,
    merged: pd.DataFrame,
    survivor: pd.Series,
    registry: pd.DataFrame,
    rules: pd.DataFrame | None,
) -> pd.DataFrame:
    size = members.groupby("cluster").size()
    rule = (
        rules.set_index("cluster")["rule"]
        if rules is not None and len(rules)
        else pd.Series(dtype=object)
    )
    # A new id whose records carried an id another cluster kept was split off it.
    lost = members.dropna(subset=["prev_id"])
    lost = lost[isin(lost["cluster"], minted.index)].drop_duplicates("cluster")
    split_from = lost.set_index("cluster")["prev_id"]
    issued = pd.DataFrame(
        {
            "event_type": np.where(minted.index.isin(split_from.index), "split", "issued"),
            "golden_account_id": minted.to_numpy(),
            "other_golden_account_id": split_from.reindex(minted.index).to_numpy(),
            "rule": np.where(
                minted.index.isin(split_from.index),
                rule.reindex(minted.index).fillna("probabilistic").to_numpy(),
                "new_company",
            ),
            "records": size.reindex(minted.index).to_numpy(),
        }
    )
    merges = pd.DataFrame(
        {
            "event_type": "merged",
            "golden_account_id": merged["prev_id"].to_numpy(),
            "other_golden_account_id": survivor.reindex(merged["cluster"]).to_numpy(),
            "rule": rule.reindex(merged["cluster"]).fillna("probabilistic").to_numpy(),
            "records": size.reindex(merged["cluster"]).to_numpy(),
        }
    )
    status = registry.set_index("golden_account_id")["status"]
    held = set(survivor)
    was_active = set(status.index[status == ACTIVE])
    gone = sorted(was_active - held - set(merged["prev_id"]))
    back = sorted(held & set(status.index[status == INACTIVE]))
    lifecycle = pd.DataFrame(
        {
            "event_type": ["deactivated"] * len(gone) + ["reactivated"] * len(back),
            "golden_account_id": gone + back,
            "other_golden_account_id": None,
            "rule": ["all records deleted"] * len(gone) + ["records back"] * len(back),
            "records": [0] * len(gone) + list(size.reindex(survivor[survivor.isin(back)].index)),
        }
    )
    frames = [f for f in (merges, issued, lifecycle) if len(f)]
    if not frames:
        return pd.DataFrame(columns=EVENT_COLUMNS)
    return pd.concat(frames, ignore_index=True)[EVENT_COLUMNS]


def _update_registry(
    registry: pd.DataFrame,
    minted: pd.Series,
    anchors: pd.Series,
    merged: pd.DataFrame,
    survivor: pd.Series,
    ids: pd.Series,
    as_of: date,
) -> pd.DataFrame:
    out = registry[REGISTRY_COLUMNS].copy().set_index("golden_account_id")
    active = out["status"] != RETIRED
    held_now = isin(out.index, ids)
    out.loc[active & held_now, "status"] = ACTIVE
    out.loc[active & ~held_now, "status"] = INACTIVE
    retire = merged.assign(into=survivor.reindex(merged["cluster"]).to_numpy())
    out.loc[retire["prev_id"], "status"] = RETIRED
    out.loc[retire["prev_id"], "merged_into"] = retire["into"].to_numpy()
    new = pd.DataFrame(
        {
            "status": ACTIVE,
            "merged_into": None,
            "anchor_account_id": anchors.reindex(minted.index).to_numpy(),
            "issued_on": pd.Timestamp(as_of),
        },
        index=pd.Index(minted.to_numpy(), name="golden_account_id"),
    )
    frames = [f for f in (out, new) if len(f)]
    combined = pd.concat(frames) if frames else new
    return combined.reset_index()[REGISTRY_COLUMNS]
