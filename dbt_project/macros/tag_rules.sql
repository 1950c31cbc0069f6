{#
    TAG RULES — the one place customer tags are defined. seeds/tag_rules.csv carries the same
    rules as an analyst-readable glossary (tag, condition) and a data test checks that every
    tag customer_360 emits is listed there. All expressions read customer_360 columns.

    activity_tag (exactly one per account; the first rule that holds wins):
      1 new          account created within the last 90 days before as_of_date
      2 never_active no engagement activity (unsubscribe excluded) and no order ever
      3 dormant      last touch (activity or order) more than 365 days ago
      4 silent       last touch 91-365 days ago (nothing in the last 90 days)
      5 declining    touches (activities + orders) in the last 90 days < half of the previous 90
      6 active       otherwise (touched in the last 90 days, not declining)

    static_tags: industry:<code|unknown>, size:<band>, region:<region> (from the profile).
    dynamic_tags: activity:<activity_tag> plus interaction-frequency / trend tags:
      engagement:high (activities_90d >= 10), engagement:low (1-2), engagement:none_90d (0),
      met_90d (a meeting in 90 days), event_attendee_365d, unsubscribed_365d,
      repeat_buyer (orders_365d >= 3), revenue_growing (net revenue 90d > 1.2 x previous 90d),
      revenue_falling (< 0.8 x previous 90d; both only when previous 90d > 0).
#}

{# days since the last touch; null when never touched. Expects last_touch_date in scope. #}
{% macro activity_tag(account_created_at, last_touch_date, touches_90d, touches_prev_90d) -%}
    case
        when cast({{ account_created_at }} as date)
            > cast({{ dbt.dateadd('day', -90, as_of_date()) }} as date) then 'new'
        when {{ last_touch_date }} is null then 'never_active'
        when {{ last_touch_date }}
            <= cast({{ dbt.dateadd('day', -365, as_of_date()) }} as date) then 'dormant'
        when {{ last_touch_date }}
            <= cast({{ dbt.dateadd('day', -90, as_of_date()) }} as date) then 'silent'
        when {{ touches_90d }} * 2 < {{ touches_prev_90d }} then 'declining'
        else 'active'
    end
{%- endmacro %}

{% macro static_tags() -%}
    concat_ws(
        ',',
        'industry:' || case when industry_is_known then industry else 'unknown' end,
        'size:' || coalesce(size_band, 'unknown'),
        'region:' || coalesce(region, 'unknown')
    )
{%- endmacro %}

{% macro dynamic_tags() -%}
    concat_ws(
        ',',
        'activity:' || activity_tag,
        case
            when activities_90d >= 10 then 'engagement:high'
            when activities_90d between 1 and 2 then 'engagement:low'
            when activities_90d = 0 then 'engagement:none_90d'
        end,
        case when meeting_90d > 0 then 'met_90d' end,
        case when event_attendance_365d > 0 then 'event_attendee_365d' end,
        case when unsubscribes_365d > 0 then 'unsubscribed_365d' end,
        case when orders_365d >= 3 then 'repeat_buyer' end,
        case
            when net_revenue_prev_90d > 0 and net_revenue_90d > 1.2 * net_revenue_prev_90d
                then 'revenue_growing'
            when net_revenue_prev_90d > 0 and net_revenue_90d < 0.8 * net_revenue_prev_90d
                then 'revenue_falling'
        end
    )
{%- endmacro %}
