"""What the dbt build produced, summarised for Dagster metadata (plain functions, no Dagster).

Row counts are read after dbt has finished and released the DuckDB file (one writer at a time).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import duckdb

from pipelines.metadata import mapping_table


def relations_for(manifest: Mapping[str, Any], unique_ids: Iterable[str]) -> dict[str, str]:
    """Map dbt unique_ids of built tables (models, seeds, snapshots; not views) to relations."""
    nodes = manifest.get("nodes", {})
    relations: dict[str, str] = {}
    for unique_id in unique_ids:
        node = nodes.get(unique_id)
        if node is None or node.get("resource_type") not in {"model", "seed", "snapshot"}:
            continue
        # views would re-run their whole query (e.g. dedup of every order) just to be counted
        if node.get("config", {}).get("materialized") in {"ephemeral", "view"}:
            continue
        identifier = node.get("alias") or node["name"]
        relations[unique_id] = f'"{node["schema"]}"."{identifier}"'
    return relations


def count_relation_rows(
    con: duckdb.DuckDBPyConnection, relations: Mapping[str, str]
) -> dict[str, int]:
    """Row count per key of ``relations`` (key -> quoted relation); missing relations are skipped."""
    counts: dict[str, int] = {}
    for key, relation in relations.items():
        try:
            counts[key] = int(con.execute(f"select count(*) from {relation}").fetchone()[0])
        except duckdb.CatalogException:
            continue
    return counts


def customer_360_summary(con: duckdb.DuckDBPyConnection) -> dict[str, Any]:
    """Headline numbers of the profile: golden vs source accounts, merges, tags, tree, cycles."""
    totals = con.execute(
        """
        select
            count(*) as golden_accounts,
            sum(source_record_count) as source_records,
            sum(case when source_record_count > 1 then 1 else 0 end) as merged_accounts,
            sum(case when group_depth > 0 then 1 else 0 end) as accounts_with_parent,
            sum(case when not industry_is_known then 1 else 0 end) as unknown_industry
        from marts.customer_360
        """
    ).fetchone()
    tags = con.execute(
        """
        select activity_tag, count(*) as accounts
        from marts.customer_360
        group by activity_tag
        order by accounts desc
        """
    ).fetchall()
    rules = con.execute(
        """
        select match_rule, count(*) as records
        from intermediate.int_account_identity_map
        group by match_rule
        order by records desc
        """
    ).fetchall()
    cycles = con.execute(
        "select count(distinct cycle_id) from intermediate.int_account_hierarchy_cycles"
    ).fetchone()[0]
    keys = [
        "golden_accounts",
        "source_records",
        "merged_accounts",
        "accounts_with_parent",
        "unknown_industry",
    ]
    summary: dict[str, Any] = {
        key: int(value or 0) for key, value in zip(keys, totals, strict=True)
    }
    summary["activity_tags"] = {tag: int(n) for tag, n in tags}
    summary["match_rules"] = {rule: int(n) for rule, n in rules}
    summary["hierarchy_cycles_broken"] = int(cycles)
    return summary


def summary_markdown(summary: Mapping[str, Any]) -> str:
    """Render ``customer_360_summary`` as a small Markdown report for the Dagster UI."""
    return mapping_table(summary)
