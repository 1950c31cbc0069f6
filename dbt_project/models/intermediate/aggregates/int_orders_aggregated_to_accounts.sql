-- Order measures per golden account, as of var/env as_of_date. Orders dated after as_of are
-- ignored (a rerun for a past date sees the past); late-arriving orders count in the window of
-- their order_date. Order counts and revenue exclude cancelled orders, which are counted apart.

with

orders as (

    select
        identity_map.golden_account_id,
        orders.order_date,
        orders.amount_cny,
        orders.refund_amount_cny,
        orders.net_amount_cny,
        orders.is_cancelled
    from {{ ref('stg_orders__orders') }} as orders
    inner join {{ ref('int_account_identity_map') }} as identity_map
        on orders.account_id = identity_map.account_id
    where orders.order_date <= {{ as_of_date() }}

),

aggregated as (

    select
        golden_account_id,
        min(case when not is_cancelled then order_date end) as first_order_date,
        max(case when not is_cancelled then order_date end) as last_order_date,
        {{ count_if('not is_cancelled and ' ~ in_window('order_date', 30)) }} as orders_30d,
        {{ count_if('not is_cancelled and ' ~ in_window('order_date', 90)) }} as orders_90d,
        {{ count_if('not is_cancelled and ' ~ in_window('order_date', 90, 90)) }}
            as orders_prev_90d,
        {{ count_if('not is_cancelled and ' ~ in_window('order_date', 365)) }} as orders_365d,
        {{ count_if('not is_cancelled') }} as orders_lifetime,
        {{ sum_if('net_amount_cny', in_window('order_date', 30)) }} as net_revenue_30d,
        {{ sum_if('net_amount_cny', in_window('order_date', 90)) }} as net_revenue_90d,
        {{ sum_if('net_amount_cny', in_window('order_date', 90, 90)) }} as net_revenue_prev_90d,
        {{ sum_if('net_amount_cny', in_window('order_date', 365)) }} as net_revenue_365d,
        sum(net_amount_cny) as net_revenue_lifetime,
        {{ sum_if('amount_cny', 'not is_cancelled') }} as gross_revenue_lifetime,
        {{ sum_if('refund_amount_cny', 'not is_cancelled') }} as refund_amount_lifetime,
        {{ count_if('is_cancelled') }} as cancelled_orders_lifetime,
        {{ count_if('net_amount_cny > 0') }} as paid_orders_lifetime
    from orders
    group by golden_account_id

)

select
    cast(golden_account_id as {{ dbt.type_string() }}) as golden_account_id,
    cast(first_order_date as date) as first_order_date,
    cast(last_order_date as date) as last_order_date,
    cast(orders_30d as bigint) as orders_30d,
    cast(orders_90d as bigint) as orders_90d,
    cast(orders_prev_90d as bigint) as orders_prev_90d,
    cast(orders_365d as bigint) as orders_365d,
    cast(orders_lifetime as bigint) as orders_lifetime,
    cast(net_revenue_30d as decimal(18, 2)) as net_revenue_30d,
    cast(net_revenue_90d as decimal(18, 2)) as net_revenue_90d,
    cast(net_revenue_prev_90d as decimal(18, 2)) as net_revenue_prev_90d,
    cast(net_revenue_365d as decimal(18, 2)) as net_revenue_365d,
    cast(net_revenue_lifetime as decimal(18, 2)) as net_revenue_lifetime,
    cast(gross_revenue_lifetime as decimal(18, 2)) as gross_revenue_lifetime,
    cast(refund_amount_lifetime as decimal(18, 2)) as refund_amount_lifetime,
    cast(cancelled_orders_lifetime as bigint) as cancelled_orders_lifetime,
    cast(paid_orders_lifetime as bigint) as paid_orders_lifetime
from aggregated
