"""Metadata helpers of the dbt asset, on a tiny in-memory DuckDB."""

from __future__ import annotations

import duckdb

from pipelines.transform.metadata import (
    count_relation_rows,
    customer_360_summary,
    relations_for,
    summary_markdown,
)


def test_relations_for_keeps_built_tables_only():
    manifest = {
        "nodes": {
            "model.s.a": {"resource_type": "model", "schema": "marts", "name": "a", "alias": "a"},
            "model.s.e": {
                "resource_type": "model",
                "schema": "x",
                "name": "e",
                "config": {"materialized": "ephemeral"},
            },
            "model.s.v": {
                "resource_type": "model",
                "schema": "staging",
                "name": "v",
                "config": {"materialized": "view"},
            },
            "test.s.t": {"resource_type": "test", "schema": "x", "name": "t"},
        }
    }
    relations = relations_for(
        manifest, ["model.s.a", "model.s.e", "model.s.v", "test.s.t", "model.s.gone"]
    )
    assert relations == {"model.s.a": '"marts"."a"'}


def test_counts_and_summary():
    con = duckdb.connect()
    con.execute("create schema marts; create schema intermediate")
    con.execute(
        """
        create table marts.customer_360 as
        select * from (values
            ('G-1', 2, 0, true, 'active'),
            ('G-2', 1, 1, false, 'new'),
            ('G-3', 1, 0, true, 'new')
        ) as t(golden_account_id, source_record_count, group_depth, industry_is_known,
               activity_tag)
        """
    )
    con.execute(
        """
        create table intermediate.int_account_identity_map as
        select * from (values ('a', 'uscc'), ('b', 'uscc'), ('c', 'singleton'), ('d', 'singleton'))
            as t(account_id, match_rule)
        """
    )
    con.execute(
        "create table intermediate.int_account_hierarchy_cycles as "
        "select * from (values ('G-1', 'G-1'), ('G-2', 'G-1')) as t(golden_account_id, cycle_id)"
    )
    counts = count_relation_rows(
        con, {"c360": '"marts"."customer_360"', "missing": '"marts"."nope"'}
    )
    assert counts == {"c360": 3}

    summary = customer_360_summary(con)
    assert summary["golden_accounts"] == 3
    assert summary["source_records"] == 4
    assert summary["merged_accounts"] == 1
    assert summary["accounts_with_parent"] == 1
    assert summary["unknown_industry"] == 1
    assert summary["activity_tags"] == {"new": 2, "active": 1}
    assert summary["match_rules"] == {"uscc": 2, "singleton": 2}
    assert summary["hierarchy_cycles_broken"] == 1
    assert "| golden_accounts | 3 |" in summary_markdown(summary)
