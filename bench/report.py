"""Benchmark results: one JSON file per day under ``bench/results/``, and the tables made of
them in ``docs/performance.md`` and the README.

A day's file holds one entry per size measured that day (a later run of the same size the
same day replaces it). The tables show, for each size, its latest entry over all files, so a
quick ``make bench SIZES=100000`` today leaves yesterday's 1M figures in place, each with its
date and machine load.
"""

from __future__ import annotations

import json
import re
from datetime import date
from pathlib import Path

from _measure import REPO

from pipelines.metadata import markdown_table

RESULTS = REPO / "bench" / "results"
PERFORMANCE_DOC = REPO / "docs" / "performance.md"
README = REPO / "README.md"
SCENARIOS = (("full", "full run"), ("next_day", "next day, 1% new"), ("rerun", "rerun, no change"))


def save(entry: dict, day: date, results: Path = RESULTS) -> Path:
    """Add one size's ``entry`` to the day's results file; returns its path."""
    results.mkdir(parents=True, exist_ok=True)
    path = results / f"{day.isoformat()}.json"
    data = json.loads(path.read_text()) if path.exists() else {"date": day.isoformat()}
    data.setdefault("sizes", {})[str(entry["accounts"])] = entry
    path.write_text(json.dumps(data, indent=1, sort_keys=True) + "\n")
    return path


def latest_entries(results: Path = RESULTS) -> list[dict]:
    """The latest entry of each size over every results file, smallest size first."""
    latest: dict[int, dict] = {}
    for path in sorted(results.glob("*.json")):
        for entry in json.loads(path.read_text()).get("sizes", {}).values():
            latest[int(entry["accounts"])] = entry
    return [latest[k] for k in sorted(latest)]


def _s(value: float | None) -> str:
    return "" if value is None else f"{value:,.1f} s"


def _gb(mb: float | None) -> str:
    return "" if mb is None else f"{mb / 1024:.2f} GB"


def _ratio(entry: dict, key: str) -> str:
    floor, full = entry["floor"].get(key), entry["full"].get(key)
    return f"{full / floor:.1f}×" if floor and full else ""


def _load(entry: dict) -> str:
    full = entry["full"]
    busy = full.get("neighbours_cpu_s", 0) / max(full.get("wall_s", 1), 1e-9)
    return f"load {full.get('load_avg_1m', 0):.1f}; others used {busy:.1f} of {entry['cpus']} CPUs"


def headline_table(entries: list[dict]) -> str:
    """Per size: landing rows, the full run beside the floor (the ratio is the headline),
    the daily run, the no-change rerun, peak memory, and the machine's load."""
    rows = []
    for e in entries:
        rerun = e.get("rerun", {})
        nothing = "none published" if not rerun.get("published_snapshots") else "PUBLISHED"
        rows.append(
            [
                f"{e['accounts']:,}",
                f"{e['landing_rows'] / 1e6:.2f} M",
                _s(e["full"].get("wall_s")),
                _s(e["floor"].get("wall_s")),
                _ratio(e, "wall_s"),
                _ratio(e, "cpu_s"),
                _gb(e["full"].get("peak_rss_mb")),
                _s(e.get("next_day", {}).get("wall_s")),
                f"{_s(rerun.get('wall_s'))} ({nothing})" if rerun else "",
                f"{e['date']}, {_load(e)}",
            ]
        )
    headers = [
        "accounts", "landing rows", "full run", "floor", "ratio (wall)", "ratio (CPU)",
        "peak memory", "next day, 1% new", "rerun, no change", "measured",
    ]  # fmt: skip
    return markdown_table(rows, headers, right_align=headers[1:9])


def _group(step: str) -> str:
    """The row a step is shown in: the many small check steps on the raw tables are one row."""
    return "checks on raw/*" if step.startswith("raw__") else f"`{step}`"


def _grouped(steps: list[dict]) -> dict[str, dict]:
    rows: dict[str, dict] = {}
    for step in steps:
        name = _group(step["step"])
        if name not in rows:
            rows[name] = dict(step, count=1)
            continue
        row = rows[name]
        row["count"] += 1
        row["wall_s"] = round(row["wall_s"] + step["wall_s"], 2)
        row["cpu_s"] = round(row["cpu_s"] + step["cpu_s"], 2)
        row["peak_rss_mb"] = max(row["peak_rss_mb"], step["peak_rss_mb"])
        if step["status"] != "ok":
            row["status"] = step["status"]
    return rows


def steps_table(entry: dict) -> str:
    """One size's steps: wall, CPU and peak memory in the full run; wall in the others."""
    by_step: dict[str, dict[str, dict]] = {}
    for scenario, _ in SCENARIOS:
        for name, step in _grouped(entry.get(scenario, {}).get("steps", [])).items():
            by_step.setdefault(name, {})[scenario] = step
    full = entry["full"]
    rows = [["start-up (processes, imports)", _s(full.get("startup_s"))]]
    rows[0] += [_s(full.get("startup_cpu_s")), ""]
    rows[0] += [_s(entry.get(s, {}).get("startup_s")) for s, _ in SCENARIOS[1:]]
    for name, runs in by_step.items():
        first = runs.get("full", {})
        count = max(r["count"] for r in runs.values())
        label = f"{name} ({count} steps)" if count > 1 else name
        row = [label, _s(first.get("wall_s")), _s(first.get("cpu_s"))]
        row.append(f"{first['peak_rss_mb']:,} MB" if first.get("peak_rss_mb") else "")
        for scenario, _ in SCENARIOS[1:]:
            step = runs.get(scenario)
            row.append("" if step is None else _cell(step))
        rows.append(row)
    rows.append(["Dagster between steps, shut-down", _s(full.get("between_steps_s")), "", ""])
    rows[-1] += [_s(entry.get(s, {}).get("between_steps_s")) for s, _ in SCENARIOS[1:]]
    headers = ["step", "full: wall", "full: CPU", "full: peak", "next day: wall", "rerun: wall"]
    return markdown_table(rows, headers, right_align=headers[1:])


def _cell(step: dict) -> str:
    if step["status"] == "skipped":
        return "skipped"
    return _s(step["wall_s"]) + ("" if step["status"] == "ok" else f" ({step['status']})")


def _replace_between(text: str, name: str, body: str) -> str:
    start, end = f"<!-- bench:{name}:start -->", f"<!-- bench:{name}:end -->"
    pattern = re.compile(re.escape(start) + ".*?" + re.escape(end), re.S)
    if not pattern.search(text):
        raise ValueError(f"markers {start} ... {end} not found")
    return pattern.sub(lambda _: f"{start}\n{body}\n{end}", text)


def render(results: Path = RESULTS, doc: Path = PERFORMANCE_DOC, readme: Path = README) -> None:
    """Rewrite the generated tables of ``docs/performance.md`` and the README."""
    entries = latest_entries(results)
    if not entries:
        return
    parts = [headline_table(entries)]
    for e in entries:
        parts.append(f"\n**{e['accounts']:,} accounts** ({e['date']}, commit {e['commit']}):\n")
        parts.append(steps_table(e))
    doc.write_text(_replace_between(doc.read_text(), "tables", "\n".join(parts)))
    readme.write_text(_replace_between(readme.read_text(), "summary", headline_table(entries)))
