"""Dagster metadata, rendered one way: Markdown tables and small inline PNG charts.

Every asset that shows a table in the Dagster UI renders it with :func:`markdown_table`, so
numbers, nulls and escaping look the same everywhere (no dependency on ``tabulate``).
"""

from __future__ import annotations

import base64
import io
import math
from collections.abc import Collection, Mapping, Sequence

import numpy as np
import pandas as pd


def _cell(value: object, float_format: str) -> str:
    if value is None or value is pd.NA or value is pd.NaT:
        return ""
    if isinstance(value, float | np.floating):
        return "" if math.isnan(value) else float_format.format(value)
    # A cell stays on one line and never opens a new column.
    return str(value).replace("|", "\\|").replace("\n", " ")


def markdown_table(
    data: pd.DataFrame | Sequence[Sequence[object]],
    headers: Sequence[str] | None = None,
    *,
    index: bool = False,
    float_format: str = "{:,.3f}",
    right_align: Collection[str] = (),
) -> str:
    """A GitHub Markdown table of a DataFrame (``index=True`` keeps its index as the first
    column) or of ``rows`` with ``headers``. Floats use ``float_format``; nulls are empty;
    columns named in ``right_align`` are right-aligned."""
    if isinstance(data, pd.DataFrame):
        frame = data.reset_index() if index else data
        headers = [str(c) for c in frame.columns]
        rows: Sequence[Sequence[object]] = list(frame.itertuples(index=False, name=None))
    else:
        if headers is None:
            raise ValueError("rows need headers")
        rows = data
    lines = [
        "| " + " | ".join(headers) + " |",
        "|" + "|".join("---:" if h in right_align else "---" for h in headers) + "|",
    ]
    lines += ["| " + " | ".join(_cell(v, float_format) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def mapping_table(
    values: Mapping[str, object], headers: Sequence[str] = ("measure", "value")
) -> str:
    """A two-column table of a mapping; nested mappings are shown as ``k: v, ...``."""
    rows = []
    for key, value in values.items():
        if isinstance(value, Mapping):
            value = ", ".join(f"{k}: {v}" for k, v in value.items()) or "-"
        rows.append((key, value))
    return markdown_table(rows, headers)


def _png_markdown(fig) -> str:
    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=72, bbox_inches="tight")
    plt.close(fig)
    return f"![](data:image/png;base64,{base64.b64encode(buf.getvalue()).decode()})"


def _figure(width: float = 4.5, height: float = 2.6):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt.subplots(figsize=(width, height))


def bar_chart_md(labels: Sequence[str], values: Sequence[float], title: str) -> str:
    """A small bar chart as inline markdown image."""
    fig, ax = _figure()
    ax.bar([str(x) for x in labels], list(values), color="#4C72B0")
    ax.set_title(title, fontsize=9)
    ax.tick_params(axis="x", labelrotation=45, labelsize=7)
    ax.tick_params(axis="y", labelsize=7)
    return _png_markdown(fig)


def histogram_md(values: pd.Series, title: str, bins: int = 20) -> str:
    """A small histogram (nulls dropped) as inline markdown image."""
    fig, ax = _figure()
    data = pd.to_numeric(values, errors="coerce").dropna().to_numpy(dtype=float)
    if data.size:
        ax.hist(data, bins=bins, color="#4C72B0")
    ax.set_title(title, fontsize=9)
    ax.tick_params(labelsize=7)
    return _png_markdown(fig)


def line_chart_md(
    x: Sequence[float], y: Sequence[float], title: str, diagonal: bool = False
) -> str:
    """A small line chart (optionally with the y=x diagonal) as inline markdown image."""
    fig, ax = _figure(3.2, 3.0)
    ax.plot(list(x), list(y), color="#4C72B0")
    if diagonal:
        ax.plot([0, 1], [0, 1], color="grey", linestyle="--", linewidth=0.8)
    ax.set_title(title, fontsize=9)
    ax.tick_params(labelsize=7)
    return _png_markdown(fig)


def category_distribution_md(values: pd.Series, title: str) -> str:
    """Counts and shares of a categorical column as a markdown table plus a bar chart."""
    counts = values.fillna("(null)").astype(str).value_counts()
    table = pd.DataFrame(
        {
            "value": counts.index,
            "accounts": counts.to_numpy(),
            "share": counts.to_numpy() / max(counts.sum(), 1),
        }
    )
    return markdown_table(table) + "\n\n" + bar_chart_md(counts.index, counts.to_numpy(), title)


def numeric_distribution_md(values: pd.Series, title: str) -> str:
    """Quantiles of a numeric column as a markdown table plus a histogram."""
    s = pd.to_numeric(values, errors="coerce")
    qs = [0.0, 0.1, 0.25, 0.5, 0.75, 0.9, 1.0]
    table = pd.DataFrame(
        {
            "stat": ["non-null", "null"] + [f"p{int(q * 100)}" for q in qs],
            "value": [float(s.notna().sum()), float(s.isna().sum())]
            + ([float(s.quantile(q)) for q in qs] if s.notna().any() else [np.nan] * len(qs)),
        }
    )
    return markdown_table(table) + "\n\n" + histogram_md(s, title)
