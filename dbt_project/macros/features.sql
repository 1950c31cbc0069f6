{#
    Building blocks of the feature layer (models/features). Written with dbt's cross-database
    macros (dbt.datediff, dbt.dateadd, dbt.date_trunc) and ANSI SQL only, so the same project
    runs on DuckDB and on Spark.

    Feature settings come only from the run: dbt --vars '{feature_settings: {...}}', which the
    Dagster dbt assets pass from the run context (pipelines/scoring/features.py builds them
    from config/scoring/rfm.yaml and behaviour.yaml, the one place those numbers live).
#}

{% macro feature_settings() -%}
    {%- set value = var('feature_settings', none) -%}
    {%- if value is none -%}
        {%- if execute -%}
            {{ exceptions.raise_compiler_error(
                "feature_settings is not set: run dbt with --vars '{feature_settings: {...}}' "
                ~ "(the Dagster dbt assets pass them from config/scoring)") }}
        {%- endif -%}
        {#- parse time only: a placeholder with the right shape -#}
        {%- set value = {
            'rfm_lookback_days': 730, 'outcome_horizon_days': 365,
            'engagement': {
                'lookback_days': 365, 'half_life_days': 90, 'cap_period': 'month', 'caps': {},
            },
        } -%}
    {%- endif -%}
    {%- if value is string -%}
        {#- a JSON string: how a linter (sqlfluff's dbt templater context) passes it -#}
        {%- set value = fromjson(value) -%}
    {%- endif -%}
    {{ return(value) }}
{%- endmacro %}

{#
    Activity types of the landing contract (docs/data-contract.md, crm_activities). Unsubscribe
    is a type but never engagement: `engagement_only=true` leaves it out.
#}
{% macro activity_types(engagement_only=false) -%}
    {%- set types = [
        'web_visit', 'content_download', 'event_attendance', 'email_open', 'email_click',
        'meeting', 'unsubscribe',
    ] -%}
    {%- if engagement_only -%}
        {{ return(types | reject('equalto', 'unsubscribe') | list) }}
    {%- endif -%}
    {{ return(types) }}
{%- endmacro %}

{#
    Engagement before each reference point, one row per reference_id that has any activity.
    `reference_points`: a relation with reference_id, golden_account_id, reference_ts.

    An event of type t, age a days before reference_ts and inside the look-back, is worth
    0.5 ^ (a / half_life_days). Within one type and one calendar period (cap_period) an account
    counts at most caps[t] events: when it has n > cap, the period's decayed sum is scaled by
    cap / n, so a burst cannot dominate. Columns: engagement_<type> (per type, unsubscribe
    included), engagement_decayed (the sum over engagement types, unsubscribe excluded),
    engagement_events (events of every type) and last_touch_age_days (age of the latest
    engagement event; null when none).
#}
{% macro engagement_at(reference_points) -%}
    {%- set settings = feature_settings()['engagement'] -%}
    {%- set caps = settings['caps'] -%}
    select
        reference_id,
        {%- for activity_type in activity_types() %}
        sum(case when activity_type = '{{ activity_type }}' then capped_decayed else 0 end)
            as engagement_{{ activity_type }},
        {%- endfor %}
        sum(case when activity_type <> 'unsubscribe' then capped_decayed else 0 end)
            as engagement_decayed,
        sum(n_events) as engagement_events,
        min(last_touch_age_days) as last_touch_age_days
    from (
        select
            reference_id,
            activity_type,
            sum(n_events) as n_events,
            sum(
                decayed * case
                    when cap is not null and n_events > cap
                        then cast(cap as double) / n_events
                    else 1.0
                end
            ) as capped_decayed,
            min(touch_age_days) as last_touch_age_days
        from (
            select
                reference_id,
                activity_type,
                period_start,
                cap,
                count(*) as n_events,
                sum(power(0.5, age_days / {{ settings['half_life_days'] }})) as decayed,
                min(case when activity_type <> 'unsubscribe' then age_days end)
                    as touch_age_days
            from (
                select
                    reference_points.reference_id,
                    activities.activity_type,
                    {{ dbt.date_trunc(settings['cap_period'], 'activities.occurred_at') }}
                        as period_start,
                    {{ dbt.datediff(
                        'activities.occurred_at', 'reference_points.reference_ts', 'second'
                    ) }} / cast(86400 as double) as age_days,
                    {%- if caps %}
                    case activities.activity_type
                        {%- for activity_type, cap in caps.items() %}
                        when '{{ activity_type }}' then {{ cap | int }}
                        {%- endfor %}
                    end as cap
                    {%- else %}
                    cast(null as integer) as cap
                    {%- endif %}
                from {{ reference_points }} as reference_points
                inner join {{ ref('activities') }} as activities
                    on reference_points.golden_account_id = activities.golden_account_id
                    and activities.occurred_at < reference_points.reference_ts
                    and activities.occurred_at >= {{ dbt.dateadd(
                        'day', -(settings['lookback_days'] | int),
                        'reference_points.reference_ts'
                    ) }}
                where activities.activity_type in (
                    {%- for activity_type in activity_types() -%}
                    '{{ activity_type }}'{{ ", " if not loop.last }}
                    {%- endfor -%}
                )
            ) as events
            group by reference_id, activity_type, period_start, cap
        ) as per_period
        group by reference_id, activity_type
    ) as per_type
    group by reference_id
{%- endmacro %}

{#
    The engagement columns of a feature row, from the engagement_at() relation `alias` joined
    on the row's reference id: 0 when there was no activity; days_since_last_touch is the
    look-back length when there was no touch in it (a finite "long ago").
#}
{% macro engagement_columns(alias) -%}
    {%- set lookback = feature_settings()['engagement']['lookback_days'] | int -%}
    {%- for activity_type in activity_types() %}
    cast(coalesce({{ alias }}.engagement_{{ activity_type }}, 0) as double)
        as engagement_{{ activity_type }},
    {%- endfor %}
    cast(coalesce({{ alias }}.engagement_decayed, 0) as double) as engagement_decayed,
    cast(coalesce({{ alias }}.engagement_events, 0) as bigint) as engagement_events,
    cast(coalesce({{ alias }}.last_touch_age_days, {{ lookback }}) as double)
        as days_since_last_touch,
{%- endmacro %}
