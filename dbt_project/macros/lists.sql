{#
    One row per element of a delimited string, in a select list:
    `select split_to_rows("a || ',' || b", ',') as tag from t`. Empty elements are kept.
#}
{% macro split_to_rows(expr, delimiter) -%}
    {{ return(adapter.dispatch('split_to_rows', 'stratum')(expr, delimiter)) }}
{%- endmacro %}

{% macro default__split_to_rows(expr, delimiter) -%}
    unnest(string_split({{ expr }}, '{{ delimiter }}'))
{%- endmacro %}

{# Spark's split() takes a regex: the delimiter is quoted as a literal. #}
{% macro spark__split_to_rows(expr, delimiter) -%}
    explode(split({{ expr }}, '\\Q{{ delimiter }}\\E'))
{%- endmacro %}
