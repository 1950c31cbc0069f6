-- Training rows of the conversion model: one row per lead created by the as-of date, with the
-- features as they stood when the lead was created (engagement in the look-back before it,
-- paid orders before its day) and the account's current firmographics (they change slowly).
-- Engagement and prior purchases use the same macros as account_features, so a feature means
-- the same for a lead at its creation and for an account at the end of the as-of date.

with

leads as (

    select
        lead_id,
        golden_account_id,
        lead_source,
        status,
        created_at,
        converted_at
    from {{ ref('leads') }}
    where created_at < {{ as_of_end() }}

),

reference_points as (

    select
        lead_id as reference_id,
        golden_account_id,
        created_at as reference_ts
    from leads

),

engagement as (

    {{ engagement_at('reference_points') }}

),

prior_purchases as (

    {{ purchases_before('reference_points') }}

),

profile as (

    select * from {{ ref('customer_360') }}

)

select
    -- ids
    cast(leads.lead_id as {{ dbt.type_string() }}) as lead_id,
    cast(leads.golden_account_id as {{ dbt.type_string() }}) as golden_account_id,
    cast({{ as_of_date() }} as date) as as_of_date,

    -- the lead
    cast(leads.lead_source as {{ dbt.type_string() }}) as lead_source,
    cast(leads.status as {{ dbt.type_string() }}) as status,
    cast(leads.created_at as timestamp) as created_at,
    cast(leads.converted_at as timestamp) as converted_at,

    -- firmographics
    cast(profile.industry as {{ dbt.type_string() }}) as industry,
    cast(profile.size_band as {{ dbt.type_string() }}) as size_band,
    cast(profile.region as {{ dbt.type_string() }}) as region,
    cast(profile.employee_count as bigint) as employee_count,
    cast(profile.annual_revenue_cny as decimal(18, 2)) as annual_revenue_cny,

    -- before the lead was created
    {{- engagement_columns('engagement') }}
    cast(coalesce(prior_purchases.prior_paid_orders, 0) as bigint) as prior_paid_orders,
    cast(coalesce(prior_purchases.prior_net_revenue, 0) as double) as prior_net_revenue
from leads
inner join profile
    on leads.golden_account_id = profile.golden_account_id
left join engagement
    on leads.lead_id = engagement.reference_id
left join prior_purchases
    on leads.lead_id = prior_purchases.reference_id
