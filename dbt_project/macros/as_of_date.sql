{#
    The run's as-of date as a SQL date literal. Every window (30/90/365 days, "new",
    "dormant") is measured back from it, and only what was true on it is used (record versions
    updated by its end, orders and events dated on or before it), so a run for a past date sees
    the world as it was then.
    It comes only from the run: dbt --vars '{as_of_date: YYYY-MM-DD}', which the Dagster dbt
    asset passes from the run's partition. Without it a build fails rather than guess a date.
#}
{% macro as_of_date() -%}
    {%- set value = var('as_of_date', none) -%}
    {%- if value is none -%}
        {%- if execute -%}
            {{ exceptions.raise_compiler_error(
                "as_of_date is not set: run dbt with --vars '{as_of_date: YYYY-MM-DD}' "
                ~ "(the Dagster asset passes the run's partition)") }}
        {%- endif -%}
        {%- set value = '1970-01-01' -%}
    {%- endif -%}
    cast('{{ value }}' as date)
{%- endmacro %}

{#
    Exclusive upper bound of timestamps "as of" the run's date: midnight after it. A record
    version updated at 23:59 on the as-of date counts; one updated the next morning does not.
#}
{% macro as_of_end() -%}
    cast({{ dbt.dateadd('day', 1, as_of_date()) }} as timestamp)
{%- endmacro %}
