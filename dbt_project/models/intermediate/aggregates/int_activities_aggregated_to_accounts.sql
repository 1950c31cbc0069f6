-- Engagement per golden account as of as_of_date: counts per window, per activity type over
-- 90 days with the last touch of each type. `unsubscribe` is not engagement: it is counted
-- only in unsubscribes_365d and excluded from every activities_* count and last_activity_at.

{%- set activity_types = activity_types(engagement_only=true) %}

with

activities as (

    select
        identity_map.golden_account_id,
        activities.activity_type,
        activities.occurred_at,
        cast(activities.occurred_at as date) as occurred_on,
        activities.activity_type <> 'unsubscribe' as is_engagement
    from {{ ref('stg_crm__activities') }} as activities
    inner join {{ ref('int_account_identity_map') }} as identity_map
        on activities.account_id = identity_map.account_id
    where cast(activities.occurred_at as date) <= {{ as_of_date() }}

)

select
    cast(golden_account_id as {{ dbt.type_string() }}) as golden_account_id,
    cast({{ count_if('is_engagement and ' ~ in_window('occurred_on', 30)) }} as bigint)
        as activities_30d,
    cast({{ count_if('is_engagement and ' ~ in_window('occurred_on', 90)) }} as bigint)
        as activities_90d,
    cast({{ count_if('is_engagement and ' ~ in_window('occurred_on', 90, 90)) }} as bigint)
        as activities_prev_90d,
    cast({{ count_if('is_engagement and ' ~ in_window('occurred_on', 365)) }} as bigint)
        as activities_365d,
    cast({{ count_if('is_engagement') }} as bigint) as activities_lifetime,
    {%- for activity_type in activity_types %}
    {%- set is_type = "activity_type = '" ~ activity_type ~ "'" %}
    cast({{ count_if(is_type ~ ' and ' ~ in_window('occurred_on', 90)) }} as bigint)
        as {{ activity_type }}_90d,
    cast({{ count_if(is_type ~ ' and ' ~ in_window('occurred_on', 365)) }} as bigint)
        as {{ activity_type }}_365d,
    cast(max(case when activity_type = '{{ activity_type }}' then occurred_at end) as timestamp)
        as last_{{ activity_type }}_at,
    {%- endfor %}
    cast(
        {{ count_if("activity_type = 'unsubscribe' and " ~ in_window('occurred_on', 365)) }}
        as bigint
    ) as unsubscribes_365d,
    cast(max(case when is_engagement then occurred_at end) as timestamp) as last_activity_at
from activities
group by golden_account_id
