-- The company's own history as training and backtest rows: one row per account and reference
-- date, for three reference dates H days apart (H = var('feature_settings').outcome_horizon_days,
-- default 365): periods_back 2 (as-of - 2H), 1 (as-of - H) and 0 (the as-of date). Each row
-- holds the account's point-in-time features as of its reference date (orders, engagement,
-- NPS, risk and lead state dated on or before it) and, where the whole window (ref, ref + H]
-- lies on or before the as-of date, what happened in it: net revenue and paid orders.
--
-- This is the one definition of those windows: features.account_features takes them from the
-- periods_back 0 rows. Order counts and revenue follow the profile's definitions (non-cancelled
-- orders; net revenue, 0 for cancelled ones); the paid_* columns and the purchase history count
-- paid orders only (net > 0, not cancelled), as the prediction models read them.
--
-- The prediction models (pipelines/scoring/models) fit on periods_back 2 and are judged on
-- periods_back 1 (an earlier window for training, a later one for evaluation, no overlap),
-- the winner is refitted on periods_back 1 and scores periods_back 0. Firmographics are the
-- profile's current values (CRM history of slowly changing attributes is not kept per date);
-- orders are their latest versions as of the run, so a refund booked later counts in the
-- window of its order.


{%- set settings = feature_settings() %}
{%- set horizon = settings.get('outcome_horizon_days', 365) | int %}

with

as_of as (

    select {{ as_of_date() }} as as_of_date

),

reference_dates as (

    {%- for back in [2, 1, 0] %}
    select
        {{ back }} as periods_back,
        cast({{ dbt.dateadd('day', -horizon * back, 'as_of.as_of_date') }} as date)
            as reference_date
    from as_of
    {%- if not loop.last %}
    union all
    {%- endif %}
    {%- endfor %}

),

profile as (

    select
        *,
        cast(account_created_at as date) as created_on
    from {{ ref('customer_360') }}

),

accounts as (

    select
        profile.golden_account_id,
        dates.periods_back,
        dates.reference_date,
        {{ dbt.datediff('profile.created_on', 'dates.reference_date', 'day') }}
            as account_age_days,
        cast({{ dbt.dateadd('day', horizon, 'dates.reference_date') }} as date) as window_end
    from profile
    cross join reference_dates as dates
    -- the past holds the accounts that existed then; the as-of date every profile account
    where profile.created_on <= dates.reference_date or dates.periods_back = 0

),

orders as (

    select
        golden_account_id,
        order_date,
        amount_cny,
        refund_amount_cny,
        net_amount_cny,
        -- the profile's order counts leave cancelled orders out (and orders without a status)
        status <> 'cancelled' as is_counted,
        net_amount_cny > 0 and coalesce(status, '') <> 'cancelled' as is_paid
    from {{ ref('orders') }}
    where order_date <= {{ as_of_date() }}

),

paid_orders as (

    select
        golden_account_id,
        order_date,
        net_amount_cny
    from orders
    where is_paid

),

-- Each account's orders of a day, counted once: the purchase history counts days (one order
-- a day is the rule, so this is about as long as orders; it spares the windows below a
-- distinct count and a ranking of purchase days per reference date).
order_dates as (

    select
        golden_account_id,
        order_date,
        {{ count_if('is_counted') }} as counted_orders,
        sum(net_amount_cny) as net_amount_cny,
        {{ sum_if('amount_cny', 'is_counted') }} as counted_amount_cny,
        {{ sum_if('refund_amount_cny', 'is_counted') }} as counted_refund_amount_cny,
        {{ count_if('is_paid') }} as paid_order_count,
        {{ sum_if('net_amount_cny', 'is_paid') }} as paid_net_amount_cny
    from orders
    group by golden_account_id, order_date

),

-- Every order day on or before each reference date, with its age on that date.
order_days as (

    select
        accounts.golden_account_id,
        accounts.periods_back,
        order_dates.order_date,
        order_dates.counted_orders,
        order_dates.net_amount_cny,
        order_dates.counted_amount_cny,
        order_dates.counted_refund_amount_cny,
        order_dates.paid_order_count,
        order_dates.paid_net_amount_cny,
        {{ dbt.datediff('order_dates.order_date', 'accounts.reference_date', 'day') }}
            as days_before
    from accounts
    inner join order_dates
        on accounts.golden_account_id = order_dates.golden_account_id
        and accounts.reference_date >= order_dates.order_date

),

order_history as (

    select
        golden_account_id,
        periods_back,
        -- orders (cancelled ones left out) and net revenue
        min(case when counted_orders > 0 then order_date end) as first_order_date,
        max(case when counted_orders > 0 then order_date end) as last_order_date,
        min(case when counted_orders > 0 then days_before end) as days_since_last_order,
        {{ sum_if('counted_orders', 'days_before < 30') }} as orders_30d,
        {{ sum_if('counted_orders', 'days_before < 90') }} as orders_90d,
        {{ sum_if('counted_orders', 'days_before between 90 and 179') }} as orders_prev_90d,
        {{ sum_if('counted_orders', 'days_before < 365') }} as orders_365d,
        sum(counted_orders) as orders_lifetime,
        {{ sum_if('net_amount_cny', 'days_before < 30') }} as net_revenue_30d,
        {{ sum_if('net_amount_cny', 'days_before < 90') }} as net_revenue_90d,
        {{ sum_if('net_amount_cny', 'days_before between 90 and 179') }} as net_revenue_prev_90d,
        {{ sum_if('net_amount_cny', 'days_before < 365') }} as net_revenue_365d,
        sum(net_amount_cny) as net_revenue_lifetime,
        sum(counted_amount_cny) as gross_revenue_lifetime,
        sum(counted_refund_amount_cny) as refund_amount_lifetime,
        -- paid orders: the purchase history
        max(case when paid_order_count > 0 then order_date end) as last_paid_order_date,
        min(case when paid_order_count > 0 then days_before end) as days_since_last_paid_order,
        max(case when paid_order_count > 0 then days_before end) as days_since_first_purchase,
        max(case when paid_order_count > 0 then days_before end)
        - min(case when paid_order_count > 0 then days_before end) as days_first_to_last_purchase,
        {{ count_if('paid_order_count > 0') }} as purchase_days,
        {{ sum_if('paid_order_count', 'days_before < 90') }} as paid_orders_90d,
        {{ sum_if('paid_order_count', 'days_before between 90 and 179') }} as paid_orders_prev_90d,
        {{ sum_if('paid_order_count', 'days_before < 365') }} as paid_orders_365d,
        sum(paid_order_count) as paid_orders_lifetime,
        -- Gamma-Gamma's spend: the paid net of the purchase days after the first (the exact
        -- decimal sums; divided once below, no rounding of partial sums)
        sum(paid_net_amount_cny)
        - min_by(paid_net_amount_cny, order_date) filter (where paid_order_count > 0)
            as repeat_purchase_net
    from order_days
    group by golden_account_id, periods_back

),

outcomes as (

    select
        accounts.golden_account_id,
        accounts.periods_back,
        sum(paid_orders.net_amount_cny) as next_net_revenue,
        count(*) as next_paid_orders
    from accounts
    inner join paid_orders
        on accounts.golden_account_id = paid_orders.golden_account_id
        and accounts.reference_date < paid_orders.order_date
        and accounts.window_end >= paid_orders.order_date
    where accounts.periods_back > 0
    group by accounts.golden_account_id, accounts.periods_back

),

activity_dates as (

    select
        golden_account_id,
        activity_type,
        occurred_at,
        cast(occurred_at as date) as activity_date,
        activity_type <> 'unsubscribe' as is_engagement
    from {{ ref('activities') }}

),

activity_days as (

    select
        accounts.golden_account_id,
        accounts.periods_back,
        acts.activity_type,
        acts.occurred_at,
        acts.is_engagement,
        {{ dbt.datediff('acts.activity_date', 'accounts.reference_date', 'day') }}
            as days_before
    from accounts
    inner join activity_dates as acts
        on accounts.golden_account_id = acts.golden_account_id
        and accounts.reference_date >= acts.activity_date

),

-- Engagement counts leave unsubscribes out (they are counted apart).
engagement as (

    select
        golden_account_id,
        periods_back,
        {{ count_if('is_engagement and days_before < 30') }} as activities_30d,
        {{ count_if('is_engagement and days_before < 90') }} as activities_90d,
        {{ count_if('is_engagement and days_before between 90 and 179') }}
            as activities_prev_90d,
        {{ count_if('is_engagement and days_before < 365') }} as activities_365d,
        {{ count_if("activity_type = 'meeting' and days_before < 365") }} as meetings_365d,
        {{ count_if("activity_type = 'unsubscribe' and days_before < 365") }}
            as unsubscribes_365d,
        min(case when days_before < 365 then days_before end) as days_since_last_activity,
        max(case when is_engagement then occurred_at end) as last_activity_at
    from activity_days
    group by golden_account_id, periods_back

),

survey_answers as (

    select
        accounts.golden_account_id,
        accounts.periods_back,
        surveys.nps_score,
        {{ dbt.datediff('surveys.survey_date', 'accounts.reference_date', 'day') }}
            as days_before,
        row_number() over (
            partition by accounts.golden_account_id, accounts.periods_back
            order by surveys.survey_date desc, surveys.response_id desc
        ) as recency_rank
    from accounts
    inner join {{ ref('int_account_identity_map') }} as identity_map
        on accounts.golden_account_id = identity_map.golden_account_id
    inner join {{ ref('stg_surveys__responses') }} as surveys
        on identity_map.account_id = surveys.account_id
        and accounts.reference_date >= surveys.survey_date

),

nps as (

    select
        golden_account_id,
        periods_back,
        max(case when recency_rank = 1 then nps_score end) as nps_latest,
        avg(case when days_before < 365 then nps_score end) as nps_avg_365d,
        count(*) as survey_responses
    from survey_answers
    group by golden_account_id, periods_back

),

risk_assessments as (

    select
        accounts.golden_account_id,
        accounts.periods_back,
        risk.credit_rating,
        risk.overdue_amount_cny,
        risk.lawsuit_count,
        risk.abnormal_operation,
        risk.assessed_on,
        {{ dbt.datediff('risk.assessed_on', 'accounts.reference_date', 'day') }}
            as risk_age_days,
        -- two assessments of one day: the one loaded last
        row_number() over (
            partition by accounts.golden_account_id, accounts.periods_back
            order by risk.assessed_on desc, risk.loaded_at desc
        ) as recency_rank
    from accounts
    inner join {{ ref('int_golden_accounts') }} as golden
        on accounts.golden_account_id = golden.golden_account_id
    inner join {{ ref('stg_risk__assessments') }} as risk
        on golden.uscc = risk.uscc
        and accounts.reference_date >= risk.assessed_on

),

lead_dates as (

    select
        golden_account_id,
        lead_id,
        lead_source,
        status,
        created_at,
        cast(created_at as date) as created_on,
        -- a converted lead without a conversion time converted when it was created
        cast(
            coalesce(converted_at, case when status = 'converted' then created_at end) as date
        ) as converted_on,
        cast(updated_at as date) as updated_on
    from {{ ref('leads') }}

),

-- Each lead created on or before each reference date, and whether it was open on that date:
-- not yet converted, and still open today or closed (lost) only after that date.
lead_rows as (

    select
        accounts.golden_account_id,
        accounts.periods_back,
        lds.lead_source,
        lds.converted_on,
        {{ dbt.datediff('lds.created_on', 'accounts.reference_date', 'day') }}
            as days_before,
        coalesce(lds.converted_on > accounts.reference_date, true)
        and (lds.status = 'open' or lds.updated_on > accounts.reference_date) as is_open,
        coalesce(lds.converted_on <= accounts.reference_date, false) as is_converted,
        row_number() over (
            partition by accounts.golden_account_id, accounts.periods_back
            order by lds.created_at desc, lds.lead_id desc
        ) as recency_rank
    from accounts
    inner join lead_dates as lds
        on accounts.golden_account_id = lds.golden_account_id
        and accounts.reference_date >= lds.created_on

),

lead_state as (

    select
        golden_account_id,
        periods_back,
        max(case when recency_rank = 1 then lead_source end) as latest_lead_source,
        count(*) as leads_total,
        {{ count_if('is_open') }} as leads_open,
        {{ count_if('is_converted') }} as leads_converted,
        {{ count_if('days_before < 365') }} as leads_365d,
        min(days_before) as days_since_latest_lead,
        max(case when is_converted then converted_on end) as last_conversion_date
    from lead_rows
    group by golden_account_id, periods_back

)

select
    -- ids
    cast(accounts.golden_account_id as {{ dbt.type_string() }}) as golden_account_id,
    cast(accounts.periods_back as integer) as periods_back,
    cast(accounts.reference_date as date) as reference_date,

    -- firmographics (current profile)
    cast(profile.industry as {{ dbt.type_string() }}) as industry,
    cast(profile.size_band as {{ dbt.type_string() }}) as size_band,
    cast(profile.employee_count as bigint) as employee_count,
    cast(profile.annual_revenue_cny as double) as annual_revenue_cny,
    cast(profile.region as {{ dbt.type_string() }}) as region,
    cast(profile.group_depth as integer) as group_depth,
    cast(accounts.account_age_days as integer) as account_age_days,

    -- orders as of the reference date (cancelled ones left out)
    cast(order_history.first_order_date as date) as first_order_date,
    cast(order_history.last_order_date as date) as last_order_date,
    cast(order_history.days_since_last_order as integer) as days_since_last_order,
    cast(coalesce(order_history.orders_30d, 0) as bigint) as orders_30d,
    cast(coalesce(order_history.orders_90d, 0) as bigint) as orders_90d,
    cast(coalesce(order_history.orders_prev_90d, 0) as bigint) as orders_prev_90d,
    cast(coalesce(order_history.orders_365d, 0) as bigint) as orders_365d,
    cast(coalesce(order_history.orders_lifetime, 0) as bigint) as orders_lifetime,
    cast(coalesce(order_history.net_revenue_30d, 0) as double) as net_revenue_30d,
    cast(coalesce(order_history.net_revenue_90d, 0) as double) as net_revenue_90d,
    cast(coalesce(order_history.net_revenue_prev_90d, 0) as double) as net_revenue_prev_90d,
    cast(coalesce(order_history.net_revenue_365d, 0) as double) as net_revenue_365d,
    cast(coalesce(order_history.net_revenue_lifetime, 0) as double) as net_revenue_lifetime,
    cast(
        case
            when order_history.gross_revenue_lifetime > 0
                then
                    cast(order_history.refund_amount_lifetime as double)
                    / cast(order_history.gross_revenue_lifetime as double)
            else 0
        end
        as double
    ) as refund_rate,

    -- paid orders (net > 0, not cancelled) as of the reference date: the purchase history
    cast(coalesce(order_history.paid_orders_lifetime, 0) > 0 as boolean) as has_paid_order,
    cast(order_history.last_paid_order_date as date) as last_paid_order_date,
    cast(order_history.days_since_last_paid_order as integer) as days_since_last_paid_order,
    cast(order_history.days_since_first_purchase as integer) as days_since_first_purchase,
    cast(order_history.days_first_to_last_purchase as integer) as days_first_to_last_purchase,
    cast(coalesce(order_history.purchase_days, 0) as bigint) as purchase_days,
    cast(
        case
            when order_history.purchase_days > 1
                then
                    cast(order_history.repeat_purchase_net as double)
                    / (order_history.purchase_days - 1)
        end
        as double
    ) as repeat_purchase_mean_spend,
    cast(coalesce(order_history.paid_orders_90d, 0) as bigint) as paid_orders_90d,
    cast(coalesce(order_history.paid_orders_prev_90d, 0) as bigint) as paid_orders_prev_90d,
    cast(coalesce(order_history.paid_orders_365d, 0) as bigint) as paid_orders_365d,
    cast(coalesce(order_history.paid_orders_lifetime, 0) as bigint) as paid_orders_lifetime,

    -- engagement as of the reference date (unsubscribes counted apart)
    cast(coalesce(engagement.activities_30d, 0) as bigint) as activities_30d,
    cast(coalesce(engagement.activities_90d, 0) as bigint) as activities_90d,
    cast(coalesce(engagement.activities_prev_90d, 0) as bigint) as activities_prev_90d,
    cast(coalesce(engagement.activities_365d, 0) as bigint) as activities_365d,
    cast(coalesce(engagement.meetings_365d, 0) as bigint) as meetings_365d,
    cast(coalesce(engagement.unsubscribes_365d, 0) as bigint) as unsubscribes_365d,
    cast(engagement.days_since_last_activity as integer) as days_since_last_activity,
    cast(engagement.last_activity_at as timestamp) as last_activity_at,

    -- NPS and risk as of the reference date
    cast(nps.nps_latest as integer) as nps_latest,
    cast(nps.nps_avg_365d as double) as nps_avg_365d,
    cast(coalesce(nps.survey_responses, 0) as bigint) as survey_responses,
    cast(risk_assessments.credit_rating as {{ dbt.type_string() }}) as credit_rating,
    cast(risk_assessments.overdue_amount_cny as double) as overdue_amount_cny,
    cast(risk_assessments.lawsuit_count as bigint) as lawsuit_count,
    cast(risk_assessments.abnormal_operation as boolean) as abnormal_operation,
    cast(risk_assessments.assessed_on as date) as risk_as_of_date,
    cast(risk_assessments.risk_age_days as integer) as risk_age_days,

    -- lead state on the reference date
    cast(lead_state.latest_lead_source as {{ dbt.type_string() }}) as latest_lead_source,
    cast(coalesce(lead_state.leads_total, 0) as bigint) as leads_total,
    cast(coalesce(lead_state.leads_open, 0) as bigint) as leads_open,
    cast(coalesce(lead_state.leads_converted, 0) as bigint) as leads_converted,
    cast(coalesce(lead_state.leads_365d, 0) as bigint) as leads_365d,
    cast(lead_state.days_since_latest_lead as integer) as days_since_latest_lead,
    cast(
        coalesce(
            lead_state.last_conversion_date is not null
            and (
                order_history.last_paid_order_date is null
                or order_history.last_paid_order_date < lead_state.last_conversion_date
            ),
            false
        ) as boolean
    ) as has_converted_lead_without_order,

    -- what happened in (reference_date, reference_date + H]; null for the as-of date's rows
    cast(
        case when accounts.periods_back > 0 then coalesce(outcomes.next_net_revenue, 0) end
        as double
    ) as next_net_revenue,
    cast(
        case when accounts.periods_back > 0 then coalesce(outcomes.next_paid_orders, 0) end
        as bigint
    ) as next_paid_orders
from accounts
inner join profile
    on accounts.golden_account_id = profile.golden_account_id
left join order_history
    on accounts.golden_account_id = order_history.golden_account_id
    and accounts.periods_back = order_history.periods_back
left join outcomes
    on accounts.golden_account_id = outcomes.golden_account_id
    and accounts.periods_back = outcomes.periods_back
left join engagement
    on accounts.golden_account_id = engagement.golden_account_id
    and accounts.periods_back = engagement.periods_back
left join nps
    on accounts.golden_account_id = nps.golden_account_id
    and accounts.periods_back = nps.periods_back
left join risk_assessments
    on accounts.golden_account_id = risk_assessments.golden_account_id
    and accounts.periods_back = risk_assessments.periods_back
    and risk_assessments.recency_rank = 1
left join lead_state
    on accounts.golden_account_id = lead_state.golden_account_id
    and accounts.periods_back = lead_state.periods_back
