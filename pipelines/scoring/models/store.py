"""Trained prediction models kept between runs, and when a run may score with one instead of
training again.

A training (the three contests and the winners' fits) is stored beside its model card,
``data/models/predictions/<model_version>/``: ``card.json`` says when and under which rules it
was trained, ``fitted-<code version>.pkl`` holds the winners (cloudpickle: a winner is a fitted
predictor and its calibration) and the distribution of their predictions on the training date.

A later run scores with the newest training that is at most ``retrain_every_days - 1`` days
older than its as-of date (never newer), under the same scoring rules and the same code, unless
the day's predictions have drifted from the training date's: a population stability index
above ``retrain_psi`` for any target retrains. A modified checkout (``-dirty``) or an unknown
code version never stores nor reuses a model: equal versions would not mean equal code.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, replace
from datetime import date
from pathlib import Path

import cloudpickle
import numpy as np
import pandas as pd

from pipelines.scoring.models.contest import TargetResult
from pipelines.settings import comparable_code_version

# Bins of the reference distribution (equal-count on the training date's predictions).
PSI_BINS = 10
# Share floor of a bin in the stability index (an empty bin would make it infinite).
PSI_FLOOR = 1e-4


@dataclass(frozen=True)
class Reference:
    """One target's predictions on the training date, as bin edges and the share in each."""

    edges: np.ndarray  # inner edges, increasing
    shares: np.ndarray  # len(edges) + 1 shares summing to 1
    count: int  # predictions (not NaN) on the training date


@dataclass(frozen=True)
class StoredTraining:
    """A stored training: its model version and date, the contests and winners (with their
    scorers) and the reference distribution of each target's predictions."""

    model_version: str
    trained_as_of: date
    card: dict
    results: dict[str, TargetResult]
    references: dict[str, Reference]

    @classmethod
    def of(
        cls, model_version: str, trained_as_of: date, card: dict, results: dict[str, TargetResult]
    ) -> StoredTraining:
        """A training just made: the references are its own predictions' distributions."""
        references = {t: reference(r.predictions["prediction"]) for t, r in results.items()}
        return cls(model_version, trained_as_of, card, results, references)


def reference(predictions: np.ndarray) -> Reference:
    """The equal-count bins of ``predictions`` (NaN left out) and the share of each."""
    values = np.asarray(predictions, dtype=float)
    values = values[~np.isnan(values)]
    if len(values) == 0:
        return Reference(np.array([]), np.array([1.0]), 0)
    edges = np.unique(np.quantile(values, np.linspace(0, 1, PSI_BINS + 1)[1:-1]))
    return Reference(edges, _shares(values, edges), len(values))


def _shares(values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    counts = np.bincount(np.searchsorted(edges, values, side="right"), minlength=len(edges) + 1)
    return counts / max(counts.sum(), 1)


def stability_index(ref: Reference, predictions: np.ndarray) -> float:
    """Population stability index of ``predictions`` against the training date's: the sum over
    bins of (share now - share then) x ln(share now / share then). 0 = the same distribution;
    by the usual reading < 0.1 stable, 0.1-0.25 moved, > 0.25 a different population."""
    values = np.asarray(predictions, dtype=float)
    values = values[~np.isnan(values)]
    if len(values) == 0 or ref.count == 0:  # a population that appeared or vanished
        return 0.0 if len(values) == ref.count else float("inf")
    return share_stability(_shares(values, ref.edges), ref.shares)


def share_stability(now: np.ndarray, then: np.ndarray) -> float:
    """The population stability index of two share vectors over the same bins (each share
    floored at PSI_FLOOR, so an empty bin counts as nearly empty, not as infinitely unlike)."""
    now = np.clip(np.asarray(now, dtype=float), PSI_FLOOR, None)
    then = np.clip(np.asarray(then, dtype=float), PSI_FLOOR, None)
    return float(np.sum((now - then) * np.log(now / then)))


def _fitted_name(code_version: str) -> str:
    return f"fitted-{code_version}.pkl"


def _predictions_dir(models_dir: Path) -> Path:
    return models_dir / "predictions"


def _write_whole(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)  # a reader sees the whole file or the previous one


def save(models_dir: Path, training: StoredTraining, code_version: str) -> Path | None:
    """Store ``training`` under ``models_dir``: its fitted winners, then its card (a card names
    a training only once the file is complete). Returns the fitted file, or None when the code
    version cannot tell two versions of the code apart (only the card is written: nothing
    would ever be safe to reuse)."""
    folder = _predictions_dir(models_dir) / training.model_version
    folder.mkdir(parents=True, exist_ok=True)
    fitted = None
    if comparable_code_version(code_version):
        fitted = folder / _fitted_name(code_version)
        payload = {
            "model_version": training.model_version,
            "trained_as_of": training.trained_as_of,
            # The winners without the training day's per-account predictions: a stored training
            # holds models and summaries, no account ids (rescoring makes the day's predictions).
            "results": {
                t: replace(r, predictions=r.predictions.iloc[:0])
                for t, r in training.results.items()
            },
            "references": training.references,
            "card": training.card,
        }
        _write_whole(fitted, cloudpickle.dumps(payload))
    text = json.dumps(training.card, indent=2, ensure_ascii=False, default=str, sort_keys=True)
    _write_whole(folder / "card.json", (text + "\n").encode("utf-8"))
    return fitted


def latest(
    models_dir: Path, as_of: date, max_age_days: int, rules_version: str, code_version: str
) -> Path | None:
    """The stored training a run of ``as_of`` may score with: trained on a date in
    (as_of - max_age_days, as_of] under ``rules_version`` by this code; the newest date, then
    the highest model version (deterministic). None when there is none."""
    if not comparable_code_version(code_version) or max_age_days <= 1:
        return None
    found = []
    for card_path in sorted(_predictions_dir(models_dir).glob("*/card.json")):
        fitted = card_path.parent / _fitted_name(code_version)
        if not fitted.exists():
            continue
        try:
            card = json.loads(card_path.read_text(encoding="utf-8"))
            trained = date.fromisoformat(card["trained_as_of"])
        except (OSError, ValueError, KeyError):
            continue  # a card being written or from another layout: not a candidate
        if card.get("rules_version") != rules_version:
            continue
        if 0 <= (as_of - trained).days < max_age_days:
            found.append((trained, card_path.parent.name, fitted))
    return max(found)[2] if found else None


def load(path: Path) -> StoredTraining:
    """The training stored at ``path`` (from :func:`latest`)."""
    payload = cloudpickle.loads(path.read_bytes())
    return StoredTraining(
        payload["model_version"],
        payload["trained_as_of"],
        payload["card"],
        payload["results"],
        payload["references"],
    )


def drift(training: StoredTraining, predictions: dict[str, pd.DataFrame]) -> dict[str, float]:
    """Per target, the stability index of the day's predictions against the training date's."""
    return {
        target: stability_index(training.references[target], frame["prediction"].to_numpy(float))
        for target, frame in predictions.items()
    }
