-- The feature layer: one row per golden account, everything the scores use, as of the run's
-- as-of date and nothing later (point in time). Firmographics are the profile's (customer_360).
-- Order windows, the purchase-history summary for CLV, engagement counts, NPS, risk and lead
-- state are the as-of date's row of account_windows (periods_back 0): one definition for the
-- scores and for the models' history. RFM inputs and decayed engagement by type are computed
-- here. Scores are formulas over these columns (pipelines/scoring); the contract
-- (_features__models.yml) is the interface. Windows and decay come from var('feature_settings')
-- (see macros/features.sql).

{%- set settings = feature_settings() %}

with

as_of as (

    select
        {{ as_of_date() }} as as_of_date,
        {{ as_of_end() }} as as_of_end

),

profile as (

    select * from {{ ref('customer_360') }}

),

orders as (

    select
        golden_account_id,
        order_date,
        status,
        net_amount_cny
    from {{ ref('orders') }}
    where order_date <= {{ as_of_date() }}

),

-- RFM inputs: orders that brought money (net > 0, so refunded and cancelled ones drop out)
-- in the RFM look-back.
rfm as (

    select
        orders.golden_account_id,
        {{ dbt.datediff('max(orders.order_date)', 'max(as_of.as_of_date)', 'day') }}
            as rfm_recency_days,
        count(*) as rfm_frequency,
        sum(orders.net_amount_cny) as rfm_monetary
    from orders
    cross join as_of
    where
        orders.net_amount_cny > 0
        and coalesce(orders.status, '') <> 'cancelled'
        and {{ in_window('orders.order_date', settings['rfm_lookback_days'] | int) }}
    group by orders.golden_account_id

),

-- The windows as of the run's date; revenue back in the contract's decimal type.
windows as (

    select
        *,
        cast(net_revenue_90d as decimal(18, 2)) as net_revenue_90d_cny,
        cast(net_revenue_prev_90d as decimal(18, 2)) as net_revenue_prev_90d_cny
    from {{ ref('account_windows') }}
    where periods_back = 0

),

reference_points as (

    select
        golden_account_id as reference_id,
        golden_account_id,
        {{ as_of_end() }} as reference_ts
    from profile

),

engagement as (

    {{ engagement_at('reference_points') }}

),

leads as (

    select
        golden_account_id,
        lead_id,
        status,
        row_number() over (
            partition by golden_account_id
            order by created_at desc, lead_id desc
        ) as recency_rank
    from {{ ref('leads') }}
    where created_at < {{ as_of_end() }}

),

-- What account_windows does not hold: the stage of leads (their status today).
lead_state as (

    select
        golden_account_id,
        {{ count_if("status = 'lost'") }} as leads_lost,
        max(case when recency_rank = 1 then status end) as latest_lead_status
    from leads
    group by golden_account_id

),

-- Whether a source was delivered at all (any record up to the as-of date): an account without
-- activities where the activity export exists has no engagement (0 points); without the export
-- nobody's engagement is known, and the scores say "no data" instead of 0.
source_delivery as (

    select
        exists(
            select 1 from {{ ref('activities') }} as activities
            where activities.occurred_at < {{ as_of_end() }}
        ) as activity_data_delivered,
        exists(
            select 1 from {{ ref('leads') }} as delivered_leads
            where delivered_leads.created_at < {{ as_of_end() }}
        ) as lead_data_delivered

)

select
    -- ids
    cast(profile.golden_account_id as {{ dbt.type_string() }}) as golden_account_id,
    cast(as_of.as_of_date as date) as as_of_date,

    -- firmographics
    cast(profile.industry as {{ dbt.type_string() }}) as industry,
    cast(profile.industry_is_known as boolean) as industry_is_known,
    cast(profile.size_band as {{ dbt.type_string() }}) as size_band,
    cast(profile.employee_count as bigint) as employee_count,
    cast(profile.annual_revenue_cny as decimal(18, 2)) as annual_revenue_cny,
    cast(profile.province as {{ dbt.type_string() }}) as province,
    cast(profile.city as {{ dbt.type_string() }}) as city,
    cast(profile.region as {{ dbt.type_string() }}) as region,
    cast(profile.owner_team as {{ dbt.type_string() }}) as owner_team,
    cast(profile.root_golden_account_id as {{ dbt.type_string() }}) as root_golden_account_id,
    cast(profile.group_depth as integer) as group_depth,
    cast(profile.account_created_at as timestamp) as account_created_at,
    cast(windows.account_age_days as integer) as account_age_days,

    -- order windows (cancelled orders left out)
    cast(windows.first_order_date as date) as first_order_date,
    cast(windows.last_order_date as date) as last_order_date,
    cast(windows.days_since_last_order as integer) as days_since_last_order,
    cast(windows.orders_30d as bigint) as orders_30d,
    cast(windows.orders_90d as bigint) as orders_90d,
    cast(windows.orders_prev_90d as bigint) as orders_prev_90d,
    cast(windows.orders_365d as bigint) as orders_365d,
    cast(windows.orders_lifetime as bigint) as orders_lifetime,
    cast(windows.net_revenue_30d as decimal(18, 2)) as net_revenue_30d,
    cast(windows.net_revenue_90d_cny as decimal(18, 2)) as net_revenue_90d,
    cast(windows.net_revenue_prev_90d_cny as decimal(18, 2)) as net_revenue_prev_90d,
    cast(windows.net_revenue_365d as decimal(18, 2)) as net_revenue_365d,
    cast(windows.net_revenue_lifetime as decimal(18, 2)) as net_revenue_lifetime,
    -- -1 (all of it in the previous 90 days) .. +1 (all in the last 90 days)
    cast(
        (windows.net_revenue_90d_cny - windows.net_revenue_prev_90d_cny)
        / (abs(windows.net_revenue_90d_cny) + abs(windows.net_revenue_prev_90d_cny) + 1)
        as double
    ) as revenue_trend_90d,
    cast(windows.refund_rate as double) as refund_rate,
    cast(windows.has_paid_order as boolean) as has_paid_order,

    -- RFM inputs
    cast(rfm.rfm_recency_days as integer) as rfm_recency_days,
    cast(coalesce(rfm.rfm_frequency, 0) as bigint) as rfm_frequency,
    cast(rfm.rfm_monetary as decimal(18, 2)) as rfm_monetary,

    -- purchase history (CLV): paid orders, one purchase per day
    cast(windows.purchase_days as bigint) as purchase_days,
    cast(windows.days_first_to_last_purchase as integer) as days_first_to_last_purchase,
    cast(windows.days_since_first_purchase as integer) as days_since_first_purchase,
    cast(
        case when windows.purchase_days > 0 then coalesce(windows.repeat_purchase_mean_spend, 0) end
        as double
    ) as repeat_purchase_mean_spend,

    -- engagement
    cast(windows.activities_30d as bigint) as activities_30d,
    cast(windows.activities_90d as bigint) as activities_90d,
    cast(windows.activities_prev_90d as bigint) as activities_prev_90d,
    cast(windows.activities_365d as bigint) as activities_365d,
    cast(windows.unsubscribes_365d as bigint) as unsubscribes_365d,
    cast(windows.last_activity_at as timestamp) as last_activity_at,
    {{- engagement_columns('engagement') }}

    -- source delivery
    cast(source_delivery.activity_data_delivered as boolean) as activity_data_delivered,
    cast(source_delivery.lead_data_delivered as boolean) as lead_data_delivered,

    -- lead state
    cast(windows.leads_total as bigint) as leads_total,
    cast(windows.leads_open as bigint) as leads_open,
    cast(windows.leads_converted as bigint) as leads_converted,
    cast(coalesce(lead_state.leads_lost, 0) as bigint) as leads_lost,
    cast(windows.latest_lead_source as {{ dbt.type_string() }}) as latest_lead_source,
    cast(lead_state.latest_lead_status as {{ dbt.type_string() }}) as latest_lead_status,
    cast(windows.days_since_latest_lead as integer) as days_since_latest_lead,
    cast(windows.has_converted_lead_without_order as boolean) as has_converted_lead_without_order,

    -- NPS
    cast(windows.nps_latest as integer) as nps_latest,
    cast(windows.nps_avg_365d as double) as nps_avg_365d,
    cast(windows.survey_responses as bigint) as survey_responses,

    -- risk
    cast(windows.credit_rating as {{ dbt.type_string() }}) as credit_rating,
    cast(windows.overdue_amount_cny as decimal(18, 2)) as overdue_amount_cny,
    cast(windows.lawsuit_count as bigint) as lawsuit_count,
    cast(windows.abnormal_operation as boolean) as abnormal_operation,
    cast(windows.risk_as_of_date as date) as risk_as_of_date,
    cast(windows.risk_age_days as integer) as risk_age_days
from profile
cross join as_of
cross join source_delivery
left join rfm
    on profile.golden_account_id = rfm.golden_account_id
left join windows
    on profile.golden_account_id = windows.golden_account_id
left join engagement
    on profile.golden_account_id = engagement.reference_id
left join lead_state
    on profile.golden_account_id = lead_state.golden_account_id
