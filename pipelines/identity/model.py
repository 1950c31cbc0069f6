"""The Splink model: comparisons, blocking rules, training and scoring of record pairs.

Backend-neutral by construction: every comparison level is a Splink library level (exact,
Jaro-Winkler, Levenshtein, array intersection, null) and every blocking rule a plain equi-join
(``block_on``), so the same settings run on DuckDB (the ``duckdb`` engine) and on Spark (the
``spark`` engine; :mod:`pipelines.identity.backends`) and give the same pairs and weights.
Parameters are estimated from the data (u over every pair of a record sample drawn by a fixed
seed, m by EM on two blocking passes; :mod:`pipelines.identity.training`) starting from the
priors below; the same input gives the same model on either backend. A pass with no record
pair to learn from (a retail book where no two records share a name core, or no record has a
credit code) is skipped and its comparisons keep the priors; the matching asset's
``match_stats`` name the passes that ran (``em_passes``) and the backend (``splink_backend``).
Below ``training.min_records`` records the estimates would be noise, so the priors are used as
they are (the prior match rate still comes from the records sharing a credit code).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field

import pandas as pd
import pyarrow as pa
import splink.comparison_level_library as cll
import splink.comparison_library as cl
from splink import SettingsCreator, block_on

from pipelines.identity.backends import splink_backend
from pipelines.identity.config import IdentityConfig
from pipelines.identity.training import PRIOR_LAMBDA, train

# (comparison, column) pairs whose evidence is written per pair; the order is the model's.
COMPARISONS = ("name", "uscc", "city", "phone", "email_domain")

EVIDENCE_LABELS = {
    "name": ["name missing", "same name, carried by many records", "same full name", "same name without region and legal form",
             "name nearly the same (Jaro-Winkler >= 0.88)", "name similar (Jaro-Winkler >= 0.8)",
             "names share 2+ character bigrams", "names differ"],
    "uscc": ["credit code missing", "same credit code", "credit code one character off (mistyped)",
             "two different valid credit codes", "credit codes differ"],
    "city": ["city missing", "same city", "same province, other city", "other province"],
    "phone": ["no phone in common (no evidence)", "2+ contact phone numbers in common",
              "a contact phone number in common"],
    "email_domain": ["no company email domain on one side", "company email domain in common",
                     "no email domain in common"],
}  # fmt: skip


def _name(common_name_records: int) -> cl.CustomComparison:
    # A name carried by many records (a placeholder such as 未知客户, or one short name in many
    # cities) is its own, weaker level: its weight is estimated like every other level's.
    common = cll.And(
        cll.ExactMatchLevel("name_core"),
        cll.CustomLevel(f"name_records_l > {common_name_records}"),
    )
    # Jaro-Winkler on 2-3 characters is noise (循环甲 / 循环乙 are two companies).
    long_enough = cll.CustomLevel("length(name_core_l) >= 4 and length(name_core_r) >= 4")
    return cl.CustomComparison(
        output_column_name="name",
        comparison_levels=[
            cll.NullLevel("name_core"),
            common.configure(
                m_probability=0.01, u_probability=1e-6, label_for_charts="same common name"
            ),
            cll.ExactMatchLevel("name_key").configure(m_probability=0.55, u_probability=2e-6),
            cll.ExactMatchLevel("name_core").configure(m_probability=0.25, u_probability=2e-6),
            cll.And(cll.JaroWinklerLevel("name_core", 0.88), long_enough).configure(
                m_probability=0.09, u_probability=4e-4
            ),
            cll.And(cll.JaroWinklerLevel("name_core", 0.8), long_enough).configure(
                m_probability=0.06, u_probability=3.5e-3
            ),
            cll.ArrayIntersectLevel("name_bigrams", 2).configure(
                m_probability=0.03, u_probability=1e-2
            ),
            cll.ElseLevel().configure(m_probability=0.02, u_probability=0.986),
        ],
    )


def _uscc() -> cl.CustomComparison:
    both_valid = cll.And(
        cll.CustomLevel("uscc_l is not null"), cll.CustomLevel("uscc_r is not null")
    )
    return cl.CustomComparison(
        output_column_name="uscc",
        comparison_levels=[
            cll.NullLevel("uscc_any"),
            cll.ExactMatchLevel("uscc_any").configure(m_probability=0.9, u_probability=1e-7),
            cll.And(cll.LevenshteinLevel("uscc_any", 1), cll.Not(both_valid)).configure(
                m_probability=0.05, u_probability=1e-7
            ),
            # prior knowledge, not learned: the register issues one code per company, and EM
            # would otherwise learn look-alikes (branches, namesakes) as "matches"
            both_valid.configure(m_probability=0.001, u_probability=0.98, fix_m_probability=True),
            cll.ElseLevel().configure(m_probability=0.049, u_probability=0.02),
        ],
    )


def _city() -> cl.CustomComparison:
    return cl.CustomComparison(
        output_column_name="city",
        comparison_levels=[
            cll.NullLevel("city"),
            cll.ExactMatchLevel("city").configure(m_probability=0.97, u_probability=0.06),
            cll.ExactMatchLevel("province").configure(m_probability=0.02, u_probability=0.06),
            cll.ElseLevel().configure(
                m_probability=0.01, u_probability=0.88, fix_m_probability=True
            ),
        ],
    )


def _phone() -> cl.CustomComparison:
    # Different contact people have different phones: no phone in common says nothing (a null
    # level, weight 0); one or more numbers in common is evidence.
    nothing_shared = cll.Or(cll.NullLevel("phones"), cll.Not(cll.ArrayIntersectLevel("phones", 1)))
    return cl.CustomComparison(
        output_column_name="phone",
        comparison_levels=[
            nothing_shared.configure(is_null_level=True),
            # u is fixed: two unrelated records sharing a number (an agency's) is too rare for
            # random sampling to observe; m is estimated
            cll.ArrayIntersectLevel("phones", 2).configure(
                m_probability=0.3, u_probability=1e-6, fix_u_probability=True
            ),
            cll.ArrayIntersectLevel("phones", 1).configure(
                m_probability=0.7, u_probability=1e-5, fix_u_probability=True
            ),
        ],
    )


def _email_domain() -> cl.CustomComparison:
    # A company has one email domain: none in common is (weak) evidence against.
    return cl.CustomComparison(
        output_column_name="email_domain",
        comparison_levels=[
            cll.NullLevel("email_domains"),
            cll.ArrayIntersectLevel("email_domains", 1).configure(
                m_probability=0.9, u_probability=2e-4
            ),
            # fixed, or EM drives it to 0 (minus infinity) on data where no duplicate happens
            # to show two domains: a renamed company or a group mail domain does
            cll.ElseLevel().configure(
                m_probability=0.05, u_probability=0.9998, fix_m_probability=True
            ),
        ],
    )


# Pairs scored: same name core; a credit code equal in two of its three six-character thirds
# (a code one character off, a typo, agrees in the other two: the pigeonhole); same city and a
# name agreeing in all but one of its first three characters. Thirds, not halves: a code's first
# half is mostly its region and type (the generator's million records share a first half in
# 44 M pairs, 85% of all pairs scored, against 0.2 M sharing two thirds; the same pairs above
# the review threshold either way).
PREDICTION_BLOCKING = [
    block_on("name_core"),
    block_on("substr(uscc_any, 1, 12)"),
    block_on("substr(uscc_any, 1, 6)", "substr(uscc_any, 13, 6)"),
    block_on("substr(uscc_any, 7, 12)"),
    block_on("city", "substr(name_core, 1, 2)"),
    block_on("city", "substr(name_core, 2, 3)"),
    block_on("city", "substr(name_core, 1, 1)", "substr(name_core, 3, 3)"),
]


def settings(config: IdentityConfig) -> SettingsCreator:
    """The Splink settings (deduplication of one table of records)."""
    return SettingsCreator(
        link_type="dedupe_only",
        unique_id_column_name="unique_id",
        comparisons=[
            _name(config.common_name_records),
            _uscc(),
            _city(),
            _phone(),
            _email_domain(),
        ],
        blocking_rules_to_generate_predictions=PREDICTION_BLOCKING,
        probability_two_random_records_match=PRIOR_LAMBDA,
        retain_intermediate_calculation_columns=True,
        retain_matching_columns=False,
    )


# The feature columns the model reads: the rest of a record's features stay outside Splink.
MODEL_COLUMNS = [
    "unique_id", "name_key", "name_core", "name_bigrams", "name_records", "uscc", "uscc_any",
    "province", "city", "phones", "email_domains",
]  # fmt: skip


@dataclass
class ScoredPairs:
    """Scored pairs at or above the review threshold, and the trained model's parameters."""

    pairs: pd.DataFrame  # unique_id_l, unique_id_r, match_weight, match_probability, mw_*
    model_json: dict
    lambda_: float
    trained: bool  # False: too few records to estimate, the priors were used
    # EM passes (training blocking rules) that ran; a pass that finds no record pair (a book
    # where no two records share a name core, or none has a credit code) leaves its
    # comparisons at the priors
    em_passes: list[str]
    backend: str = "duckdb"  # where Splink ran: duckdb or spark
    u_records: int = 0  # records whose pairs gave u (0: not trained)
    em_records: dict[str, int] = field(default_factory=dict)  # EM passes run on a sample
    seconds: float = 0.0  # training and scoring, wall time


def train_and_predict(
    features: pa.Table, config: IdentityConfig, engine: str = "duckdb"
) -> ScoredPairs:
    """Estimate the model on ``features`` and score the blocked pairs (p >= review threshold),
    with Splink on the ``engine``'s backend (:mod:`pipelines.identity.backends`)."""
    logging.getLogger("splink").setLevel(logging.WARNING)
    records = features.select(MODEL_COLUMNS)
    started = time.perf_counter()
    with splink_backend(engine, config) as backend:
        model = train(backend, records, settings(config), config.training)
        predicted = model.linker.inference.predict(
            threshold_match_probability=config.thresholds.review, warning_mode="never"
        )
        weights = ", ".join(f"mw_{c}" for c in COMPARISONS)
        pairs = backend.to_arrow(
            f"select unique_id_l, unique_id_r, match_weight, match_probability, {weights} "
            f"from {predicted.physical_name} order by unique_id_l, unique_id_r"
        ).to_pandas()
        model_json = model.linker.misc.save_model_to_json()
    return ScoredPairs(
        pairs=pairs,
        model_json=model_json,
        lambda_=model.lambda_,
        trained=model.trained,
        em_passes=model.em_passes,
        backend=backend.name,
        u_records=model.u_records,
        em_records=model.em_records,
        seconds=time.perf_counter() - started,
    )
