-- One row per golden account: profile, customer tree position, order / engagement / lead /
-- contact / risk / survey measures as of as_of_date, and readable tags. The column list is the
-- interface of docs/architecture.md (scoring builds on it); the contract enforces its types.
-- Accounts without orders/activities/... get 0 counts and revenue, null dates.

{%- set activity_types = activity_types(engagement_only=true) %}

with

golden as (

    select * from {{ ref('int_golden_accounts') }}

),

hierarchy as (

    select * from {{ ref('int_account_hierarchy') }}

),

orders as (

    select * from {{ ref('int_orders_aggregated_to_accounts') }}

),

activities as (

    select * from {{ ref('int_activities_aggregated_to_accounts') }}

),

leads as (

    select * from {{ ref('int_leads_aggregated_to_accounts') }}

),

contacts as (

    select * from {{ ref('int_contacts_aggregated_to_accounts') }}

),

risk as (

    select * from {{ ref('int_risk_latest_by_accounts') }}

),

surveys as (

    select * from {{ ref('int_surveys_aggregated_to_accounts') }}

),

joined as (

    select
        golden.golden_account_id,
        golden.account_name,
        golden.uscc,
        golden.industry,
        golden.industry_is_known,
        golden.industry_name_zh,
        golden.industry_name_en,
        golden.size_band,
        golden.employee_count,
        golden.annual_revenue_cny,
        golden.province,
        golden.city,
        golden.region,
        golden.owner_team,
        hierarchy.parent_golden_account_id,
        hierarchy.root_golden_account_id,
        hierarchy.group_depth,
        hierarchy.was_in_cycle,
        golden.account_created_at,
        golden.source_record_count,

        orders.first_order_date,
        orders.last_order_date,
        {{ dbt.datediff('orders.last_order_date', as_of_date(), 'day') }}
            as days_since_last_order,
        {%- for column in [
            'orders_30d', 'orders_90d', 'orders_prev_90d', 'orders_365d', 'orders_lifetime',
            'net_revenue_30d', 'net_revenue_90d', 'net_revenue_prev_90d', 'net_revenue_365d',
            'net_revenue_lifetime', 'gross_revenue_lifetime', 'refund_amount_lifetime',
            'cancelled_orders_lifetime', 'paid_orders_lifetime',
        ] %}
        coalesce(orders.{{ column }}, 0) as {{ column }},
        {%- endfor %}

        {%- for column in [
            'activities_30d', 'activities_90d', 'activities_prev_90d', 'activities_365d',
            'unsubscribes_365d',
        ] %}
        coalesce(activities.{{ column }}, 0) as {{ column }},
        {%- endfor %}
        {%- for activity_type in activity_types %}
        coalesce(activities.{{ activity_type }}_90d, 0) as {{ activity_type }}_90d,
        coalesce(activities.{{ activity_type }}_365d, 0) as {{ activity_type }}_365d,
        activities.last_{{ activity_type }}_at,
        {%- endfor %}
        activities.last_activity_at,

        coalesce(leads.leads_total, 0) as leads_total,
        coalesce(leads.leads_open, 0) as leads_open,
        coalesce(leads.leads_converted, 0) as leads_converted,
        leads.last_lead_at,

        coalesce(contacts.contacts_total, 0) as contacts_total,
        coalesce(contacts.contacts_opted_out, 0) as contacts_opted_out,
        coalesce(contacts.contacts_reachable, 0) as contacts_reachable,
        contacts.last_opt_out_date,

        risk.credit_rating,
        risk.overdue_amount_cny,
        risk.lawsuit_count,
        risk.abnormal_operation,
        risk.risk_as_of_date,

        surveys.nps_latest,
        surveys.nps_avg_365d,
        coalesce(surveys.survey_responses, 0) as survey_responses,

        -- the most recent order or engagement activity, whichever is later
        case
            when orders.last_order_date is null then cast(activities.last_activity_at as date)
            when activities.last_activity_at is null then orders.last_order_date
            when orders.last_order_date > cast(activities.last_activity_at as date)
                then orders.last_order_date
            else cast(activities.last_activity_at as date)
        end as last_touch_date
    from golden
    inner join hierarchy
        on golden.golden_account_id = hierarchy.golden_account_id
    left join orders
        on golden.golden_account_id = orders.golden_account_id
    left join activities
        on golden.golden_account_id = activities.golden_account_id
    left join leads
        on golden.golden_account_id = leads.golden_account_id
    left join contacts
        on golden.golden_account_id = contacts.golden_account_id
    left join risk
        on golden.golden_account_id = risk.golden_account_id
    left join surveys
        on golden.golden_account_id = surveys.golden_account_id

),

tagged as (

    select
        *,
        {{ activity_tag(
            'account_created_at',
            'last_touch_date',
            'activities_90d + orders_90d',
            'activities_prev_90d + orders_prev_90d',
        ) }} as activity_tag
    from joined

)

select
    cast(golden_account_id as {{ dbt.type_string() }}) as golden_account_id,
    cast(account_name as {{ dbt.type_string() }}) as account_name,
    cast(uscc as {{ dbt.type_string() }}) as uscc,
    cast(industry as {{ dbt.type_string() }}) as industry,
    cast(industry_is_known as boolean) as industry_is_known,
    cast(size_band as {{ dbt.type_string() }}) as size_band,
    cast(employee_count as bigint) as employee_count,
    cast(annual_revenue_cny as decimal(18, 2)) as annual_revenue_cny,
    cast(province as {{ dbt.type_string() }}) as province,
    cast(city as {{ dbt.type_string() }}) as city,
    cast(region as {{ dbt.type_string() }}) as region,
    cast(owner_team as {{ dbt.type_string() }}) as owner_team,
    cast(parent_golden_account_id as {{ dbt.type_string() }}) as parent_golden_account_id,
    cast(root_golden_account_id as {{ dbt.type_string() }}) as root_golden_account_id,
    cast(group_depth as integer) as group_depth,
    cast(account_created_at as timestamp) as account_created_at,
    cast(source_record_count as integer) as source_record_count,

    cast(first_order_date as date) as first_order_date,
    cast(last_order_date as date) as last_order_date,
    cast(days_since_last_order as integer) as days_since_last_order,
    cast(orders_30d as bigint) as orders_30d,
    cast(orders_90d as bigint) as orders_90d,
    cast(orders_365d as bigint) as orders_365d,
    cast(orders_lifetime as bigint) as orders_lifetime,
    cast(net_revenue_30d as decimal(18, 2)) as net_revenue_30d,
    cast(net_revenue_90d as decimal(18, 2)) as net_revenue_90d,
    cast(net_revenue_prev_90d as decimal(18, 2)) as net_revenue_prev_90d,
    cast(net_revenue_365d as decimal(18, 2)) as net_revenue_365d,
    cast(net_revenue_lifetime as decimal(18, 2)) as net_revenue_lifetime,
    cast(gross_revenue_lifetime as decimal(18, 2)) as gross_revenue_lifetime,
    cast(refund_amount_lifetime as decimal(18, 2)) as refund_amount_lifetime,
    cast(
        case
            when gross_revenue_lifetime > 0
                then cast(refund_amount_lifetime as double) / cast(gross_revenue_lifetime as double)
            else 0
        end
        as double
    ) as refund_rate,
    cast(cancelled_orders_lifetime as bigint) as cancelled_orders_lifetime,
    cast(
        {{ amount_per('net_revenue_lifetime', 'orders_lifetime') }} as decimal(18, 2)
    ) as avg_order_value,
    cast(paid_orders_lifetime > 0 as boolean) as has_paid_order,

    cast(activities_30d as bigint) as activities_30d,
    cast(activities_90d as bigint) as activities_90d,
    cast(activities_prev_90d as bigint) as activities_prev_90d,
    cast(activities_365d as bigint) as activities_365d,
    {%- for activity_type in activity_types %}
    cast({{ activity_type }}_90d as bigint) as {{ activity_type }}_90d,
    cast(last_{{ activity_type }}_at as timestamp) as last_{{ activity_type }}_at,
    {%- endfor %}
    cast(unsubscribes_365d as bigint) as unsubscribes_365d,
    cast(last_activity_at as timestamp) as last_activity_at,

    cast(leads_total as bigint) as leads_total,
    cast(leads_open as bigint) as leads_open,
    cast(leads_converted as bigint) as leads_converted,
    cast(last_lead_at as timestamp) as last_lead_at,

    cast(contacts_total as bigint) as contacts_total,
    cast(contacts_opted_out as bigint) as contacts_opted_out,
    cast(contacts_reachable as bigint) as contacts_reachable,
    cast(last_opt_out_date as date) as last_opt_out_date,

    cast(credit_rating as {{ dbt.type_string() }}) as credit_rating,
    cast(overdue_amount_cny as decimal(18, 2)) as overdue_amount_cny,
    cast(lawsuit_count as bigint) as lawsuit_count,
    cast(abnormal_operation as boolean) as abnormal_operation,
    cast(risk_as_of_date as date) as risk_as_of_date,

    cast(nps_latest as integer) as nps_latest,
    cast(nps_avg_365d as double) as nps_avg_365d,
    cast(survey_responses as bigint) as survey_responses,

    cast(activity_tag as {{ dbt.type_string() }}) as activity_tag,
    cast({{ static_tags() }} as {{ dbt.type_string() }}) as static_tags,
    cast({{ dynamic_tags() }} as {{ dbt.type_string() }}) as dynamic_tags,
    cast({{ as_of_date() }} as date) as as_of_date,

    -- additions beyond docs/architecture.md (never renamed or removed without notice)
    cast(industry_name_zh as {{ dbt.type_string() }}) as industry_name_zh,
    cast(industry_name_en as {{ dbt.type_string() }}) as industry_name_en,
    cast(orders_prev_90d as bigint) as orders_prev_90d,
    cast(last_touch_date as date) as last_touch_date,
    cast(was_in_cycle as boolean) as was_in_hierarchy_cycle
from tagged
