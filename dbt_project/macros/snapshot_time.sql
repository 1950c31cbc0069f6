{#
    The time a snapshot records a change at: the run's as-of date, not the wall clock. dbt
    stamps a deleted account's closed version (hard_deletes: invalidate) with
    snapshot_get_time(), which is now() on every adapter; the snapshot's own changes are already
    in business time (updated_at = the as-of date), so a deletion is too, and a rerun of a date
    records the same history on DuckDB and on Spark.
#}
{% macro stratum_snapshot_time() -%}
    cast({{ as_of_date() }} as timestamp)
{%- endmacro %}

{% macro duckdb__snapshot_get_time() -%}
    {{ stratum_snapshot_time() }}
{%- endmacro %}

{% macro spark__snapshot_get_time() -%}
    {{ stratum_snapshot_time() }}
{%- endmacro %}
