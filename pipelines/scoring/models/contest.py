"""Champion and challengers on the company's own history, per prediction target.

For each target every candidate is fitted on the earlier window (features as of as-of - 2H,
outcomes in the H days after) and judged on the later one (features as of as-of - H, outcomes
up to the as-of date). The best on the target's metric wins; a more complex candidate must
beat the simpler winner by more than ``tie_tolerance``. The winner is then refitted on the
later window and scores the as-of date; a classifier's score becomes a probability through
isotonic calibration on that later window (for gradient boosting: on out-of-fold scores of two
halves, so three fits, and the published model is the one fitted on the whole window). Within
one step of the calibration the model's own order is kept (:func:`metrics.calibrated`), so the
published probability ranks accounts exactly as the winning model does.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from pipelines.scoring import clv as clv_mod
from pipelines.scoring.models import metrics as m
from pipelines.scoring.models.candidates import Candidate, candidates, sample_rows
from pipelines.scoring.models.config import ModelsConfig
from pipelines.scoring.models.matrix import targets, window

Scorer = Callable[[pd.DataFrame], np.ndarray]

# Population and metric the contest is decided on, per target.
TARGETS = {
    "value": (True, "capture_20"),
    "churn": (True, "auc"),
    "conversion": (False, "auc"),
}


@dataclass
class TargetResult:
    """One target's contest (a row per candidate), winner, calibration and predictions."""

    target: str
    metric: str
    contest: pd.DataFrame
    winner: str
    calibration: pd.DataFrame
    predictions: pd.DataFrame  # golden_account_id, prediction (as-of date's rows)
    note: str = ""
    # The winner as trained: rows of features.account_windows -> predictions. Stored with the
    # model (pipelines/scoring/models/store.py) to score later dates until the next training.
    scorer: Scorer | None = None
    # The drift shift in log-odds applied to the winner's probabilities (see drift_shift).
    drift_logit: float = 0.0


def evaluate(target: str, score: np.ndarray, y: np.ndarray, seed: int) -> dict[str, float]:
    """The metrics of one score on one window."""
    if target == "value":
        out = {
            f"capture_{int(s * 100):02d}": m.top_k_capture(score, y, s) for s in m.CAPTURE_SHARES
        }
        return {**out, "spearman": m.spearman(score, y)}
    prob = m.cross_fitted_probability(score, y, seed)
    return {"auc": m.auc(score, y), "brier": m.brier(prob, y), "rate": float(np.mean(y))}


def pick_winner(contest: pd.DataFrame, metric: str, tolerance: float) -> str:
    """The best candidate on ``metric``; a later (more complex) one must beat the current
    winner by more than ``tolerance``. Candidates that failed (NaN) never win."""
    best, best_value = None, -np.inf
    for name, value in zip(contest["candidate"], contest[metric], strict=True):
        if np.isnan(value):
            continue
        if best is None or value > best_value + tolerance:
            best, best_value = name, value
    return best if best is not None else str(contest["candidate"].iloc[0])


def _judge(cands: list[Candidate], target, past, recent, cfg) -> tuple[pd.DataFrame, dict]:
    y_past, y_recent = targets(past)[target], targets(recent)[target]
    rows, scores = [], {}
    for cand in cands:
        row = {"candidate": cand.name, "kind": cand.kind, "description": cand.description}
        if len(recent) == 0:
            row["error"] = "no rows to judge on"
            rows.append(row)
            continue
        try:
            scores[cand.name] = cand.fit(past, y_past)(recent)
            row.update(evaluate(target, scores[cand.name], y_recent, cfg.seed))
        except ValueError as exc:  # e.g. too few repeat buyers for Gamma-Gamma
            row["error"] = str(exc)[:200]
        rows.append(row)
    contest = pd.DataFrame(rows)
    for column in ("error", TARGETS[target][1]):
        if column not in contest:
            contest[column] = np.nan if column != "error" else None
    return contest, scores


def _calibrator(
    cand: Candidate, rows: pd.DataFrame, y: np.ndarray, cfg: ModelsConfig, predictor=None
):
    """An isotonic calibration of ``cand``'s score on ``rows``: for a learned candidate on
    out-of-fold scores of two halves, else on the score of ``predictor`` (``cand`` fitted on
    ``rows``; fitted here when not given). A window of more than twice ``max_train_rows`` rows
    is calibrated on the halves of a fixed-seed sample of that many: each half's fit sees at
    most ``max_train_rows`` rows anyway, and an isotonic calibration learns as well from that
    many out-of-fold scores (scoring every row of both halves of a million-row window cost 4 of
    the 97 s of a training)."""
    if cand.kind == "learned":
        sample, y_sample = sample_rows(rows, y, 2 * cfg.max_train_rows, cfg.seed)
        # Halves stratified by outcome: each has both outcomes whenever there are two of each.
        half = _stratified_half(y_sample, cfg.seed)
        if all(len(np.unique(y_sample[part])) == 2 for part in (half, ~half)):
            # Each half scored by a model that never saw it; the calibration learns the scores.
            held_out = np.empty(len(sample))
            for part in (half, ~half):
                fitted = cand.fit(sample.iloc[np.flatnonzero(~part)], y_sample[~part])
                held_out[part] = fitted(sample.iloc[np.flatnonzero(part)])
            return m.isotonic(held_out, y_sample)
    # a naive candidate, or too few of one outcome to fit on a half
    predictor = predictor if predictor is not None else cand.fit(rows, y)
    return m.isotonic(predictor(rows), y)


def _nothing_to_calibrate(y: np.ndarray) -> bool:
    """No outcome, or none but zeros: a calibration would learn one value."""
    return len(y) == 0 or y.min(initial=0) == y.max(initial=0)


def drift_shift(
    target: str, cand: Candidate, past: pd.DataFrame, y_past, judged, y_recent, cfg
) -> float:
    """How far, in log-odds, ``cand`` trained and calibrated on the earlier window missed the
    later window's observed rate (within +-``max_drift_logit[target]``): the drift of the
    base rate that the features did not explain over one horizon, carried forward to the next.
    ``judged``: the contest's scores of the later window by ``cand`` fitted on the earlier one
    (None when it had none)."""
    bound = cfg.max_drift_logit.get(target, 0.0)
    if bound == 0 or judged is None or len(judged) == 0 or _nothing_to_calibrate(y_past):
        return 0.0
    carried = m.calibrated(_calibrator(cand, past, y_past, cfg), judged)
    return m.logit_shift(carried, float(np.mean(y_recent)), bound)


def _probability_scorer(
    cand: Candidate, recent: pd.DataFrame, y: np.ndarray, cfg: ModelsConfig, shift: float = 0.0
) -> Scorer:
    """The calibrated probability of rows as of a later date (see the module docstring),
    moved by ``shift`` log-odds (:func:`drift_shift`)."""
    if _nothing_to_calibrate(y):
        return _Constant(np.nan if len(recent) == 0 else float(np.mean(y)))
    predictor = cand.fit(recent, y)
    return _Shifted(predictor, _calibrator(cand, recent, y, cfg, predictor), shift)


@dataclass(frozen=True)
class _Shifted:
    """A winner's calibrated probability, moved by a drift shift in log-odds."""

    predictor: Scorer
    calibrator: object
    shift: float

    def __call__(self, now: pd.DataFrame) -> np.ndarray:
        return m.calibrated(self.calibrator, self.predictor(now), self.shift)


@dataclass(frozen=True)
class _Constant:
    """One probability for every row (the window had one outcome, or no rows)."""

    value: float

    def __call__(self, now: pd.DataFrame) -> np.ndarray:
        return np.full(len(now), self.value)


def _stratified_half(y: np.ndarray, seed: int) -> np.ndarray:
    """A fixed-seed half of the rows holding half of each outcome (rounded down)."""
    half = np.zeros(len(y), dtype=bool)
    rng = np.random.default_rng(seed)
    for value in np.unique(y):
        rows = np.flatnonzero(y == value)
        half[rng.permutation(rows)[: len(rows) // 2]] = True
    return half


def _stand_in(cands: list[Candidate], target: str, cfg: ModelsConfig) -> list[Candidate]:
    """The candidate ``without_contest`` names for ``target`` (none when it names none)."""
    name = cfg.without_contest.get(target)
    found = [c for c in cands if c.name == name]
    if name and not found:
        known = ", ".join(c.name for c in cands)
        raise ValueError(f"without_contest: {target}: unknown candidate {name!r} ({known})")
    return found


def _value_scorer(champion: Candidate, recent: pd.DataFrame, y: np.ndarray) -> Scorer:
    """The value winner's predictions of rows as of a later date (never below 0): a learned
    model refitted on the later window, a probabilistic or naive one fitted on the rows it
    scores (it learns nothing from outcomes)."""
    if champion.kind == "learned":
        predictor = champion.fit(recent, y)
        return lambda now: np.clip(predictor(now), 0, None)
    return lambda now: np.clip(champion.fit(now, y)(now), 0, None)


def _history_note(target: str, past, recent, cfg: ModelsConfig) -> str:
    """Why there is no contest ("" when the two windows are big enough)."""
    # Plain ints: the list is printed in the model card's note (numpy would say np.int64(0)).
    positives = [int(targets(w)[target].sum()) for w in (past, recent)] if target != "value" else []
    enough_rows = min(len(past), len(recent)) >= cfg.min_rows
    if enough_rows and min(positives, default=cfg.min_positive) >= cfg.min_positive:
        return ""
    return (
        f"too little history for a contest ({len(past)} and {len(recent)} rows in the two "
        f"windows, minimum {cfg.min_rows}; {positives} positives, minimum {cfg.min_positive}): "
    )


def run_target(
    rows: pd.DataFrame,
    target: str,
    cfg: ModelsConfig,
    clv_cfg: clv_mod.ClvConfig,
    vocab: dict,
    bgnbd=None,
) -> TargetResult:
    """The contest of one target on the account_windows ``rows`` and its winner's predictions
    (``bgnbd``: BG/NBD fits shared with the other targets, see candidates.bgnbd_outputs)."""
    paying, metric = TARGETS[target]
    past, recent, now = (window(rows, k, paying) for k in (2, 1, 0))
    cands = candidates(target, cfg, clv_cfg, vocab, bgnbd)
    y_recent = targets(recent)[target]
    note = _history_note(target, past, recent, cfg)
    if note:
        cands = cands[:1] + _stand_in(cands, target, cfg)
    contest, scores = _judge(cands, target, past, recent, cfg)
    winner = pick_winner(contest, metric, cfg.tie_tolerance) if not note else cands[-1].name
    champion = next(c for c in cands if c.name == winner)
    shift, calibration = 0.0, pd.DataFrame()
    if target == "value":
        try:
            scorer = _value_scorer(champion, recent, y_recent)
            values = scorer(now)
        except ValueError as exc:  # the stand-in cannot be fitted (e.g. no repeat buyers)
            if champion is cands[0]:
                raise
            note += f"{winner} could not be fitted ({str(exc)[:120]}); "
            champion = cands[0]
            winner = champion.name
            scorer = _value_scorer(champion, recent, y_recent)
            values = scorer(now)
    else:
        if not note:
            y_past, judged = targets(past)[target], scores.get(winner)
            shift = drift_shift(target, champion, past, y_past, judged, y_recent, cfg)
        scorer = _probability_scorer(champion, recent, y_recent, cfg, shift)
        values = scorer(now)
        if winner in scores and len(y_recent):
            probability = m.cross_fitted_probability(scores[winner], y_recent, cfg.seed)
            calibration = m.calibration_table(probability, y_recent, cfg.calibration_bins)
    if note:
        note += "the naive baseline is used" if champion is cands[0] else f"{winner} is used"
    contest["winner"] = contest["candidate"] == winner
    predictions = pd.DataFrame(
        {"golden_account_id": now["golden_account_id"].to_numpy(), "prediction": values}
    )
    return TargetResult(
        target, metric, contest, winner, calibration, predictions, note, scorer, shift
    )


def rescore(result: TargetResult, rows: pd.DataFrame) -> TargetResult:
    """``result`` (a stored training's winner) scoring the as-of date's ``rows`` of
    features.account_windows instead of the rows it was trained beside."""
    paying = TARGETS[result.target][0]
    now = window(rows, 0, paying)
    predictions = pd.DataFrame(
        {"golden_account_id": now["golden_account_id"].to_numpy(),
         "prediction": result.scorer(now)}
    )  # fmt: skip
    return replace(result, predictions=predictions)
