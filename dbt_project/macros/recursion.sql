{#
    Walking up the customer tree, on every engine. Both hierarchy models follow parent links
    from a set of start rows, one link per step, while a condition holds:

        with {{ with_recursive() }}
        ...
        {{ parent_walk('walk', anchor_sql, 'edges', condition_sql, max_steps) }},

    `anchor_sql` gives the start rows (start_id, current_id, depth, path); `edges` is a relation
    with at most one parent_golden_account_id per golden_account_id; `condition_sql`, over the
    aliases `walk` (the row so far) and `edges` (its parent link), says whether the walk takes
    that link. Each step adds a row: the parent as current_id, depth + 1, the parent appended
    to the '/'-delimited path. The condition must stop every walk within `max_steps` (a depth
    guard), so that the engines below give the same rows.
#}
{% macro with_recursive() -%}
    {{ return(adapter.dispatch('with_recursive', 'stratum')()) }}
{%- endmacro %}

{% macro default__with_recursive() -%}
    recursive
{%- endmacro %}

{% macro spark__with_recursive() -%}
{%- endmacro %}

{% macro parent_walk(name, anchor, edges, condition, max_steps) -%}
    {{ return(adapter.dispatch('parent_walk', 'stratum')(name, anchor, edges, condition, max_steps)) }}
{%- endmacro %}

{# A recursive CTE. #}
{% macro default__parent_walk(name, anchor, edges, condition, max_steps) -%}
{{ name }} as (

    {{ anchor }}

    union all

    select
        walk.start_id,
        edges.parent_golden_account_id as current_id,
        walk.depth + 1 as depth,
        walk.path || edges.parent_golden_account_id || '/' as path
    from {{ name }} as walk
    inner join {{ edges }} as edges
        on walk.current_id = edges.golden_account_id
    where {{ condition }}

)
{%- endmacro %}

{#
    Spark 3.5 has no recursive CTE. With one parent per account a walk is a chain, so the walk
    is unrolled into max_steps left joins that each add the next step's columns to the start
    row (step k: current_id_k, depth_k, path_k; null once the walk has stopped), and the steps
    are turned into rows at the end with stack(). Each step reads the one before it once, so
    the plan grows linearly with max_steps (a union of unrolled steps would re-derive every
    step from the anchor and grow quadratically).
#}
{% macro spark__parent_walk(name, anchor, edges, condition, max_steps) -%}
{{ name }}_0 as (

    select
        start_id,
        current_id as current_id_0,
        depth as depth_0,
        path as path_0
    from (
        {{ anchor }}
    ) as anchor

),
{%- for k in range(1, max_steps + 1) %}

{{ name }}_{{ k }} as (

    select
        walk.start_id,
        {%- for j in range(k) %}
        walk.current_id_{{ j }},
        walk.depth_{{ j }},
        walk.path_{{ j }},
        {%- endfor %}
        edges.parent_golden_account_id as current_id_{{ k }},
        case when edges.golden_account_id is not null then walk.depth + 1 end as depth_{{ k }},
        walk.path || edges.parent_golden_account_id || '/' as path_{{ k }}
    from (
        select
            *,
            current_id_{{ k - 1 }} as current_id,
            depth_{{ k - 1 }} as depth,
            path_{{ k - 1 }} as path
        from {{ name }}_{{ k - 1 }}
    ) as walk
    left join {{ edges }} as edges
        on walk.current_id = edges.golden_account_id
        and {{ condition }}

),
{%- endfor %}

{{ name }} as (

    select
        start_id,
        current_id,
        depth,
        path
    from (
        select
            start_id,
            stack(
                {{ max_steps + 1 }},
                {%- for j in range(max_steps + 1) %}
                current_id_{{ j }}, depth_{{ j }}, path_{{ j }}{{ ',' if not loop.last }}
                {%- endfor %}
            ) as (current_id, depth, path)
        from {{ name }}_{{ max_steps }}
    ) as steps
    where depth is not null

)
{%- endmacro %}
