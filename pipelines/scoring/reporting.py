"""Metadata helpers shared by the score assets: markdown tables and small inline PNG charts."""

from __future__ import annotations

import base64
import io
from collections.abc import Sequence

import numpy as np
import pandas as pd


def markdown_table(df: pd.DataFrame, float_fmt: str = "{:,.3f}") -> str:
    """Render a small frame as a GitHub markdown table (no tabulate dependency)."""
    cols = [str(c) for c in df.columns]
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for row in df.itertuples(index=False):
        cells = []
        for v in row:
            if isinstance(v, float | np.floating):
                cells.append("" if np.isnan(v) else float_fmt.format(v))
            else:
                cells.append(str(v))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


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
