-- Current orders keyed to golden accounts (one row per order). Orders whose account_id is not
-- a current CRM account cannot be attributed and are left out (counted by a data test).

select
    cast(orders.order_id as {{ dbt.type_string() }}) as order_id,
    cast(identity_map.golden_account_id as {{ dbt.type_string() }}) as golden_account_id,
    cast(orders.account_id as {{ dbt.type_string() }}) as account_id,
    cast(orders.order_date as date) as order_date,
    cast(orders.status as {{ dbt.type_string() }}) as status,
    cast(orders.amount_cny as decimal(18, 2)) as amount_cny,
    cast(orders.refund_amount_cny as decimal(18, 2)) as refund_amount_cny,
    cast(orders.net_amount_cny as decimal(18, 2)) as net_amount_cny,
    cast(orders.product_line as {{ dbt.type_string() }}) as product_line
from {{ ref('stg_orders__orders') }} as orders
inner join {{ ref('int_account_identity_map') }} as identity_map
    on orders.account_id = identity_map.account_id
