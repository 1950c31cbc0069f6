-- Current orders: latest version per order_id (the order system re-sends changed orders,
-- e.g. a later refund). Net amount = amount - refund, and 0 for cancelled orders.
-- Late-arriving orders keep their own order_date, so they count in the period they belong to.

with

source as (

    select * from {{ source('raw', 'orders') }}
    -- Point in time: orders placed by the as-of date, in their version at its end (a refund
    -- recorded later is not yet visible).
    where updated_at < {{ as_of_end() }}
        and order_date <= {{ as_of_date() }}
        and {{ not_withdrawn('orders') }}

),

latest as (

    select
        *,
        row_number() over (
            partition by order_id
            order by updated_at desc, _loaded_at desc, _source_line desc
        ) as version_rank
    from source

),

renamed as (

    select
        -- ids
        cast(trim(order_id) as {{ dbt.type_string() }}) as order_id,
        cast(trim(account_id) as {{ dbt.type_string() }}) as account_id,

        -- strings
        cast(lower(trim(status)) as {{ dbt.type_string() }}) as status,
        cast(nullif(trim(product_line), '') as {{ dbt.type_string() }}) as product_line,

        -- numerics
        cast(amount_cny as decimal(18, 2)) as amount_cny,
        cast(coalesce(refund_amount_cny, 0) as decimal(18, 2)) as refund_amount_cny,

        -- dates
        cast(order_date as date) as order_date,
        cast(updated_at as timestamp) as updated_at
    from latest
    where version_rank = 1

)

select
    order_id,
    account_id,
    status,
    product_line,
    amount_cny,
    refund_amount_cny,
    cast(
        case when status = 'cancelled' then 0 else amount_cny - refund_amount_cny end
        as decimal(18, 2)
    ) as net_amount_cny,
    status = 'cancelled' as is_cancelled,
    order_date,
    updated_at
from renamed
