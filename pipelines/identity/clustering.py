"""From scored pairs to clusters of records: deterministic rules, decisions, constraints.

Rules (in this order of authority):

1. records with the same valid credit code (USCC) are one company;
2. a reviewer's ``must_link`` joins records, a ``cannot_link`` keeps them apart;
3. a scored pair at or above the match threshold joins records, unless it is forbidden:
   two different valid credit codes; a branch office (分公司) and a non-branch; two known,
   different cities without credit-code evidence (same short name in another city is another
   company).

Union-find over all allowed edges gives components; only components that would break a
constraint through transitivity (two valid codes, a cannot-link pair, two cities) are rebuilt
greedily, strongest edge first, refusing merges that break one. Everything is ordered, so the
same input always gives the same clusters.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from itertools import combinations

import numpy as np
import pandas as pd
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from pipelines import warehouse as wh
from pipelines.identity.config import Decisions

FORCED = 2.0  # probability given to deterministic and must-link edges (sorts them first)


@dataclass
class Clusters:
    """Cluster label (smallest member account_id) and match rule per record."""

    records: pd.DataFrame  # account_id, cluster, match_rule
    edges: pd.DataFrame  # account_id_l, account_id_r, probability, rule, uscc_evidence
    decision_pairs: pd.DataFrame  # account_id_l, account_id_r, decision, decision_id
    verdicts: pd.DataFrame  # account_id_l, account_id_r, probability, verdict
    stats: dict[str, int] = field(default_factory=dict)


def decision_pairs(decisions: Decisions, known: set[str]) -> pd.DataFrame:
    """Every pair of records named together in a decision (both still present)."""
    rows = []
    for d in decisions.decisions:
        ids = sorted(i for i in d.account_ids if i in known)
        for a, b in combinations(ids, 2):
            rows.append((a, b, d.decision, d.id))
    return pd.DataFrame(rows, columns=["account_id_l", "account_id_r", "decision", "decision_id"])


def classify_pairs(
    features: pd.DataFrame, pairs: pd.DataFrame, decided: pd.DataFrame, match: float
) -> pd.DataFrame:
    """Each scored pair with its verdict: ``match``, a ``conflict_*`` reason, or ``below``."""
    con = wh.connect(":memory:")
    try:
        con.register("f", features[["unique_id", "uscc", "uscc_any", "city", "is_branch"]])
        con.register(
            "p", pairs[["unique_id_l", "unique_id_r", "match_probability", "match_weight"]]
        )
        con.register("d", decided)
        return con.execute(
            f"""
            select
                p.unique_id_l as account_id_l,
                p.unique_id_r as account_id_r,
                p.match_probability as probability,
                p.match_weight,
                coalesce(l.uscc_any = r.uscc_any or levenshtein(l.uscc_any, r.uscc_any) <= 1,
                         false) as uscc_evidence,
                case
                    when d.decision = 'cannot_link' then 'cannot_link'
                    when l.uscc <> r.uscc then 'conflict_uscc'
                    when l.is_branch <> r.is_branch then 'conflict_branch'
                    when l.city <> r.city
                        and not coalesce(l.uscc_any = r.uscc_any
                                         or levenshtein(l.uscc_any, r.uscc_any) <= 1, false)
                        then 'conflict_city'
                    when p.match_probability >= {match} then 'match'
                    else 'below'
                end as verdict
            from p
            inner join f as l on p.unique_id_l = l.unique_id
            inner join f as r on p.unique_id_r = r.unique_id
            left join d
                on p.unique_id_l = d.account_id_l and p.unique_id_r = d.account_id_r
            order by account_id_l, account_id_r
            """
        ).df()
    finally:
        con.close()


def _mark_ambiguous(features: pd.DataFrame, verdicts: pd.DataFrame, margin: float) -> pd.DataFrame:
    """A record without a valid code that matches records of two different valid codes could
    be either company. Its matches to the weaker code(s) are dropped when the best code wins by
    ``margin`` bits of match weight; otherwise all its matches to coded records are dropped
    (``ambiguous``: left apart, sent to review)."""
    uscc = features.set_index("unique_id")["uscc"]
    m = verdicts[verdicts["verdict"] == "match"]
    ends = pd.concat(
        [pd.DataFrame({"record": m["account_id_l"], "other": m["account_id_r"], "pair": m.index,
                       "weight": m["match_weight"]}),
         pd.DataFrame({"record": m["account_id_r"], "other": m["account_id_l"], "pair": m.index,
                       "weight": m["match_weight"]})]
    )  # fmt: skip
    ends = ends[uscc.reindex(ends["record"]).isna().to_numpy()]
    ends["code"] = uscc.reindex(ends["other"]).to_numpy()
    ends = ends.dropna(subset=["code"])
    per_code = ends.groupby(["record", "code"])["weight"].max().rename("best").reset_index()
    per_code = per_code.sort_values(["record", "best", "code"], ascending=[True, False, True])
    per_code["rank"] = per_code.groupby("record").cumcount()
    contested = (
        per_code.groupby("record").filter(lambda g: len(g) > 1) if len(per_code) else per_code
    )
    if contested.empty:
        return verdicts
    top = contested[contested["rank"] == 0].set_index("record")["best"]
    second = contested[contested["rank"] == 1].set_index("record")["best"]
    clear = (top - second.reindex(top.index)) >= margin
    winner = contested[contested["rank"] == 0].set_index("record")["code"]
    ends = ends[ends["record"].isin(top.index)]
    lose = ~clear.reindex(ends["record"]).to_numpy() | (
        ends["code"].to_numpy() != winner.reindex(ends["record"]).to_numpy()
    )
    hit = ends.loc[lose, "pair"].unique()
    out = verdicts.copy()
    out.loc[hit, "verdict"] = "ambiguous"
    return out


def _forced_edges(features: pd.DataFrame, decided: pd.DataFrame) -> pd.DataFrame:
    """Same valid USCC (a chain per code) and must-link pairs."""
    coded = features.loc[features["uscc"].notna(), ["uscc", "unique_id"]].sort_values(
        ["uscc", "unique_id"]
    )
    same = coded["uscc"].to_numpy()[1:] == coded["uscc"].to_numpy()[:-1]
    ids = coded["unique_id"].to_numpy()
    uscc = pd.DataFrame({"account_id_l": ids[:-1][same], "account_id_r": ids[1:][same]})
    uscc["rule"] = "uscc"
    must = decided.loc[decided["decision"] == "must_link", ["account_id_l", "account_id_r"]]
    must = must.assign(rule="must_link:" + decided.loc[must.index, "decision_id"])
    out = pd.concat([uscc, must], ignore_index=True)
    out["probability"] = FORCED
    out["uscc_evidence"] = out["rule"] == "uscc"
    return out


def _components(ids: pd.Index, edges: pd.DataFrame) -> np.ndarray:
    n = len(ids)
    left = ids.get_indexer(edges["account_id_l"])
    right = ids.get_indexer(edges["account_id_r"])
    graph = coo_matrix((np.ones(len(edges)), (left, right)), shape=(n, n))
    return connected_components(graph, directed=False)[1]


def cluster_records(
    features: pd.DataFrame,
    pairs: pd.DataFrame,
    decisions: Decisions,
    match: float,
    ambiguity_margin: float = 5.0,
) -> Clusters:
    """Clusters of records (see module docstring); ``features`` needs unique_id, uscc,
    uscc_any, city, is_branch; ``pairs`` unique_id_l/_r and match_probability."""
    features = features.sort_values("unique_id").reset_index(drop=True)
    ids = pd.Index(features["unique_id"])
    decided = decision_pairs(decisions, set(ids))
    verdicts = classify_pairs(features, pairs, decided, match)
    verdicts = _mark_ambiguous(features, verdicts, ambiguity_margin)
    matched = verdicts.loc[verdicts["verdict"] == "match"].assign(rule="probabilistic")
    edges = pd.concat(
        [_forced_edges(features, decided), matched.drop(columns=["verdict", "match_weight"])],
        ignore_index=True,
    )
    edges = edges.sort_values(
        ["probability", "account_id_l", "account_id_r"], ascending=[False, True, True]
    ).reset_index(drop=True)
    label = _components(ids, edges)
    bad = _conflicting_components(features, label, decided)
    if len(bad):
        label = _rebuild_with_constraints(features, label, bad, edges, decided)
    records = _label_records(features, label, edges)
    stats = verdicts["verdict"].value_counts().to_dict()
    stats["components_rebuilt"] = int(len(bad))
    return Clusters(
        records=records, edges=edges, decision_pairs=decided, verdicts=verdicts, stats=stats
    )


def _conflicting_components(
    features: pd.DataFrame, label: np.ndarray, decided: pd.DataFrame
) -> np.ndarray:
    frame = pd.DataFrame({"label": label, "uscc": features["uscc"], "city": features["city"]})
    per = frame.groupby("label").agg(usccs=("uscc", "nunique"), cities=("city", "nunique"))
    bad = set(per.index[(per["usccs"] > 1) | (per["cities"] > 1)])
    if len(decided):
        pos = pd.Index(features["unique_id"])
        cannot = decided[decided["decision"] == "cannot_link"]
        l_lab = label[pos.get_indexer(cannot["account_id_l"])]
        r_lab = label[pos.get_indexer(cannot["account_id_r"])]
        bad |= set(l_lab[l_lab == r_lab])
    return np.array(sorted(bad), dtype=np.int64)


def _rebuild_with_constraints(
    features: pd.DataFrame,
    label: np.ndarray,
    bad: np.ndarray,
    edges: pd.DataFrame,
    decided: pd.DataFrame,
) -> np.ndarray:
    """Greedy constrained union within the conflicting components (few records)."""
    pos = {a: i for i, a in enumerate(features["unique_id"])}
    in_bad = np.isin(label, bad)
    members = np.flatnonzero(in_bad)
    parent = {i: i for i in members}
    uscc = {i: {features["uscc"].iat[i]} - {None, np.nan} for i in members}
    city = {i: {features["city"].iat[i]} - {None, np.nan} for i in members}
    group = {i: {i} for i in members}
    cannot = {
        (pos[a], pos[b])
        for a, b, d in decided[["account_id_l", "account_id_r", "decision"]].itertuples(index=False)
        if d == "cannot_link"
    }

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    sub = edges[edges["account_id_l"].map(lambda a: in_bad[pos[a]])]
    for a, b, rule, evidence in sub[
        ["account_id_l", "account_id_r", "rule", "uscc_evidence"]
    ].itertuples(index=False):
        ra, rb = find(pos[a]), find(pos[b])
        if ra == rb:
            continue
        forced = rule != "probabilistic"
        if not forced:
            if uscc[ra] and uscc[rb] and uscc[ra] != uscc[rb]:
                continue
            if city[ra] and city[rb] and not (city[ra] & city[rb]) and not evidence:
                continue
            if any((min(x, y), max(x, y)) in cannot for x in group[ra] for y in group[rb]):
                continue
        keep, drop = min(ra, rb), max(ra, rb)
        parent[drop] = keep
        uscc[keep] |= uscc.pop(drop)
        city[keep] |= city.pop(drop)
        group[keep] |= group.pop(drop)
    out = label.copy()
    offset = label.max() + 1
    for i in members:
        out[i] = offset + find(i)
    return out


def _label_records(features: pd.DataFrame, label: np.ndarray, edges: pd.DataFrame) -> pd.DataFrame:
    frame = pd.DataFrame({"account_id": features["unique_id"], "label": label})
    frame["cluster"] = frame.groupby("label")["account_id"].transform("min")
    size = frame.groupby("label")["account_id"].transform("size")
    same = frame.set_index("account_id")["cluster"]
    inside = edges[
        same.reindex(edges["account_id_l"]).to_numpy()
        == same.reindex(edges["account_id_r"]).to_numpy()
    ]
    ends = pd.concat(
        [inside[["account_id_l", "rule"]].set_axis(["account_id", "rule"], axis=1),
         inside[["account_id_r", "rule"]].set_axis(["account_id", "rule"], axis=1)]
    )  # fmt: skip
    # Strongest rule a record was joined by: a decision, then the credit code, then the model.
    ends["rank"] = np.select(
        [ends["rule"].str.startswith("must_link"), ends["rule"] == "uscc"], [0, 1], default=2
    )
    best = ends.sort_values(["account_id", "rank"]).drop_duplicates("account_id")
    rule = best.set_index("account_id")["rule"].str.replace(r":.*$", "", regex=True)
    frame["match_rule"] = rule.reindex(frame["account_id"]).to_numpy()
    frame["match_rule"] = frame["match_rule"].where(size > 1, "singleton").fillna("probabilistic")
    return frame[["account_id", "cluster", "match_rule"]]
