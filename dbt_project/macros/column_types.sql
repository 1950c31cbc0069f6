{#
    Contract types are written once, in the dbt YAML, in DuckDB's spelling (varchar, integer,
    double...), because Python creates its own tables from them (pipelines/contracts.py). dbt
    checks an enforced contract by casting null to each declared type; Spark has no bare
    varchar (it needs a length), so there the declared varchar is read as Spark's string.
    Models themselves cast with dbt.type_string().
#}
{% macro spark__cast(field, type) -%}
    cast({{ field }} as {{ spark_type(type) }})
{%- endmacro %}

{% macro spark_type(type) -%}
    {%- set name = type | trim | lower -%}
    {{- 'string' if name in ('varchar', 'text') else type -}}
{%- endmacro %}
