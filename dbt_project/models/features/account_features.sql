-- The feature layer: one row per golden account, everything the scores use, as of the run's
-- as-of date and nothing later (point in time). Firmographics, order windows, risk and NPS are
-- the profile's (customer_360); RFM inputs, the purchase-history summary for CLV, decayed
-- engagement by type, prior purchases and lead state are computed here. Scores are formulas
-- over these columns (pipelines/scoring); the contract (_features__models.yml) is the
-- interface. Windows and decay come from var('feature_settings') (see macros/features.sql).

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

-- Purchase history for BG/NBD x Gamma-Gamma: one purchase per day with positive net revenue.
purchase_days as (

    select
        golden_account_id,
        order_date,
        sum(net_amount_cny) as net
    from orders
    where coalesce(status, '') <> 'cancelled'
    group by golden_account_id, order_date
    having sum(net_amount_cny) > 0

),

first_purchase as (

    select
        golden_account_id,
        order_date as first_purchase_date,
        net as first_day_net
    from (
        select
            golden_account_id,
            order_date,
            net,
            row_number() over (partition by golden_account_id order by order_date) as day_rank
        from purchase_days
    ) as ranked
    where day_rank = 1

),

purchase_history as (

    select
        purchase_days.golden_account_id,
        count(*) as purchase_days,
        {{ dbt.datediff(
            'max(first_purchase.first_purchase_date)', 'max(purchase_days.order_date)', 'day'
        ) }} as days_first_to_last_purchase,
        {{ dbt.datediff(
            'max(first_purchase.first_purchase_date)', 'max(as_of.as_of_date)', 'day'
        ) }} as days_since_first_purchase,
        -- Gamma-Gamma models the spend of repeat purchases only: the first day's is left out.
        case
            when count(*) > 1
                then
                    cast(sum(purchase_days.net) - max(first_purchase.first_day_net) as double)
                    / (count(*) - 1)
            else 0
        end as repeat_purchase_mean_spend
    from purchase_days
    inner join first_purchase
        on purchase_days.golden_account_id = first_purchase.golden_account_id
    cross join as_of
    group by purchase_days.golden_account_id

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

prior_purchases as (

    {{ purchases_before('reference_points') }}

),

leads as (

    select
        golden_account_id,
        lead_id,
        lead_source,
        status,
        created_at,
        coalesce(converted_at, created_at) as converted_at,
        row_number() over (
            partition by golden_account_id
            order by created_at desc, lead_id desc
        ) as recency_rank
    from {{ ref('leads') }}
    where created_at < {{ as_of_end() }}

),

lead_state as (

    select
        leads.golden_account_id,
        {{ count_if("leads.status = 'lost'") }} as leads_lost,
        max(case when leads.recency_rank = 1 then leads.lead_source end) as latest_lead_source,
        max(case when leads.recency_rank = 1 then leads.status end) as latest_lead_status,
        {{ dbt.datediff('cast(max(leads.created_at) as date)', 'max(as_of.as_of_date)', 'day') }}
            as days_since_latest_lead,
        max(case when leads.status = 'converted' then leads.converted_at end)
            as last_conversion_at
    from leads
    cross join as_of
    group by leads.golden_account_id

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

),

last_paid_order as (

    select
        golden_account_id,
        max(order_date) as last_paid_order_date
    from orders
    where net_amount_cny > 0
    group by golden_account_id

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
    cast(
        {{ dbt.datediff('cast(profile.account_created_at as date)', 'as_of.as_of_date', 'day') }}
        as integer
    ) as account_age_days,

    -- order windows
    cast(profile.first_order_date as date) as first_order_date,
    cast(profile.last_order_date as date) as last_order_date,
    cast(profile.days_since_last_order as integer) as days_since_last_order,
    cast(profile.orders_30d as bigint) as orders_30d,
    cast(profile.orders_90d as bigint) as orders_90d,
    cast(profile.orders_prev_90d as bigint) as orders_prev_90d,
    cast(profile.orders_365d as bigint) as orders_365d,
    cast(profile.orders_lifetime as bigint) as orders_lifetime,
    cast(profile.net_revenue_30d as decimal(18, 2)) as net_revenue_30d,
    cast(profile.net_revenue_90d as decimal(18, 2)) as net_revenue_90d,
    cast(profile.net_revenue_prev_90d as decimal(18, 2)) as net_revenue_prev_90d,
    cast(profile.net_revenue_365d as decimal(18, 2)) as net_revenue_365d,
    cast(profile.net_revenue_lifetime as decimal(18, 2)) as net_revenue_lifetime,
    -- -1 (all of it in the previous 90 days) .. +1 (all in the last 90 days)
    cast(
        (profile.net_revenue_90d - profile.net_revenue_prev_90d)
        / (abs(profile.net_revenue_90d) + abs(profile.net_revenue_prev_90d) + 1)
        as double
    ) as revenue_trend_90d,
    cast(profile.refund_rate as double) as refund_rate,
    cast(profile.has_paid_order as boolean) as has_paid_order,

    -- RFM inputs
    cast(rfm.rfm_recency_days as integer) as rfm_recency_days,
    cast(coalesce(rfm.rfm_frequency, 0) as bigint) as rfm_frequency,
    cast(rfm.rfm_monetary as decimal(18, 2)) as rfm_monetary,

    -- purchase history (CLV)
    cast(coalesce(purchase_history.purchase_days, 0) as bigint) as purchase_days,
    cast(purchase_history.days_first_to_last_purchase as integer) as days_first_to_last_purchase,
    cast(purchase_history.days_since_first_purchase as integer) as days_since_first_purchase,
    cast(purchase_history.repeat_purchase_mean_spend as double) as repeat_purchase_mean_spend,
    cast(coalesce(prior_purchases.prior_paid_orders, 0) as bigint) as prior_paid_orders,
    cast(coalesce(prior_purchases.prior_net_revenue, 0) as double) as prior_net_revenue,

    -- engagement
    cast(profile.activities_30d as bigint) as activities_30d,
    cast(profile.activities_90d as bigint) as activities_90d,
    cast(profile.activities_prev_90d as bigint) as activities_prev_90d,
    cast(profile.activities_365d as bigint) as activities_365d,
    cast(profile.unsubscribes_365d as bigint) as unsubscribes_365d,
    cast(profile.last_activity_at as timestamp) as last_activity_at,
    {{- engagement_columns('engagement') }}

    -- source delivery
    cast(source_delivery.activity_data_delivered as boolean) as activity_data_delivered,
    cast(source_delivery.lead_data_delivered as boolean) as lead_data_delivered,

    -- lead state
    cast(profile.leads_total as bigint) as leads_total,
    cast(profile.leads_open as bigint) as leads_open,
    cast(profile.leads_converted as bigint) as leads_converted,
    cast(coalesce(lead_state.leads_lost, 0) as bigint) as leads_lost,
    cast(lead_state.latest_lead_source as {{ dbt.type_string() }}) as latest_lead_source,
    cast(lead_state.latest_lead_status as {{ dbt.type_string() }}) as latest_lead_status,
    cast(lead_state.days_since_latest_lead as integer) as days_since_latest_lead,
    cast(
        coalesce(
            lead_state.last_conversion_at is not null
            and (
                last_paid_order.last_paid_order_date is null
                or last_paid_order.last_paid_order_date
                < cast(lead_state.last_conversion_at as date)
            ),
            false
        ) as boolean
    ) as has_converted_lead_without_order,

    -- NPS
    cast(profile.nps_latest as integer) as nps_latest,
    cast(profile.nps_avg_365d as double) as nps_avg_365d,
    cast(profile.survey_responses as bigint) as survey_responses,

    -- risk
    cast(profile.credit_rating as {{ dbt.type_string() }}) as credit_rating,
    cast(profile.overdue_amount_cny as decimal(18, 2)) as overdue_amount_cny,
    cast(profile.lawsuit_count as bigint) as lawsuit_count,
    cast(profile.abnormal_operation as boolean) as abnormal_operation,
    cast(profile.risk_as_of_date as date) as risk_as_of_date,
    cast(
        {{ dbt.datediff('profile.risk_as_of_date', 'as_of.as_of_date', 'day') }}
        as integer
    ) as risk_age_days
from profile
cross join as_of
cross join source_delivery
left join rfm
    on profile.golden_account_id = rfm.golden_account_id
left join purchase_history
    on profile.golden_account_id = purchase_history.golden_account_id
left join engagement
    on profile.golden_account_id = engagement.reference_id
left join prior_purchases
    on profile.golden_account_id = prior_purchases.reference_id
left join lead_state
    on profile.golden_account_id = lead_state.golden_account_id
left join last_paid_order
    on profile.golden_account_id = last_paid_order.golden_account_id
