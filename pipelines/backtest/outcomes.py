"""What happened after a reference date, per account, read from the warehouse's marts: the
outcomes a published snapshot is judged on and the naive baselines' inputs on that date.

One query of per-account aggregates over ``marts.orders`` and ``marts.leads`` (never every
order row in pandas): net revenue and paid orders in (reference date, as-of date], and, as of
the reference date, days since the last paid order and whether a lead was open.
"""

from __future__ import annotations

from datetime import date

import duckdb
import pandas as pd

OUTCOME_SQL = """
with paid as (
    select golden_account_id, order_date, net_amount_cny
    from marts.orders
    where net_amount_cny > 0 and coalesce(status, '') <> 'cancelled' and order_date <= $as_of
),
before as (
    select golden_account_id, max(order_date) as last_order_date
    from paid where order_date <= $ref group by golden_account_id
),
after as (
    select golden_account_id, sum(net_amount_cny) as next_net_revenue, count(*) as next_orders
    from paid where order_date > $ref group by golden_account_id
),
leads as (
    select
        golden_account_id,
        bool_or(
            (converted_at is null or cast(converted_at as date) > $ref)
            and (status = 'open' or cast(updated_at as date) > $ref)
        ) as lead_open,
        max(case when cast(converted_at as date) <= $ref then cast(converted_at as date) end)
            as converted_on
    from marts.leads
    where cast(created_at as date) <= $ref
    group by golden_account_id
)
select
    ids.golden_account_id,
    cast(coalesce(after.next_net_revenue, 0) as double) as next_net_revenue,
    cast(coalesce(after.next_orders, 0) as bigint) as next_paid_orders,
    cast(date_diff('day', before.last_order_date, $ref) as double) as days_since_last_order,
    coalesce(leads.lead_open, false)
        or coalesce(leads.converted_on > coalesce(before.last_order_date, date '1900-01-01'), false)
        as has_open_lead
from (select golden_account_id from features.account_features) as ids
left join before using (golden_account_id)
left join after using (golden_account_id)
left join leads using (golden_account_id)
order by ids.golden_account_id
"""


def outcomes_since(con: duckdb.DuckDBPyConnection, reference: date, as_of: date) -> pd.DataFrame:
    """Per account: next_net_revenue and next_paid_orders in (reference, as_of], and the naive
    inputs days_since_last_order and has_open_lead as of ``reference``."""
    return con.execute(OUTCOME_SQL, {"ref": reference, "as_of": as_of}).df()
