{#
    Time windows relative to the run's as_of_date, on calendar days, as_of_date included:
    in_window('d', 90)      -> d in (as_of - 90 days, as_of]      ("last 90 days")
    in_window('d', 90, 90)  -> d in (as_of - 180 days, as_of - 90] ("previous 90 days")
    `date_expr` must be a date (cast timestamps first).
#}
{% macro in_window(date_expr, days, offset_days=0) -%}
    ({{ date_expr }} > cast({{ dbt.dateadd('day', -(days + offset_days), as_of_date()) }} as date)
    and {{ date_expr }} <= cast({{ dbt.dateadd('day', -offset_days, as_of_date()) }} as date))
{%- endmacro %}

{# 1 when the condition holds, else 0: a portable stand-in for count(*) filter (where ...). #}
{% macro count_if(condition) -%}
    sum(case when {{ condition }} then 1 else 0 end)
{%- endmacro %}

{# Sum of `expr` over rows meeting the condition (0 when none). #}
{% macro sum_if(expr, condition) -%}
    sum(case when {{ condition }} then {{ expr }} else 0 end)
{%- endmacro %}
