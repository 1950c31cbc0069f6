"""One matching run, end to end, without Dagster: features -> model -> clusters -> golden ids.

``match_accounts`` reads the staging models and the id registry from a warehouse connection and
returns everything the run produces; ``persist`` writes it (the registry only when no cluster
breaks a limit, so a blocked run leaves the ids as they were).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

import duckdb
import pandas as pd

from pipelines import warehouse as wh
from pipelines.frames import isin
from pipelines.identity.clustering import Clusters, cluster_records
from pipelines.identity.config import Decisions, IdentityConfig
from pipelines.identity.features import read_features
from pipelines.identity.model import ScoredPairs, train_and_predict
from pipelines.identity.registry import EVENT_COLUMNS, Assignment, assign_golden_ids
from pipelines.identity.review import build_pair_tables
from pipelines.identity.store import (
    applied_decision_ids,
    read_registry,
    write_registry,
    write_run_outputs,
    write_state,
)

_CLUSTER_COLUMNS = ["unique_id", "uscc", "uscc_any", "city", "is_branch", "created_at"]


@dataclass
class MatchOutcome:
    current: pd.DataFrame  # account_id, golden_account_id, match_rule, cluster_size, is_anchor
    assignment: Assignment
    clusters: Clusters
    match_pairs: pd.DataFrame
    review: pd.DataFrame
    violations: pd.DataFrame
    new_decisions: pd.DataFrame
    model_json: dict
    stats: dict[str, float] = field(default_factory=dict)


def cluster_rules(clusters: Clusters) -> pd.DataFrame:
    """Why each cluster holds its records, for merge and split events: a decision first, then
    the credit code, then the model."""
    cluster_of = clusters.records.set_index("account_id")["cluster"]
    edges = clusters.edges.assign(
        cluster=cluster_of.reindex(clusters.edges["account_id_l"]).to_numpy()
    )
    edges = edges[
        edges["cluster"].to_numpy() == cluster_of.reindex(edges["account_id_r"]).to_numpy()
    ]
    cannot = clusters.decision_pairs[clusters.decision_pairs["decision"] == "cannot_link"]
    split = pd.concat(
        [cannot[["account_id_l", "decision_id"]].set_axis(["account_id", "decision_id"], axis=1),
         cannot[["account_id_r", "decision_id"]].set_axis(["account_id", "decision_id"], axis=1)]
    )  # fmt: skip
    split = split.assign(
        cluster=cluster_of.reindex(split["account_id"]).to_numpy(),
        rule="cannot_link:" + split["decision_id"],
    )
    rank = {"must_link": 0, "cannot_link": 1, "uscc": 2}
    both = pd.concat([edges[["cluster", "rule"]], split[["cluster", "rule"]]], ignore_index=True)
    both["rank"] = both["rule"].str.split(":").str[0].map(rank).fillna(3)
    return both.sort_values(["cluster", "rank", "rule"]).drop_duplicates("cluster")[
        ["cluster", "rule"]
    ]


def _current_map(
    clusters: Clusters, assignment: Assignment, features: pd.DataFrame
) -> pd.DataFrame:
    records = clusters.records.merge(
        assignment.records[["account_id", "golden_account_id"]], on="account_id"
    )
    records["cluster_size"] = records.groupby("golden_account_id")["account_id"].transform("size")
    created = features.set_index("unique_id")["created_at"]
    records["created_at"] = created.reindex(records["account_id"]).to_numpy()
    anchor = records.sort_values(["created_at", "account_id"]).drop_duplicates("golden_account_id")
    records["is_anchor"] = isin(records["account_id"], anchor["account_id"])
    cols = ["account_id", "golden_account_id", "match_rule", "cluster_size", "is_anchor"]
    return records.sort_values("account_id")[cols].reset_index(drop=True)


def find_violations(
    current: pd.DataFrame, features: pd.DataFrame, names: pd.Series, limit: int
) -> pd.DataFrame:
    """Golden accounts holding more records than ``limit`` or two different valid codes."""
    frame = current.merge(
        features[["unique_id", "uscc"]], left_on="account_id", right_on="unique_id"
    )
    per = frame.groupby("golden_account_id").agg(
        records=("account_id", "size"), usccs=("uscc", "nunique")
    )
    bad = per[(per["records"] > limit) | (per["usccs"] > 1)].copy()
    bad["reason"] = [
        f"holds {r} CRM records (limit {limit})"
        if r > limit
        else f"holds {u} different valid credit codes"
        for r, u in zip(bad["records"], bad["usccs"], strict=True)
    ]
    sample = frame[frame["golden_account_id"].isin(bad.index)].sort_values("account_id")
    sample = sample.assign(name=names.reindex(sample["account_id"]).to_numpy())
    firsts = sample.groupby("golden_account_id").head(3).groupby("golden_account_id")
    bad["sample_records"] = firsts["account_id"].agg(", ".join)
    bad["sample_names"] = firsts["name"].agg(lambda s: " / ".join(s.fillna("?").astype(str)))
    return bad.reset_index()[
        ["golden_account_id", "records", "usccs", "reason", "sample_records", "sample_names"]
    ]


def decision_events(
    decisions: Decisions, applied: set[str], current: pd.DataFrame, previous: pd.DataFrame
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """An event per decision applied for the first time (who, when, and the records' golden
    ids before it applied), and the rows for ``identity.applied_decisions``."""
    before = previous.set_index("account_id")["golden_account_id"]
    now = current.set_index("account_id")["golden_account_id"]
    golden = pd.concat([before, now[~isin(now.index, before.index)]])
    rows = []
    for d in decisions.decisions:
        if d.id in applied:
            continue
        ids = [golden.get(a) for a in d.account_ids]
        present = sorted({i for i in ids if i is not None})
        rows.append(
            {
                "event_type": "decision_applied",
                "golden_account_id": present[0] if present else None,
                "other_golden_account_id": present[1] if len(present) > 1 else None,
                "rule": d.decision,
                "records": len(d.account_ids),
                "decision_id": d.id,
                "decided_by": d.decided_by,
                "decided_at": pd.Timestamp(d.decided_at),
            }
        )
    events = pd.DataFrame(rows, columns=[*EVENT_COLUMNS, "decision_id", "decided_by", "decided_at"])
    applied_rows = pd.DataFrame({"decision_id": events["decision_id"], "decision": events["rule"]})
    return events, applied_rows


def _stats(
    current: pd.DataFrame,
    scored: ScoredPairs,
    clusters: Clusters,
    review: pd.DataFrame,
    events: pd.DataFrame,
) -> dict:
    """The run's ``match_stats``: sizes, the model's prior, how it was trained and where."""
    return {
        "records": len(current),
        "golden_accounts": int(current["golden_account_id"].nunique()),
        "scored_pairs": len(scored.pairs),
        "review_pairs": len(review),
        "probability_two_random_records_match": scored.lambda_,
        "em_passes": ", ".join(scored.em_passes) or "none (priors)",
        "splink_backend": scored.backend,
        "u_records": scored.u_records,
        **{f"em_records_{k}": v for k, v in scored.em_records.items()},
        "splink_seconds": round(scored.seconds, 1),
        **{f"pairs_{k}": int(v) for k, v in clusters.stats.items()},
        **{f"events_{k}": int(v) for k, v in events["event_type"].value_counts().items()},
    }


def match_accounts(
    con: duckdb.DuckDBPyConnection,
    config: IdentityConfig,
    decisions: Decisions,
    as_of: date,
    engine: str = "duckdb",
) -> MatchOutcome:
    """Resolve every current CRM account record to a golden id (reads only). The features,
    clusters and golden ids are computed here (per record, per scored pair); the pairwise
    blocking, training and scoring run on Splink's backend for ``engine``."""
    features = read_features(con, config.personal_email_domains)
    small = features.select(_CLUSTER_COLUMNS).to_pandas()
    scored = train_and_predict(features, config, engine)
    del features
    clusters = cluster_records(
        small, scored.pairs, decisions, config.thresholds.match, config.ambiguity_margin_bits
    )
    previous, registry = read_registry(con)
    created = small[["unique_id", "created_at"]].rename(columns={"unique_id": "account_id"})
    assignment = assign_golden_ids(
        clusters.records[["account_id", "cluster"]].merge(created, on="account_id"),
        previous,
        registry,
        as_of,
        rules=cluster_rules(clusters),
    )
    current = _current_map(clusters, assignment, small)
    names = con.execute("select account_id, account_name from staging.stg_crm__accounts").df()
    violations = find_violations(
        current,
        small,
        names.set_index("account_id")["account_name"],
        config.max_records_per_golden_account,
    )
    match_pairs, review = build_pair_tables(
        con, scored.pairs, clusters, current, scored.model_json, as_of
    )
    new_events, new_decisions = decision_events(
        decisions, applied_decision_ids(con), current, previous
    )
    events = pd.concat(
        [assignment.events.assign(decision_id=None, decided_by=None, decided_at=None), new_events],
        ignore_index=True,
    )
    assignment.events = events
    return MatchOutcome(
        current=current,
        assignment=assignment,
        clusters=clusters,
        match_pairs=match_pairs,
        review=review,
        violations=violations,
        new_decisions=new_decisions,
        model_json=scored.model_json,
        stats=_stats(current, scored, clusters, review, events),
    )


def persist(
    con: duckdb.DuckDBPyConnection,
    outcome: MatchOutcome,
    as_of: date,
    run_id: str,
    fingerprint: str | None = None,
) -> bool:
    """Write the run's tables; the registry, the current map and the inputs' ``fingerprint``
    (``match_state``) only without violations. Returns whether the registry was written. One
    transaction: a run killed while writing leaves the previous run's tables whole, never a
    mix of both."""
    written = not len(outcome.violations)
    with wh.transaction(con):
        write_run_outputs(con, outcome.match_pairs, outcome.review, outcome.violations)
        if written:
            write_registry(
                con,
                outcome.current,
                outcome.assignment.registry,
                outcome.assignment.events,
                outcome.new_decisions,
                as_of,
                run_id,
            )
            write_state(con, fingerprint, as_of, run_id, outcome.stats)
    return written
