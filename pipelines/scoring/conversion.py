"""Lead conversion probability: a calibrated gradient-boosting model on historical leads.

Training rows are decided leads (converted / lost) with features *as of the lead's creation*:
lead source, firmographics from customer_360 (current values: firmographics change slowly),
engagement in the look-back before ``created_at`` (a half-life-decayed sum of touches, the event
count and days since the last touch) and prior paid orders, all computed in one SQL statement. Accounts are scored with the same statement as a virtual lead created at the run time,
so training and serving share every feature definition.
The split is by time: the most recent decided leads are the holdout the metrics come from.

The model is stored under ``models_dir/conversion/<model_version>/`` (``model.joblib`` and
``card.json``) and reused until it is older than ``max_age_days``, the rules change, or the
score / key features drift (PSI above ``psi_threshold``). With fewer than ``min_positive``
converted leads no model is invented: ``conversion_source = 'fit_fallback'`` and the
probability is ``fit_score / 100``.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import uuid
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any, Literal

import duckdb
import joblib
import numpy as np
import pandas as pd
from pydantic import Field, model_validator
from sklearn.calibration import CalibratedClassifierCV
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.inspection import permutation_importance
from sklearn.metrics import average_precision_score, brier_score_loss, roc_auc_score
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OrdinalEncoder

from pipelines.config.loader import StrictModel
from pipelines.scoring.reasons import join_parts

CATEGORICAL = ["lead_source", "industry", "size_band", "region"]
MISSING = "(missing)"


class HgbParams(StrictModel):
    max_iter: int = Field(200, ge=10)
    learning_rate: float = Field(0.05, gt=0)
    max_leaf_nodes: int = Field(15, ge=2)
    min_samples_leaf: int = Field(20, ge=1)


class ConversionConfig(StrictModel):
    version: str
    # A 90-day window held ~0.5 events per lead (per-type counts were too sparse to learn from);
    # a year with decay, as the behaviour score uses, carries the signal.
    lookback_days: int = Field(365, gt=0)
    half_life_days: float = Field(90, gt=0)
    activity_types: list[str] = Field(min_length=1)
    # Counted in events_lookback but not a touch (an unsubscribe is no engagement).
    not_touch_types: list[str] = ["unsubscribe"]
    holdout_fraction: float = Field(0.2, gt=0, lt=1)
    min_positive: int = Field(50, ge=1)
    min_holdout_positive: int = Field(10, ge=1)
    max_age_days: int = Field(30, ge=0)
    psi_threshold: float = Field(0.2, gt=0)
    drift_window_days: int = Field(90, gt=0)
    drift_min_rows: int = Field(200, ge=1)
    # Features never monitored for PSI (the score still is): counts over *all* prior history
    # grow with the calendar, so recent leads always look "drifted" on them.
    drift_exclude: list[str] = ["prior_paid_orders", "log_prior_net_revenue"]
    calibration: Literal["isotonic", "sigmoid"] = "isotonic"
    calibration_cv: int = Field(3, ge=2)
    explain_features: int = Field(6, ge=1)
    seed: int = 42
    hgb: HgbParams = HgbParams()

    @model_validator(mode="after")
    def _check(self) -> ConversionConfig:
        # Type names are pasted into SQL as literals and column names.
        for t in [*self.activity_types, *self.not_touch_types]:
            if not t.replace("_", "").isalnum():
                raise ValueError(f"bad activity type name {t!r}")
        return self

    @property
    def numeric_features(self) -> list[str]:
        return [
            "log_employee_count",
            "log_annual_revenue",
            # One decayed sum, not one per type: seven sparse per-type columns overfit on a
            # thousand leads (holdout AUC 0.650 vs 0.677 on the seed-11 test world).
            "engagement_decayed",
            "events_lookback",
            "days_since_last_touch",
            "prior_paid_orders",
            "log_prior_net_revenue",
        ]

    @property
    def features(self) -> list[str]:
        return CATEGORICAL + self.numeric_features


# --- Features (SQL) -----------------------------------------------------------------------------

_FEATURES_SQL = """
with l as ({leads}),
act as (
    select
        l.lead_id, a.activity_type,
        date_diff('second', a.occurred_at, l.created_at) / 86400.0 as age_days
    from l
    join marts.activities as a
        on a.golden_account_id = l.golden_account_id
        and a.occurred_at < l.created_at
        and a.occurred_at >= l.created_at - to_days($lookback::integer)
    where a.activity_type in ({types})
),
eng as (
    select
        lead_id,
        sum(pow(0.5, age_days / $half_life::double))
            filter (where activity_type not in ({not_touch})) as engagement_decayed,
        count(*) as events_lookback,
        min(age_days) filter (where activity_type not in ({not_touch})) as days_since_last_touch
    from act
    group by lead_id
),
ord as (
    select l.lead_id, count(*) as prior_paid_orders, sum(o.net_amount_cny)::double as prior_net
    from l
    join marts.orders as o
        on o.golden_account_id = l.golden_account_id
        and o.order_date < l.created_at::date
        and o.net_amount_cny > 0
    group by l.lead_id
)
select
    l.lead_id, l.golden_account_id, l.created_at, l.status,
    l.lead_source, c.industry, c.size_band, c.region,
    ln(1 + greatest(coalesce(c.employee_count, 0), 0)) as log_employee_count,
    ln(1 + greatest(coalesce(c.annual_revenue_cny, 0), 0))::double as log_annual_revenue,
    coalesce(eng.engagement_decayed, 0) as engagement_decayed,
    coalesce(eng.events_lookback, 0) as events_lookback,
    -- No touch in the look-back: capped at the look-back (a finite "long ago" for PSI and trees).
    coalesce(eng.days_since_last_touch, $lookback::double) as days_since_last_touch,
    coalesce(ord.prior_paid_orders, 0) as prior_paid_orders,
    ln(1 + coalesce(ord.prior_net, 0)) as log_prior_net_revenue
from l
join marts.customer_360 as c on c.golden_account_id = l.golden_account_id
left join eng on eng.lead_id = l.lead_id
left join ord on ord.lead_id = l.lead_id
"""

_HISTORY_LEADS = """
    select lead_id, golden_account_id, lead_source, status, created_at::timestamp as created_at
    from marts.leads
    where created_at <= $as_of_ts
"""

# One virtual "lead" per account created at the run time, carrying the latest lead's source.
_ACCOUNT_LEADS = """
    select
        c.golden_account_id as lead_id, c.golden_account_id,
        (select arg_max(x.lead_source, x.created_at) from marts.leads as x
         where x.golden_account_id = c.golden_account_id and x.created_at <= $as_of_ts) as lead_source,
        null::varchar as status, $as_of_ts::timestamp as created_at
    from marts.customer_360 as c
"""


def lead_features(
    con: duckdb.DuckDBPyConnection, as_of: date, cfg: ConversionConfig, for_accounts: bool = False
) -> pd.DataFrame:
    """Feature rows per historical lead (``for_accounts=False``) or per account as of the run.

    One statement for both, so a feature means the same in training and in scoring.
    """
    return con.execute(features_sql(cfg, for_accounts), _sql_params(as_of, cfg)).df()


def features_sql(cfg: ConversionConfig, for_accounts: bool = False) -> str:
    """The feature SQL (parameters ``$as_of_ts``, ``$lookback``, ``$half_life``).

    Over the ``lookback_days`` before the lead, events of ``activity_types``:
    ``engagement_decayed`` sums ``0.5 ** (age_days / half_life_days)`` over touches (types not
    in ``not_touch_types``), ``events_lookback`` counts all of them and
    ``days_since_last_touch`` is the age of the latest touch (``lookback_days`` when none).
    """
    return _FEATURES_SQL.format(
        leads=_ACCOUNT_LEADS if for_accounts else _HISTORY_LEADS,
        types=", ".join(f"'{t}'" for t in cfg.activity_types),
        not_touch=", ".join(f"'{t}'" for t in cfg.not_touch_types) or "''",
    )


def _sql_params(as_of: date, cfg: ConversionConfig) -> dict[str, Any]:
    as_of_ts = datetime.combine(as_of, datetime.max.time()).replace(microsecond=0)
    return {"as_of_ts": as_of_ts, "lookback": cfg.lookback_days, "half_life": cfg.half_life_days}


def model_matrix(df: pd.DataFrame, cfg: ConversionConfig) -> pd.DataFrame:
    """Columns in model order; categoricals as strings with an explicit missing level."""
    X = df[cfg.features].copy()
    for c in CATEGORICAL:
        X[c] = X[c].astype("object").where(X[c].notna(), MISSING).astype(str)
    for c in cfg.numeric_features:
        X[c] = pd.to_numeric(X[c], errors="coerce").astype(float)
    return X


# --- Model --------------------------------------------------------------------------------------


def build_model(cfg: ConversionConfig) -> CalibratedClassifierCV:
    """Ordinal-encoded categoricals -> HistGradientBoosting, wrapped in probability calibration."""
    pre = ColumnTransformer(
        [
            (
                "cat",
                OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=-1),
                CATEGORICAL,
            )
        ],
        remainder="passthrough",
        verbose_feature_names_out=False,
    )
    # Early stopping always (max_iter is the ceiling): scikit-learn's default 'auto' turns it on
    # only above 10,000 rows, so on a small lead history the fixed rounds overfit (holdout AUC
    # 0.63 vs 0.67 with it on the seed-11 test world) while a large one was already stopped.
    hgb = HistGradientBoostingClassifier(
        categorical_features=list(range(len(CATEGORICAL))),
        random_state=cfg.seed,
        early_stopping=True,
        **cfg.hgb.model_dump(),
    )
    return CalibratedClassifierCV(
        Pipeline([("pre", pre), ("hgb", hgb)]), method=cfg.calibration, cv=cfg.calibration_cv
    )


def time_split(decided: pd.DataFrame, holdout_fraction: float) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Older leads train, the most recent ``holdout_fraction`` (by created_at) are the holdout."""
    ordered = decided.sort_values(["created_at", "lead_id"], kind="stable")
    cut = int(round(len(ordered) * (1 - holdout_fraction)))
    return ordered.iloc[:cut], ordered.iloc[cut:]


def calibration_table(y: np.ndarray, p: np.ndarray, bins: int = 10) -> pd.DataFrame:
    """Predicted vs observed conversion per predicted-probability decile."""
    q = pd.qcut(pd.Series(p).rank(method="first"), q=min(bins, len(p)), labels=False)
    t = (
        pd.DataFrame({"bin": q, "y": y, "p": p})
        .groupby("bin")
        .agg(n=("y", "size"), mean_predicted=("p", "mean"), observed_rate=("y", "mean"))
    )
    return t.reset_index()


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


def _hist_summary(values: np.ndarray, bins: int = 10) -> dict[str, list[float]]:
    values = np.asarray(values, dtype=float)
    values = values[~np.isnan(values)]
    edges = np.unique(np.quantile(values, np.linspace(0, 1, bins + 1)))
    counts = (
        np.histogram(np.clip(values, edges[0], edges[-1]), edges)[0]
        if len(edges) > 1
        else [len(values)]
    )
    return {"edges": [float(x) for x in edges], "counts": [int(c) for c in counts]}


@dataclass
class TrainResult:
    """Outcome of a training attempt: a model and its card, or ``model=None`` and why."""

    model: Any | None
    card: dict[str, Any]
    message: str
    holdout: pd.DataFrame = field(default_factory=pd.DataFrame)
    calibration: pd.DataFrame = field(default_factory=pd.DataFrame)


def train_conversion_model(
    leads: pd.DataFrame, cfg: ConversionConfig, as_of: date, rules_version: str
) -> TrainResult:
    """Train and evaluate on decided leads, then refit on all of them for production.

    Returns ``model=None`` with a plain message when there are too few converted leads.
    """
    decided = leads[leads["status"].isin(["converted", "lost"])]
    # A fixed row order: the calibration folds and the early-stopping split follow row order, and
    # SQL returns rows in no particular order, so otherwise the same leads give another model.
    decided = decided.sort_values(["created_at", "lead_id"], kind="stable", ignore_index=True)
    decided["y"] = (decided["status"] == "converted").astype(int)
    n_pos = int(decided["y"].sum())
    if n_pos < cfg.min_positive:
        msg = (
            f"Only {n_pos} converted leads among {len(decided)} decided leads (minimum "
            f"{cfg.min_positive}): no model trained; conversion_probability = fit_score / 100."
        )
        return TrainResult(None, {"n_decided": len(decided), "n_converted": n_pos}, msg)
    train, hold = time_split(decided, cfg.holdout_fraction)
    if hold["y"].sum() < cfg.min_holdout_positive or train["y"].nunique() < 2:
        msg = (
            f"Only {int(hold['y'].sum())} converted leads in the most recent holdout (minimum "
            f"{cfg.min_holdout_positive}): cannot evaluate honestly; no model trained."
        )
        return TrainResult(None, {"n_decided": len(decided), "n_converted": n_pos}, msg)

    model = build_model(cfg).fit(model_matrix(train, cfg), train["y"].to_numpy())
    Xh, yh = model_matrix(hold, cfg), hold["y"].to_numpy()
    ph = model.predict_proba(Xh)[:, 1]
    metrics = {
        "roc_auc": float(roc_auc_score(yh, ph)),
        "pr_auc": float(average_precision_score(yh, ph)),
        "brier": float(brier_score_loss(yh, ph)),
        "holdout_base_rate": float(yh.mean()),
    }
    imp = permutation_importance(
        model, Xh, yh, scoring="roc_auc", n_repeats=2, random_state=cfg.seed
    )
    importance = dict(zip(cfg.features, [float(x) for x in imp.importances_mean], strict=True))

    final = build_model(cfg).fit(model_matrix(decided, cfg), decided["y"].to_numpy())
    X_all = model_matrix(decided, cfg)
    p_train = final.predict_proba(X_all)[:, 1]
    baselines: dict[str, Any] = {c: X_all[c].mode().iloc[0] for c in CATEGORICAL}
    baselines.update({c: float(X_all[c].median()) for c in cfg.numeric_features})
    top_numeric = [
        f
        for f in sorted(importance, key=importance.get, reverse=True)
        if f in cfg.numeric_features and f not in cfg.drift_exclude
    ][:3]
    version_src = f"{rules_version}|{as_of}|{len(decided)}|{decided['created_at'].max()}"
    model_version = f"conv-{as_of:%Y%m%d}-{hashlib.sha256(version_src.encode()).hexdigest()[:8]}"
    card = {
        "model_version": model_version,
        "rules_version": rules_version,
        "trained_at": datetime.now().isoformat(timespec="seconds"),
        "trained_as_of": as_of.isoformat(),
        "features": cfg.features,
        "metrics": metrics,
        "n_train": len(train),
        "n_holdout": len(hold),
        "n_decided": len(decided),
        "n_converted": n_pos,
        "training_window": {
            "first_lead_created_at": str(decided["created_at"].min()),
            "last_lead_created_at": str(decided["created_at"].max()),
            "holdout_from": str(hold["created_at"].min()),
        },
        "permutation_importance": importance,
        "baselines": baselines,
        "score_hist": _hist_summary(p_train),
        "feature_hists": {f: _hist_summary(X_all[f].to_numpy()) for f in top_numeric},
    }
    holdout = hold[["lead_id", "created_at", "y"]].assign(p=ph)
    msg = f"Trained {model_version} on {len(decided)} decided leads ({n_pos} converted)."
    return TrainResult(final, card, msg, holdout, calibration_table(yh, ph))


# --- Persistence and reuse ----------------------------------------------------------------------


def save_model(result: TrainResult, models_dir: Path) -> Path:
    """Write ``model.joblib`` and ``card.json`` under ``models_dir/conversion/<version>/``.

    Written into a hidden ``.tmp-*`` folder first and renamed into place, so a run killed
    mid-write never leaves a half-written model that a later run would load (the leftover
    folder is swept by :mod:`pipelines.recovery`)."""
    root = Path(models_dir) / "conversion"
    target = root / result.card["model_version"]
    if (target / "card.json").exists():  # same version: the same training data and rules
        return target
    tmp = root / f".tmp-{result.card['model_version']}-{uuid.uuid4().hex[:8]}"
    tmp.mkdir(parents=True)
    joblib.dump(result.model, tmp / "model.joblib")
    (tmp / "card.json").write_text(
        json.dumps(result.card, indent=2, ensure_ascii=False, default=str)
    )
    shutil.rmtree(target, ignore_errors=True)  # a folder an older release left half-written
    os.rename(tmp, target)
    return target


def load_latest_model(models_dir: Path, as_of: date) -> tuple[Any, dict[str, Any]] | None:
    """The stored model trained for the latest date on or before ``as_of``, and its card, or
    None. A model trained for a later date is never used: a backfill must not see the future."""
    root = Path(models_dir) / "conversion"
    cards = []
    for card_path in root.glob("*/card.json"):
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


def drift_report(
    model: Any, card: dict[str, Any], recent: pd.DataFrame, cfg: ConversionConfig
) -> dict[str, float]:
    """PSI of the score and the key numeric features on recent leads vs training."""
    if len(recent) < cfg.drift_min_rows:
        return {}
    X = model_matrix(recent, cfg)
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


# --- Scoring and explanations -------------------------------------------------------------------


def explain(
    model: Any,
    X: pd.DataFrame,
    card: dict[str, Any],
    cfg: ConversionConfig,
    p: np.ndarray | None = None,
) -> pd.DataFrame:
    """Signed per-feature contributions by perturbation: p(x) - p(x with feature at baseline).

    Only the ``explain_features`` globally most important features are perturbed (one batched
    prediction per feature), which keeps this vectorised for a million accounts. ``p`` is
    ``model.predict_proba(X)[:, 1]`` when the caller already has it.
    """
    imp = card["permutation_importance"]
    top = sorted(imp, key=imp.get, reverse=True)[: cfg.explain_features]
    if p is None:
        p = model.predict_proba(X)[:, 1]
    contrib = {}
    for f in top:
        base = card["baselines"][f]
        # Rows already at the baseline contribute exactly 0: predict only the others. Features
        # such as prior_paid_orders are at their median (0) for most accounts, and the
        # calibrated ensemble's predict is the dominant cost at 1M accounts.
        differs = (X[f] != base).to_numpy() & X[f].notna().to_numpy()
        differs |= X[f].isna().to_numpy() & pd.notna(base)
        c = np.zeros(len(X))
        if differs.any():
            Xb = X.loc[differs].copy()
            Xb[f] = base
            c[differs] = p[differs] - model.predict_proba(Xb)[:, 1]
        contrib[f] = c
    return pd.DataFrame(contrib, index=X.index)


def fallback_scores(accounts: pd.DataFrame, message: str) -> pd.DataFrame:
    """No model: probability = fit_score / 100, labelled so BI can tell."""
    out = pd.DataFrame({"golden_account_id": accounts["golden_account_id"].to_numpy()})
    out["conversion_probability"] = (
        pd.to_numeric(accounts["fit_score"], errors="coerce").fillna(0).to_numpy() / 100
    ).clip(0, 1)
    out["conversion_source"] = "fit_fallback"
    out["conversion_reason"] = (
        "no conversion model (" + message.split(":")[0] + "); based on ICP fit"
    )
    out["conversion_reason_zh"] = "无转化模型，按画像匹配度估计"
    return out


def score_accounts(
    model: Any, card: dict[str, Any], features: pd.DataFrame, cfg: ConversionConfig
) -> pd.DataFrame:
    """Per-account probability with the top contributing features in words."""
    X = model_matrix(features, cfg)
    p = model.predict_proba(X)[:, 1]
    contrib = explain(model, X, card, cfg, p)
    labels = [
        (X[f].astype(str) if f in CATEGORICAL else X[f].round(1).astype(str))
        for f in contrib.columns
    ]
    # Label each contribution with the feature and the account's value, e.g. "events_lookback=3".
    names = (
        np.stack(
            [(f + "=" + lab).to_numpy() for f, lab in zip(contrib.columns, labels, strict=True)],
            axis=1,
        )
        if len(contrib.columns)
        else np.empty((len(X), 0))
    )
    vals = contrib.to_numpy() * 100
    order = np.argsort(-np.abs(vals), axis=1)[:, :2]
    rows = np.arange(len(X))
    parts_en = []
    for j in range(order.shape[1]):
        v = vals[rows, order[:, j]]
        s = pd.Series(names[rows, order[:, j]]) + " " + pd.Series(v).map("{:+.0f} pts".format)
        parts_en.append(s.where(np.abs(v) >= 0.5, ""))
    drivers = join_parts(parts_en, ", ")
    out = pd.DataFrame({"golden_account_id": features["golden_account_id"].to_numpy()})
    out["conversion_probability"] = p
    out["conversion_source"] = "model"
    out["conversion_reason"] = (
        "conversion "
        + pd.Series((p * 100).round(0).astype(int)).astype(str)
        + "%: "
        + drivers.replace("", "close to typical lead")
    )
    out["conversion_reason_zh"] = (
        "转化概率"
        + pd.Series((p * 100).round(0).astype(int)).astype(str)
        + "%："
        + drivers.replace("", "与典型线索相近")
    )
    for f in contrib.columns:
        out[f"conversion_contrib_{f}"] = contrib[f].to_numpy()
    return out


__all__ = [
    "ConversionConfig",
    "TrainResult",
    "build_model",
    "calibration_table",
    "drift_report",
    "explain",
    "fallback_scores",
    "features_sql",
    "lead_features",
    "load_latest_model",
    "model_matrix",
    "psi",
    "retrain_reason",
    "save_model",
    "score_accounts",
    "time_split",
    "train_conversion_model",
]
