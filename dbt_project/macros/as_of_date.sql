{#
    The run's reference date as a SQL date literal. Every window (30/90/365 days, "new",
    "dormant") is measured back from it, and rows dated after it are ignored, so a rerun
    for a past date sees the world as it was then.
    Precedence: --vars '{as_of_date: YYYY-MM-DD}', then env STRATUM_AS_OF (set by
    pipelines.settings.export_for_dbt()), then the dbt run's start date (UTC).
#}
{% macro as_of_date() -%}
    {%- set value = var('as_of_date', env_var('STRATUM_AS_OF', '')) -%}
    {%- if not value -%}
        {%- set value = run_started_at.strftime('%Y-%m-%d') -%}
    {%- endif -%}
    cast('{{ value }}' as date)
{%- endmacro %}
