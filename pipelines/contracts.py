"""Column contracts, written once, in the dbt project's YAML, and read from there by Python.

Every interface between stages has its columns (name, type, meaning) in exactly one
``_*.yml`` file under ``dbt_project/models``: a model's enforced contract (``customer_360``,
``account_features``, ``account_scores``, ``published_customer_tier``) or a source's declared
columns where Python writes the table (``tiers.*``) or publish builds it (``serving.*``).
Python writers create and cast their tables from these lists; tests check the docs against
them. Reading the YAML needs neither dbt nor a manifest.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path

import yaml

from pipelines.settings import DBT_PROJECT_DIR

MODELS_DIR = DBT_PROJECT_DIR / "models"


@dataclass(frozen=True)
class Column:
    name: str
    data_type: str  # SQL type as written in the contract, e.g. "varchar", "decimal(18,2)"
    description: str


@cache
def _yaml_files(models_dir: Path = MODELS_DIR) -> tuple[dict, ...]:
    return tuple(
        yaml.safe_load(p.read_text(encoding="utf-8")) or {}
        for p in sorted(models_dir.rglob("*.yml"))
    )


def _columns(entries: list[dict], where: str) -> list[Column]:
    columns = []
    for entry in entries:
        if "data_type" not in entry:
            raise KeyError(f"{where}: column {entry['name']} has no data_type")
        columns.append(Column(entry["name"], entry["data_type"], entry.get("description", "")))
    return columns


def model_columns(model: str) -> list[Column]:
    """The contract of a dbt model, in order."""
    for doc in _yaml_files():
        for node in doc.get("models", []):
            if node["name"] == model:
                return _columns(node.get("columns", []), f"model {model}")
    raise KeyError(f"no dbt model {model} in {MODELS_DIR}")


def _source_table(source: str, table: str) -> dict | None:
    for doc in _yaml_files():
        for src in doc.get("sources", []):
            if src["name"] != source:
                continue
            for node in src.get("tables", []):
                if node["name"] == table:
                    return node
    return None


def source_columns(source: str, table: str) -> list[Column]:
    """The declared columns of a dbt source table, in order."""
    node = _source_table(source, table)
    if node is None:
        raise KeyError(f"no dbt source {source}.{table} in {MODELS_DIR}")
    return _columns(node.get("columns", []), f"source {source}.{table}")


def source_descriptions(source: str, table: str) -> dict[str, str]:
    """``{column: description}`` of a dbt source table's declared columns (typed or not);
    empty when the project does not declare the table."""
    node = _source_table(source, table) or {}
    return {c["name"]: c.get("description", "") for c in node.get("columns", [])}


def types_of(columns: list[Column]) -> dict[str, str]:
    """``{name: data_type}`` in contract order (what the table writers cast to)."""
    return {c.name: c.data_type for c in columns}


def policy_scores() -> tuple[frozenset[str], frozenset[str], dict[str, tuple[str, str]]]:
    """The account_scores columns a tier policy may use: numeric ones, categorical ones and
    each one's words (English, Chinese), from the contract's ``meta`` (``tier_policy``,
    ``label_en``, ``label_zh``)."""
    numeric, categorical, labels = set(), set(), {}
    for doc in _yaml_files():
        for node in doc.get("models", []):
            if node["name"] != "account_scores":
                continue
            for col in node.get("columns", []):
                meta = col.get("meta") or {}
                kind = meta.get("tier_policy")
                if kind is None:
                    continue
                (numeric if kind == "numeric" else categorical).add(col["name"])
                labels[col["name"]] = (meta["label_en"], meta["label_zh"])
    return frozenset(numeric), frozenset(categorical), labels
