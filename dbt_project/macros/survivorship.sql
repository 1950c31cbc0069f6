{#
    Survivorship helper: the value of `expr` from the most recent non-null record of a window
    partition, e.g. the latest non-null industry among the CRM records of one golden account.
    `ignore nulls` is not in every dialect (Postgres lacks it), hence the dispatch.
#}
{% macro latest_non_null(expr, partition_by, order_by) -%}
    {{ return(adapter.dispatch('latest_non_null', 'stratum')(expr, partition_by, order_by)) }}
{%- endmacro %}

{% macro default__latest_non_null(expr, partition_by, order_by) -%}
    first_value({{ expr }} ignore nulls) over (
        partition by {{ partition_by }}
        order by {{ order_by }}
        rows between unbounded preceding and unbounded following
    )
{%- endmacro %}

{# Spark's first_value takes "ignore nulls" as its second argument. #}
{% macro spark__latest_non_null(expr, partition_by, order_by) -%}
    first_value({{ expr }}, true) over (
        partition by {{ partition_by }}
        order by {{ order_by }}
        rows between unbounded preceding and unbounded following
    )
{%- endmacro %}

{#
    Size band from head count (the one place it is defined):
    micro < 10, small 10-99, medium 100-999, large 1000-9999, enterprise >= 10000; null if unknown.
#}
{% macro size_band(employee_count) -%}
    case
        when {{ employee_count }} is null then null
        when {{ employee_count }} < 10 then 'micro'
        when {{ employee_count }} < 100 then 'small'
        when {{ employee_count }} < 1000 then 'medium'
        when {{ employee_count }} < 10000 then 'large'
        else 'enterprise'
    end
{%- endmacro %}
