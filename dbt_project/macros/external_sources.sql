{#
    Sources are tables the Python stages write (raw.*, scores.*, tiers.*). On DuckDB dbt reads
    them where Python wrote them. On Spark they arrive as Parquet exports
    (pipelines/spark/exchange.py) and are registered here, at the start of every invocation, as
    external tables under their source names, so models read `raw.orders` on either engine.

    var('external_sources'): {"<schema>.<table>": "<directory of Parquet files>", ...}, set by
    the dbt step for the run (only on Spark).
#}
{% macro register_external_sources() -%}
    {{ return(adapter.dispatch('register_external_sources', 'stratum')()) }}
{%- endmacro %}

{% macro default__register_external_sources() -%}
{%- endmacro %}

{% macro spark__register_external_sources() -%}
    {%- if execute -%}
        {%- for relation, location in var('external_sources', {}).items() | sort -%}
            {%- set schema = relation.split('.')[0] -%}
            {%- do run_query('create database if not exists ' ~ schema) -%}
            {#- an external table: dropping it forgets the old files' schema, never the files -#}
            {%- do run_query('drop table if exists ' ~ relation) -%}
            {%- do run_query(
                'create table ' ~ relation ~ " using parquet location '" ~ location ~ "'"
            ) -%}
        {%- endfor -%}
    {%- endif -%}
{%- endmacro %}
