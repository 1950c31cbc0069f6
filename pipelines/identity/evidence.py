"""Per-pair evidence in words: which comparison level each pair fell in, with its weight.

Splink's predictions carry a match weight per comparison (``mw_<comparison>``, log2 of the
Bayes factor); each level of a trained model has a distinct weight, so the level (and its
label) is recovered from the model's parameters. Contact data never appears: the phone
comparison says "a contact phone number in common", not the number.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from pipelines.identity.model import COMPARISONS, EVIDENCE_LABELS


def level_weights(model_json: dict) -> dict[str, list[float]]:
    """Per comparison: the match weight of each level (0 for null levels), in level order."""
    out: dict[str, list[float]] = {}
    for comparison in model_json["comparisons"]:
        weights = []
        for level in comparison["comparison_levels"]:
            m, u = level.get("m_probability"), level.get("u_probability")
            if level.get("is_null_level") or not m or not u:
                weights.append(0.0)
            else:
                weights.append(math.log2(m / u))
        out[comparison["output_column_name"]] = weights
    return out


def evidence_columns(pairs: pd.DataFrame, model_json: dict) -> pd.DataFrame:
    """``evidence_<comparison>`` text ("same city (+4.0)") per pair, plus a one-line summary."""
    weights = level_weights(model_json)
    out = pd.DataFrame(index=pairs.index)
    parts = []
    for name in COMPARISONS:
        mw = pairs[f"mw_{name}"].to_numpy(dtype=float)
        levels = np.array(weights[name])
        nearest = np.abs(mw[:, None] - levels[None, :]).argmin(axis=1)
        # a null level and a genuine zero-weight level both read as "no evidence"
        labels = np.array(EVIDENCE_LABELS[name], dtype=object)[nearest]
        text = (
            pd.Series(labels, index=pairs.index)
            + " ("
            + pd.Series(mw, index=pairs.index).map("{:+.1f}".format)
            + ")"
        )
        out[f"evidence_{name}"] = text
        parts.append(name + ": " + text)
    summary = parts[0]
    for part in parts[1:]:
        summary = summary + "; " + part
    out["evidence"] = summary
    return out
