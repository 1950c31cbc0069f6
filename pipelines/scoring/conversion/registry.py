"""The model registry and drift: stored models, when to retrain, and which model a run uses.

Models live under ``models_dir/conversion/<model_version>/`` (``model.joblib`` and
``card.json``) and are reused until they are older than ``max_age_days``, the rules change, or
the score / key features drift (PSI above ``psi_threshold``). The training asset records its
choice for the run in ``models_dir/conversion/runs/<snapshot_id>.json``; the scoring asset of
the same run (or of a re-execution, which keeps the snapshot id) reads it.
"""

from __future__ import annotations

import json
import os
import shutil
import uuid
from dataclasses import asdict, dataclass
from datetime import date
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import pandas as pd

from pipelines.scoring.conversion.config import ConversionConfig
from pipelines.scoring.conversion.features import model_matrix


def psi(expected: np.ndarray, actual: np.ndarray, bins: int = 10) -> float:
    """Population stability index of ``actual`` against ``expected`` (quantile bins of expected).

    Empty bins get a small floor so the index stays finite.
    """
    expected = np.asarray(expected, dtype=float)
    actual = np.asarray(actual, dtype=float)
    expected, actual = expected[~np.isnan(expected)], actual[~np.isnan(actual)]
    if len(expected) == 0 or len(actual) == 0:
        return float("nan")
    edges = np.unique(np.quantile(expected, np.linspace(0, 1, bins + 1)))
    return psi_from_edges(
        edges, np.histogram(np.clip(expected, edges[0], edges[-1]), edges)[0], actual
    )


def psi_from_edges(edges: np.ndarray, expected_counts: np.ndarray, actual: np.ndarray) -> float:
    """PSI given stored training bin edges and counts (as kept in the model card)."""
    edges = np.asarray(edges, dtype=float)
    if len(edges) < 2:
        return 0.0
    act = np.histogram(np.clip(np.asarray(actual, dtype=float), edges[0], edges[-1]), edges)[0]
    e = np.maximum(np.asarray(expected_counts, float) / max(np.sum(expected_counts), 1), 1e-4)
    a = np.maximum(act / max(act.sum(), 1), 1e-4)
    return float(np.sum((a - e) * np.log(a / e)))


def hist_summary(values: np.ndarray, bins: int = 10) -> dict[str, list[float]]:
    """Quantile bin edges and counts of ``values``: what PSI is later measured against."""
    values = np.asarray(values, dtype=float)
    values = values[~np.isnan(values)]
    edges = np.unique(np.quantile(values, np.linspace(0, 1, bins + 1)))
    counts = (
        np.histogram(np.clip(values, edges[0], edges[-1]), edges)[0]
        if len(edges) > 1
        else [len(values)]
    )
    return {"edges": [float(x) for x in edges], "counts": [int(c) for c in counts]}


def drift_report(
    model: Any, card: dict[str, Any], recent: pd.DataFrame, cfg: ConversionConfig
) -> dict[str, float]:
    """PSI of the score and the card's key numeric features on ``recent`` model rows vs
    training; empty when there are fewer than ``drift_min_rows`` rows."""
    if len(recent) < cfg.drift_min_rows:
        return {}
    X = model_matrix(recent, card["features"])
    out = {
        "score": psi_from_edges(
            card["score_hist"]["edges"], card["score_hist"]["counts"], model.predict_proba(X)[:, 1]
        )
    }
    for f, h in card.get("feature_hists", {}).items():
        out[f] = psi_from_edges(h["edges"], h["counts"], X[f].to_numpy())
    return out


def retrain_reason(
    card: dict[str, Any] | None,
    as_of: date,
    rules_version: str,
    cfg: ConversionConfig,
    drift: dict[str, float] | None = None,
) -> str | None:
    """Why the stored model must be retrained, or None when it can be reused."""
    if card is None:
        return "no stored model"
    if card.get("rules_version") != rules_version:
        return f"rules changed ({card.get('rules_version')} -> {rules_version})"
    age = (as_of - date.fromisoformat(card["trained_as_of"])).days
    if age > cfg.max_age_days:
        return f"model is {age} days old (max {cfg.max_age_days})"
    if age < 0:
        return "model was trained for a later date"
    drifted = {k: v for k, v in (drift or {}).items() if np.isfinite(v) and v > cfg.psi_threshold}
    if drifted:
        return "drift: " + ", ".join(f"PSI({k})={v:.2f}" for k, v in drifted.items())
    return None


def _root(models_dir: Path) -> Path:
    return Path(models_dir) / "conversion"


def save_model(model: Any, card: dict[str, Any], models_dir: Path) -> Path:
    """Write ``model.joblib`` and ``card.json`` under ``models_dir/conversion/<version>/``.

    Written into a hidden ``.tmp-*`` folder first and renamed into place, so a run killed
    mid-write never leaves a half-written model that a later run would load (the leftover
    folder is swept by :mod:`pipelines.recovery`)."""
    root = _root(models_dir)
    target = root / card["model_version"]
    if (target / "card.json").exists():  # same version: the same training data and rules
        return target
    tmp = root / f".tmp-{card['model_version']}-{uuid.uuid4().hex[:8]}"
    tmp.mkdir(parents=True)
    joblib.dump(model, tmp / "model.joblib")
    (tmp / "card.json").write_text(json.dumps(card, indent=2, ensure_ascii=False, default=str))
    shutil.rmtree(target, ignore_errors=True)  # a folder an older release left half-written
    os.rename(tmp, target)
    return target


def load_model(models_dir: Path, model_version: str) -> tuple[Any, dict[str, Any]]:
    """A stored model and its card, by version."""
    folder = _root(models_dir) / model_version
    return joblib.load(folder / "model.joblib"), json.loads((folder / "card.json").read_text())


def load_latest_model(models_dir: Path, as_of: date) -> tuple[Any, dict[str, Any]] | None:
    """The stored model trained for the latest date on or before ``as_of``, and its card, or
    None. A model trained for a later date is never used: a backfill must not see the future."""
    cards = []
    for card_path in _root(models_dir).glob("*/card.json"):
        if card_path.parent.name.startswith("."):  # being written (or left by a killed run)
            continue
        card = json.loads(card_path.read_text())
        if date.fromisoformat(card["trained_as_of"]) > as_of:
            continue
        cards.append(((card["trained_as_of"], card.get("trained_at", "")), card_path.parent, card))
    if not cards:
        return None
    _, folder, card = max(cards, key=lambda c: c[0])
    if not (folder / "model.joblib").exists():
        return None
    return joblib.load(folder / "model.joblib"), card


@dataclass(frozen=True)
class ModelChoice:
    """The model a run scores with (``model_version`` None: no model, use the fallback)."""

    model_version: str | None
    status: str


def record_choice(models_dir: Path, snapshot_id: str, choice: ModelChoice) -> Path:
    """Remember the run's choice for the scoring step."""
    path = _root(models_dir) / "runs" / f"{snapshot_id}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(asdict(choice), indent=2, ensure_ascii=False))
    return path


def read_choice(models_dir: Path, snapshot_id: str) -> ModelChoice:
    """The choice the run's training step recorded; a clear error when it has not run."""
    path = _root(models_dir) / "runs" / f"{snapshot_id}.json"
    if not path.exists():
        raise FileNotFoundError(
            f"no conversion model chosen for snapshot {snapshot_id} ({path}): run the "
            "scores/conversion_model step of this run first"
        )
    return ModelChoice(**json.loads(path.read_text()))
