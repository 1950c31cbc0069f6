{#
    The snapshot materialization on Spark, for plain Parquet tables (docs/scale-out.md).

    dbt-spark's own snapshot materialization refuses any file format but Delta, Iceberg or Hudi,
    because it records a run with MERGE. Their jars come from Maven, which this project cannot
    reach, so the project overrides it for the spark adapter (the root project's
    materialization wins over the adapter's; DuckDB keeps dbt's default one, untouched). The
    changes are staged by dbt's own snapshot_staging_table (strategy, check columns, hard
    deletes), as in dbt-spark; instead of MERGE, the whole history is rebuilt into a
    side table and the target is overwritten from it (Spark cannot overwrite a table that
    the same statement reads):

    * every target row, its dbt_valid_to set to the staged one when it is current and a staged
      update or delete names its dbt_scd_id;
    * plus every staged insert.

    That is DuckDB's snapshot merge (dbt-duckdb: an UPDATE of the current rows, then an INSERT
    of every staged insert), so both engines record the same versions. Each run rewrites the
    whole history: right for plain files; with Delta or Iceberg on a cluster, dropping this
    override gives back dbt-spark's MERGE. The overwrite is not atomic (no plain Parquet table
    on Spark is): should it fail, the rebuilt history is left in <name>__dbt_history.
#}
{% materialization snapshot, adapter='spark' %}

    {%- set target_table = model.get('alias', model.get('name')) -%}
    {%- set strategy_name = config.get('strategy') -%}
    {%- set grant_config = config.get('grants') -%}

    {% set target_relation_exists, target_relation = get_or_create_relation(
        database=none, schema=model.schema, identifier=target_table, type='table') -%}

    {% if not adapter.check_schema_exists(model.database, model.schema) %}
        {% do create_schema(model.schema) %}
    {% endif %}
    {%- if not target_relation.is_table -%}
        {% do exceptions.relation_wrong_type(target_relation, 'table') %}
    {%- endif -%}

    {{ run_hooks(pre_hooks, inside_transaction=False) }}
    {{ run_hooks(pre_hooks, inside_transaction=True) }}

    {% set strategy_macro = strategy_dispatch(strategy_name) %}
    {% set strategy = strategy_macro(
        model, "snapshotted_data", "source_data", model['config'], target_relation_exists) %}

    {% if not target_relation_exists %}
        {% call statement('main') %}
            {{ create_table_as(False, target_relation,
                build_snapshot_table(strategy, model['compiled_code'])) }}
        {% endcall %}
    {% else %}
        {% set columns = config.get("snapshot_table_column_names")
            or get_snapshot_table_column_names() %}
        {{ adapter.assert_valid_snapshot_target_given_strategy(target_relation, columns, strategy) }}
        {% set staged = snapshot_side_table(target_relation, '__dbt_tmp',
            snapshot_staging_table(strategy, sql, target_relation)) %}
        {% set change_columns = ['dbt_change_type', 'DBT_CHANGE_TYPE', 'dbt_unique_key',
            'DBT_UNIQUE_KEY'] %}
        {% do create_columns(target_relation, adapter.get_missing_columns(staged, target_relation)
            | rejectattr('name', 'in', change_columns) | list) %}
        {% set history = snapshot_side_table(target_relation, '__dbt_history',
            snapshot_history_sql(target_relation, staged, columns)) %}
        {% call statement('main') %}
            insert overwrite table {{ target_relation }} select * from {{ history }}
        {% endcall %}
    {% endif %}

    {% set should_revoke = should_revoke(target_relation_exists, full_refresh_mode=False) %}
    {% do apply_grants(target_relation, grant_config, should_revoke) %}
    {% do persist_docs(target_relation, model) %}

    {{ run_hooks(post_hooks, inside_transaction=True) }}
    {{ adapter.commit() }}
    {% if staged is defined %}
        {% do adapter.drop_relation(staged) %}
        {% do adapter.drop_relation(history) %}
    {% endif %}
    {{ run_hooks(post_hooks, inside_transaction=False) }}

    {{ return({'relations': [target_relation]}) }}

{% endmaterialization %}


{# A table beside the snapshot (<name><suffix>) built from select_sql; one left by a failed run
   is dropped first. A table, not a view: each is read more than once, and the staged changes
   must not be recomputed against the target once it is being overwritten. #}
{% macro snapshot_side_table(target_relation, suffix, select_sql) %}
    {%- set relation = api.Relation.create(
        identifier=target_relation.identifier ~ suffix, schema=target_relation.schema,
        database=none, type='table') -%}
    {%- set leftover = adapter.get_relation(
        database=none, schema=relation.schema, identifier=relation.identifier) -%}
    {% if leftover is not none %}
        {% do adapter.drop_relation(leftover) %}
    {% endif %}
    {% call statement('build_' ~ suffix.strip('_')) %}
        {{ create_table_as(False, relation, select_sql) }}
    {% endcall %}
    {% do return(relation) %}
{% endmacro %}


{# The snapshot after this run, in the target's column order: the target's rows with the
   current versions that a staged update or delete ends closed, then the staged inserts. #}
{% macro snapshot_history_sql(target_relation, staged, columns) %}
    {%- set target_columns = adapter.get_columns_in_relation(target_relation) -%}
    {%- set staged_names = adapter.get_columns_in_relation(staged) | map(attribute='name')
        | map('lower') | list -%}
    {%- if config.get('dbt_valid_to_current') -%}
        {%- set is_current -%}
            (snapshotted.{{ columns.dbt_valid_to }} = {{ config.get('dbt_valid_to_current') }}
            or snapshotted.{{ columns.dbt_valid_to }} is null)
        {%- endset -%}
    {%- else -%}
        {%- set is_current = 'snapshotted.' ~ columns.dbt_valid_to ~ ' is null' -%}
    {%- endif -%}
    with

    closing as (
        -- one row per version: a duplicate could only multiply target rows
        select {{ columns.dbt_scd_id }}, max({{ columns.dbt_valid_to }}) as closed_at
        from {{ staged }}
        where dbt_change_type in ('update', 'delete')
        group by {{ columns.dbt_scd_id }}
    )

    select
        {%- for column in target_columns %}
        {%- set name = adapter.quote(column.name) %}
        {%- if column.name | lower == columns.dbt_valid_to | lower %}
        case
            when closing.{{ columns.dbt_scd_id }} is not null then closing.closed_at
            else snapshotted.{{ name }}
        end as {{ name }}{{ ',' if not loop.last }}
        {%- else %}
        snapshotted.{{ name }}{{ ',' if not loop.last }}
        {%- endif %}
        {%- endfor %}
    from {{ target_relation }} as snapshotted
    left join closing
        on closing.{{ columns.dbt_scd_id }} = snapshotted.{{ columns.dbt_scd_id }}
        and {{ is_current }}

    union all

    select
        {%- for column in target_columns %}
        {%- if column.name | lower in staged_names %}
        staged.{{ adapter.quote(column.name) }}{{ ',' if not loop.last }}
        {%- else %}
        cast(null as {{ column.data_type }}) as {{ adapter.quote(column.name) }}
        {{- ',' if not loop.last }}
        {%- endif %}
        {%- endfor %}
    from {{ staged }} as staged
    where staged.dbt_change_type = 'insert'
{% endmacro %}
