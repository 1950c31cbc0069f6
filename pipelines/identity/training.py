"""Training the Splink model the same way on every backend.

Splink samples records by a hash of their ids, and each backend hashes differently (DuckDB's
``hash``, Spark's Murmur3), so when its samples are left to Splink the same records give a
different model on DuckDB and on Spark. Here every sample is drawn before Splink sees the
records, by a stable hash of (seed, record id) computed in pandas (:func:`sample_records`),
and Splink is asked for counts over every pair it is given:

- the prior match rate from the records sharing a credit code (exact counts);
- u from every pair of a record sample: all records when their pairs fit under
  ``u_max_pairs``, otherwise the first records in hash order, as many as give that many pairs;
- m by EM on each blocking pass, over every blocked pair when there are at most
  ``em_max_pairs`` of them (counted exactly from the features), otherwise over the pairs of a
  record sample that brings them under the cap.

A sample is trained on a linker of its own and its parameters carried over through the saved
model (Splink's public ``save_model_to_json``). Counts are integers on every backend; the
floating point sums of EM may differ in their last bits with the order of the work.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from splink import Linker, block_on

from pipelines.identity.backends import SplinkBackend
from pipelines.identity.config import Training

PRIOR_LAMBDA = 1e-4

# Training blocking rules, each an equi-join on one feature column.
EM_PASSES = ("name_core", "uscc_any")


@dataclass
class Trained:
    """The linker that scores pairs, and how its parameters were obtained."""

    linker: Linker
    lambda_: float
    trained: bool  # False: too few records to estimate, the priors were used
    # EM passes (training blocking rules) that ran; a pass that finds no record pair (a book
    # where no two records share a name core, or none has a credit code) leaves its
    # comparisons at the priors
    em_passes: list[str] = field(default_factory=list)
    u_records: int = 0  # records whose every pair gave u (all, or a sample)
    em_records: dict[str, int] = field(default_factory=dict)  # per pass, when sampled


def pair_count(records: int) -> int:
    return records * (records - 1) // 2


def records_for_pairs(max_pairs: float) -> int:
    """The most records whose pairs number at most ``max_pairs``."""
    n = int((1 + math.isqrt(int(8 * max_pairs) + 1)) // 2)
    return n if pair_count(n) <= max_pairs else n - 1


def blocked_pairs(records: pa.Table, column: str) -> int:
    """Pairs of records with the same non-null ``column`` (an equi-join pass), exactly."""
    counts = pc.value_counts(pc.drop_null(records.column(column))).field("counts")
    sizes = counts.to_numpy().astype(np.int64)
    return int((sizes * (sizes - 1) // 2).sum())


def sample_records(records: pa.Table, size: int, seed: int) -> pa.Table:
    """``size`` records: the first by a stable hash of (``seed``, ``unique_id``), ties by id,
    kept in their order. The hash is pandas' (SipHash keyed by the seed): the same records
    whatever the engine, the machine or the order they came in."""
    if size >= records.num_rows:
        return records
    ids = records.column("unique_id").to_pandas()
    keys = pd.util.hash_pandas_object(ids, index=False, hash_key=f"{seed % 10**16:016d}")
    chosen = np.lexsort((ids.to_numpy(), keys.to_numpy()))[:size]
    return records.take(np.sort(chosen))


def _estimate_u(backend: SplinkBackend, records: pa.Table, model: Any, training: Training):
    """The model with u from every pair of the u sample, and the sample's size."""
    if pair_count(records.num_rows) > training.u_max_pairs:
        records = sample_records(records, records_for_pairs(training.u_max_pairs), training.seed)
    linker = backend.linker(records, model)
    # max_pairs above the sample's pairs: Splink samples nothing (proportion 1); one chunk and
    # no early exit: the counts are over every pair, not over the chunks a hash picked first
    linker.training.estimate_u_using_random_sampling(
        max_pairs=float(records.num_rows) ** 2, min_count_per_level=None, num_chunks=1
    )
    return linker.misc.save_model_to_json(), records.num_rows


def em_sample(records: pa.Table, column: str, training: Training) -> pa.Table:
    """The records EM learns from on the pass ``column``: all of them when their blocked
    pairs number at most ``em_max_pairs``, otherwise a record sample whose pairs are about
    that many (a share p of the records keeps about p squared of the pairs)."""
    pairs = blocked_pairs(records, column)
    if pairs <= training.em_max_pairs:
        return records
    size = math.floor(records.num_rows * math.sqrt(training.em_max_pairs / pairs))
    return sample_records(records, size, training.seed)


def _estimate_lambda(linker: Linker, training: Training) -> float:
    linker.training.estimate_probability_two_random_records_match(
        [block_on("uscc")], recall=training.deterministic_recall
    )
    settings_obj = linker._settings_obj  # Splink has no public setter for the prior
    if settings_obj._probability_two_random_records_match <= 0:
        # no two records share a credit code: fall back to the prior, never to zero
        settings_obj._probability_two_random_records_match = PRIOR_LAMBDA
    return float(settings_obj._probability_two_random_records_match)


def train(backend: SplinkBackend, records: pa.Table, settings: Any, training: Training) -> Trained:
    """The scoring linker over ``records``: prior match rate, then (from ``min_records`` on)
    u and m estimated as the module docstring says."""
    if records.num_rows < training.min_records:
        linker = backend.linker(records, settings)
        return Trained(linker=linker, lambda_=_estimate_lambda(linker, training), trained=False)
    model, u_records = _estimate_u(backend, records, settings, training)
    linker = backend.linker(records, model)
    lambda_ = _estimate_lambda(linker, training)
    model = linker.misc.save_model_to_json()
    em_passes: list[str] = []
    em_records: dict[str, int] = {}
    for column in EM_PASSES:
        learn_from = em_sample(records, column, training)
        # Checked first: Splink raises on a pass without pairs, and leaves that pass's
        # comparison out of the model when it does.
        if not blocked_pairs(learn_from, column):
            continue
        em_linker = backend.linker(learn_from, model)
        em_linker.training.estimate_parameters_using_expectation_maximisation(
            block_on(column),
            max_pairs=None,  # every pair given: no sampling by Splink
        )
        model = em_linker.misc.save_model_to_json()
        em_passes.append(column)
        if learn_from.num_rows < records.num_rows:
            em_records[column] = learn_from.num_rows
    if em_passes:
        linker = backend.linker(records, model)
    return Trained(linker, lambda_, True, em_passes, u_records, em_records)
