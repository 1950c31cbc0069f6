-- One row per customer group (the root of a customer tree, incl. standalone accounts as groups
-- of one), rolling up every descendant: members, revenue, orders, engagement and the worst risk.

with

members as (

    select * from {{ ref('customer_360') }}

),

rolled_up as (

    select
        root_golden_account_id,
        count(*) as member_count,
        max(group_depth) as max_group_depth,
        sum(orders_365d) as orders_365d,
        sum(orders_lifetime) as orders_lifetime,
        sum(net_revenue_365d) as net_revenue_365d,
        sum(net_revenue_lifetime) as net_revenue_lifetime,
        sum(activities_90d) as activities_90d,
        sum(activities_365d) as activities_365d,
        max(last_activity_at) as last_activity_at,
        max(last_order_date) as last_order_date,
        sum(leads_open) as leads_open,
        max({{ credit_rating_rank('credit_rating') }}) as worst_credit_rating_rank,
        {{ count_if('abnormal_operation') }} as abnormal_member_count,
        sum(coalesce(overdue_amount_cny, 0)) as overdue_amount_cny,
        sum(coalesce(lawsuit_count, 0)) as lawsuit_count,
        {{ count_if('was_in_hierarchy_cycle') }} as cycle_member_count
    from members
    group by root_golden_account_id

)

select
    cast(rolled_up.root_golden_account_id as {{ dbt.type_string() }}) as root_golden_account_id,
    cast(roots.account_name as {{ dbt.type_string() }}) as root_account_name,
    cast(roots.uscc as {{ dbt.type_string() }}) as root_uscc,
    cast(roots.industry as {{ dbt.type_string() }}) as root_industry,
    cast(roots.region as {{ dbt.type_string() }}) as root_region,
    cast(rolled_up.member_count as integer) as member_count,
    cast(rolled_up.max_group_depth as integer) as max_group_depth,
    cast(rolled_up.orders_365d as bigint) as orders_365d,
    cast(rolled_up.orders_lifetime as bigint) as orders_lifetime,
    cast(rolled_up.net_revenue_365d as decimal(18, 2)) as net_revenue_365d,
    cast(rolled_up.net_revenue_lifetime as decimal(18, 2)) as net_revenue_lifetime,
    cast(rolled_up.activities_90d as bigint) as activities_90d,
    cast(rolled_up.activities_365d as bigint) as activities_365d,
    cast(rolled_up.last_activity_at as timestamp) as last_activity_at,
    cast(rolled_up.last_order_date as date) as last_order_date,
    cast(rolled_up.leads_open as bigint) as leads_open,
    cast(
        {{ credit_rating_from_rank('rolled_up.worst_credit_rating_rank') }}
        as {{ dbt.type_string() }}
    ) as worst_credit_rating,
    cast(rolled_up.abnormal_member_count > 0 as boolean) as any_abnormal_operation,
    cast(rolled_up.abnormal_member_count as integer) as abnormal_member_count,
    cast(rolled_up.overdue_amount_cny as decimal(18, 2)) as overdue_amount_cny,
    cast(rolled_up.lawsuit_count as bigint) as lawsuit_count,
    cast(rolled_up.cycle_member_count > 0 as boolean) as has_broken_cycle,
    cast({{ as_of_date() }} as date) as as_of_date
from rolled_up
inner join members as roots
    on rolled_up.root_golden_account_id = roots.golden_account_id
