"""A synthetic warehouse at production scale, generated in DuckDB SQL from ``range()``.

``marts.customer_360`` (every column of docs/architecture.md, with the dbt contract's types),
``marts.orders``, ``marts.activities`` and ``marts.leads``. Randomness is ``hash(i, salt)``, so
the same sizes always give the same data. The customer_360 aggregates are computed from the
generated orders / activities / leads, so the scores see a consistent world: skewed order
counts (a few heavy buyers, many accounts with none), refunds and cancellations, engagement
and lead outcomes that depend on company size.
"""

from __future__ import annotations

from datetime import date

import duckdb

# u(i, salt): a uniform number in [0, 1) derived from a row number.
_U = "((hash({i}, {salt}) % 1000000007) / 1000000007.0)"

INDUSTRIES = [
    "saas", "ict", "electronics_manufacturing", "equipment_manufacturing", "auto_parts",
    "professional_services", "healthcare", "fine_chemicals", "energy_power", "logistics", "fmcg",
    "home_building_materials", "education_training", "agricultural_inputs", "其他行业",
]  # fmt: skip
PLACES = [
    ("上海市", "上海市", "华东"), ("浙江省", "杭州市", "华东"), ("江苏省", "苏州市", "华东"),
    ("广东省", "深圳市", "华南"), ("广东省", "广州市", "华南"), ("北京市", "北京市", "华北"),
    ("湖北省", "武汉市", "华中"), ("四川省", "成都市", "西南"), ("辽宁省", "沈阳市", "东北"),
    ("陕西省", "西安市", "西北"), ("未知省", "未知市", None),
]  # fmt: skip
ACTIVITY_TYPES = [
    ("web_visit", 0.40), ("email_open", 0.25), ("email_click", 0.12), ("content_download", 0.10),
    ("meeting", 0.06), ("event_attendance", 0.05), ("unsubscribe", 0.02),
]  # fmt: skip
LEAD_SOURCES = ["web", "event", "referral", "advertising", "outbound", "partner"]
RATINGS = ["AAA", "AA", "A", "BBB", "BB", "B", "CCC", "CC", "C"]


def u(i: str, salt: int) -> str:
    """SQL for a deterministic uniform [0, 1) value of expression ``i``."""
    return _U.format(i=i, salt=salt)


def _pick(values: list, i: str, salt: int) -> str:
    """SQL picking one of ``values`` uniformly by ``u(i, salt)``."""
    lit = ", ".join("NULL" if v is None else f"'{v}'" for v in values)
    return f"([{lit}])[1 + floor({u(i, salt)} * {len(values)})::int]"


def gid(i: str) -> str:
    return f"'G-' || lpad(({i})::varchar, 7, '0')"


def build_orders(
    con: duckdb.DuckDBPyConnection, n_accounts: int, n_orders: int, as_of: date
) -> None:
    """``marts.orders``: account drawn with a cubic skew (heavy buyers), dates over 3 years.

    Only the first 60% of accounts ever order: the rest are prospects (tier P).
    """
    buyers = max(1, int(n_accounts * 0.6))
    acc = f"least(floor({buyers} * pow({u('i', 1)}, 3))::bigint, {buyers - 1})"
    con.execute(f"""
        create or replace table marts.orders as
        with o as (
            select
                i,
                {acc} as a,
                {u("i", 2)} as s,
                round(exp(6 + 5 * {u("i", 3)}), 2)::decimal(18, 2) as amount
            from range({n_orders}) as t(i)
        )
        select
            'O' || i::varchar as order_id,
            {gid("a")} as golden_account_id,
            'A' || a::varchar as account_id,
            (date '{as_of}' - (floor(1095 * {u("i", 4)})::int)) as order_date,
            case when s < 0.03 then 'cancelled' when s < 0.06 then 'refunded'
                 when s < 0.09 then 'partially_refunded' else 'completed' end as status,
            amount as amount_cny,
            case when s < 0.03 then 0 when s < 0.06 then amount
                 when s < 0.09 then round(amount * 0.3, 2) else 0 end::decimal(18, 2)
                as refund_amount_cny,
            (amount - refund_amount_cny)::decimal(18, 2) as net_amount_cny,
            {_pick(["software", "hardware", "services"], "i", 5)} as product_line
        from o
    """)


def build_activities(
    con: duckdb.DuckDBPyConnection, n_accounts: int, n_activities: int, as_of: date
) -> None:
    """``marts.activities``: squared skew over accounts, two years of timestamps."""
    acc = f"least(floor({n_accounts} * pow({u('i', 11)}, 2))::bigint, {n_accounts - 1})"
    cum, cases = 0.0, []
    for name, share in ACTIVITY_TYPES:
        cum += share
        cases.append(f"when s < {cum:.4f} then '{name}'")
    con.execute(f"""
        create or replace table marts.activities as
        with a as (select i, {acc} as a, {u("i", 12)} as s from range({n_activities}) as t(i))
        select
            'E' || i::varchar as activity_id,
            {gid("a")} as golden_account_id,
            'A' || a::varchar as account_id,
            case {" ".join(cases)} else 'web_visit' end as activity_type,
            timestamp '{as_of} 18:00:00' - to_seconds((floor(730 * 86400 * {u("i", 13)}))::bigint)
                as occurred_at
        from a
    """)


def build_leads(con: duckdb.DuckDBPyConnection, n_accounts: int, n_leads: int, as_of: date) -> None:
    """``marts.leads``: older leads are decided; conversion more likely for larger companies."""
    con.execute(f"""
        create or replace table marts.leads as
        with l as (
            select
                i,
                floor({n_accounts} * {u("i", 21)})::bigint as a,
                floor(1095 * {u("i", 22)})::int as age_days,
                {u("i", 23)} as s
            from range({n_leads}) as t(i)
        ),
        scored as (
            -- account size draws the same u() as customer_360's employee_count (salt 31)
            select *, {u("a", 31)} as size_u from l
        )
        select
            'L' || i::varchar as lead_id,
            {gid("a")} as golden_account_id,
            'A' || a::varchar as account_id,
            {_pick(LEAD_SOURCES, "i", 24)} as lead_source,
            case when age_days < 60 and s < 0.7 then 'open'
                 when s < 0.05 + 0.3 * size_u then 'converted' else 'lost' end as status,
            timestamp '{as_of} 12:00:00' - to_days(age_days) as created_at,
            case when not (age_days < 60 and s < 0.7) and s < 0.05 + 0.3 * size_u
                 then timestamp '{as_of} 12:00:00' - to_days(age_days) + to_days(20) end
                as converted_at
        from scored
    """)


def build_customer_360(con: duckdb.DuckDBPyConnection, n_accounts: int, as_of: date) -> None:
    """``marts.customer_360`` for ``n_accounts`` golden accounts, aggregates from the marts."""
    d = f"date '{as_of}'"
    per_type = ",\n".join(
        f"count(*) filter (where activity_type = '{t}' and occurred_at > {d} - 90) as {t}_90d, "
        f"max(occurred_at) filter (where activity_type = '{t}') as last_{t}_at"
        for t, _ in ACTIVITY_TYPES
        if t != "unsubscribe"
    )
    type_cols = ", ".join(
        f"coalesce(e.{t}_90d, 0) as {t}_90d, e.last_{t}_at"
        for t, _ in ACTIVITY_TYPES
        if t != "unsubscribe"
    )
    places = ", ".join(
        "{" + f"'p': '{p}', 'c': '{c}', 'r': " + ("NULL" if r is None else f"'{r}'") + "}"
        for p, c, r in PLACES
    )
    con.execute(f"""
        create or replace table marts.customer_360 as
        with acc as (
            select
                i,
                {gid("i")} as golden_account_id,
                floor(exp(9.5 * {u("i", 31)}))::bigint as employee_count,
                ([{places}])[1 + floor({u("i", 32)} * {len(PLACES)})::int] as place,
                {_pick(INDUSTRIES, "i", 33)} as industry,
                case when {u("i", 34)} < 0.1 and i > 0
                    then floor(i * {u("i", 35)})::bigint end as parent_i
            from range({n_accounts}) as t(i)
        ),
        ord as (
            select
                golden_account_id,
                min(order_date) filter (where status <> 'cancelled') as first_order_date,
                max(order_date) filter (where status <> 'cancelled') as last_order_date,
                count(*) filter (where status <> 'cancelled' and order_date > {d} - 30) as orders_30d,
                count(*) filter (where status <> 'cancelled' and order_date > {d} - 90) as orders_90d,
                count(*) filter (where status <> 'cancelled' and order_date > {d} - 180
                                 and order_date <= {d} - 90) as orders_prev_90d,
                count(*) filter (where status <> 'cancelled' and order_date > {d} - 365) as orders_365d,
                count(*) filter (where status <> 'cancelled') as orders_lifetime,
                coalesce(sum(net_amount_cny) filter (where status <> 'cancelled' and order_date > {d} - 30), 0) as net_revenue_30d,
                coalesce(sum(net_amount_cny) filter (where status <> 'cancelled' and order_date > {d} - 90), 0) as net_revenue_90d,
                coalesce(sum(net_amount_cny) filter (where status <> 'cancelled' and order_date > {d} - 180
                                                     and order_date <= {d} - 90), 0) as net_revenue_prev_90d,
                coalesce(sum(net_amount_cny) filter (where status <> 'cancelled' and order_date > {d} - 365), 0) as net_revenue_365d,
                coalesce(sum(net_amount_cny) filter (where status <> 'cancelled'), 0) as net_revenue_lifetime,
                coalesce(sum(amount_cny) filter (where status <> 'cancelled'), 0) as gross_revenue_lifetime,
                coalesce(sum(refund_amount_cny) filter (where status <> 'cancelled'), 0) as refund_amount_lifetime,
                count(*) filter (where status = 'cancelled') as cancelled_orders_lifetime
            from marts.orders
            group by golden_account_id
        ),
        eng as (
            select
                golden_account_id,
                count(*) filter (where occurred_at > {d} - 30) as activities_30d,
                count(*) filter (where occurred_at > {d} - 90) as activities_90d,
                count(*) filter (where occurred_at > {d} - 180 and occurred_at <= {d} - 90) as activities_prev_90d,
                count(*) filter (where occurred_at > {d} - 365) as activities_365d,
                {per_type},
                count(*) filter (where activity_type = 'unsubscribe' and occurred_at > {d} - 365) as unsubscribes_365d,
                max(occurred_at) as last_activity_at
            from marts.activities
            group by golden_account_id
        ),
        lds as (
            select
                golden_account_id,
                count(*) as leads_total,
                count(*) filter (where status = 'open') as leads_open,
                count(*) filter (where status = 'converted') as leads_converted,
                max(created_at) as last_lead_at
            from marts.leads
            group by golden_account_id
        )
        select
            acc.golden_account_id,
            '公司' || acc.i::varchar || '有限公司' as account_name,
            case when {u("i", 36)} < 0.8 then '91' || lpad(acc.i::varchar, 16, '0') end as uscc,
            acc.industry,
            acc.industry <> '其他行业' as industry_is_known,
            case when acc.employee_count < 10 then 'micro' when acc.employee_count < 100 then 'small'
                 when acc.employee_count < 1000 then 'medium' when acc.employee_count < 10000 then 'large'
                 else 'enterprise' end as size_band,
            acc.employee_count,
            (acc.employee_count * (200000 + 800000 * {u("i", 37)}))::decimal(18, 2) as annual_revenue_cny,
            acc.place.p as province,
            acc.place.c as city,
            acc.place.r as region,
            {_pick(["key_accounts", "account_management", "customer_success", "marketing"], "i", 38)} as owner_team,
            case when acc.parent_i is not null then {gid("acc.parent_i")} end as parent_golden_account_id,
            case when acc.parent_i is not null then {gid("acc.parent_i")} else acc.golden_account_id end
                as root_golden_account_id,
            case when acc.parent_i is not null then 1 else 0 end::integer as group_depth,
            timestamp '{as_of}' - to_days(floor(2000 * {u("i", 39)})::int) as account_created_at,
            1::integer as source_record_count,
            ord.first_order_date,
            ord.last_order_date,
            date_diff('day', ord.last_order_date, {d})::integer as days_since_last_order,
            coalesce(ord.orders_30d, 0) as orders_30d,
            coalesce(ord.orders_90d, 0) as orders_90d,
            coalesce(ord.orders_365d, 0) as orders_365d,
            coalesce(ord.orders_lifetime, 0) as orders_lifetime,
            coalesce(ord.net_revenue_30d, 0)::decimal(18, 2) as net_revenue_30d,
            coalesce(ord.net_revenue_90d, 0)::decimal(18, 2) as net_revenue_90d,
            coalesce(ord.net_revenue_prev_90d, 0)::decimal(18, 2) as net_revenue_prev_90d,
            coalesce(ord.net_revenue_365d, 0)::decimal(18, 2) as net_revenue_365d,
            coalesce(ord.net_revenue_lifetime, 0)::decimal(18, 2) as net_revenue_lifetime,
            coalesce(ord.gross_revenue_lifetime, 0)::decimal(18, 2) as gross_revenue_lifetime,
            coalesce(ord.refund_amount_lifetime, 0)::decimal(18, 2) as refund_amount_lifetime,
            coalesce(ord.refund_amount_lifetime / nullif(ord.gross_revenue_lifetime, 0), 0)::double
                as refund_rate,
            coalesce(ord.cancelled_orders_lifetime, 0) as cancelled_orders_lifetime,
            coalesce(ord.net_revenue_lifetime / nullif(ord.orders_lifetime, 0), 0)::decimal(18, 2)
                as avg_order_value,
            coalesce(ord.net_revenue_lifetime, 0) > 0 as has_paid_order,
            coalesce(e.activities_30d, 0) as activities_30d,
            coalesce(e.activities_90d, 0) as activities_90d,
            coalesce(e.activities_prev_90d, 0) as activities_prev_90d,
            coalesce(e.activities_365d, 0) as activities_365d,
            {type_cols},
            coalesce(e.unsubscribes_365d, 0) as unsubscribes_365d,
            e.last_activity_at,
            coalesce(l.leads_total, 0) as leads_total,
            coalesce(l.leads_open, 0) as leads_open,
            coalesce(l.leads_converted, 0) as leads_converted,
            l.last_lead_at,
            floor(5 * {u("i", 40)})::bigint as contacts_total,
            floor(2 * {u("i", 41)} * {u("i", 42)})::bigint as contacts_opted_out,
            case when {u("i", 43)} < 0.85 then {_pick(RATINGS, "i", 44)} end as credit_rating,
            case when {u("i", 45)} < 0.1 then floor(2000000 * {u("i", 46)}) else 0 end::decimal(18, 2)
                as overdue_amount_cny,
            case when {u("i", 47)} < 0.05 then floor(5 * {u("i", 48)}) else 0 end::bigint as lawsuit_count,
            {u("i", 49)} < 0.02 as abnormal_operation,
            case when {u("i", 43)} < 0.85 then {d} - floor(400 * {u("i", 50)})::int end as risk_as_of_date,
            case when {u("i", 51)} < 0.3 then floor(11 * {u("i", 52)})::integer end as nps_latest,
            case when {u("i", 51)} < 0.3 then 10 * {u("i", 53)} end::double as nps_avg_365d,
            case when {u("i", 51)} < 0.3 then 1 + floor(3 * {u("i", 54)}) else 0 end::bigint as survey_responses,
            case when ord.last_order_date is null and e.last_activity_at is null then 'never_active'
                 when ord.last_order_date > {d} - 90 then 'active'
                 when ord.last_order_date > {d} - 365 then 'declining'
                 when e.last_activity_at > {d} - 365 then 'silent'
                 else 'dormant' end as activity_tag,
            acc.industry || ',' || case when acc.employee_count >= 1000 then 'large' else 'sme' end
                as static_tags,
            case when coalesce(ord.orders_90d, 0) > 3 then 'frequent_buyer' else '' end as dynamic_tags,
            {d} as as_of_date,
            acc.industry as industry_name_zh,
            acc.industry as industry_name_en,
            coalesce(ord.orders_prev_90d, 0) as orders_prev_90d,
            greatest(ord.last_order_date, e.last_activity_at::date) as last_touch_date,
            false as was_in_hierarchy_cycle
        from acc
        left join ord on ord.golden_account_id = acc.golden_account_id
        left join eng as e on e.golden_account_id = acc.golden_account_id
        left join lds as l on l.golden_account_id = acc.golden_account_id
        order by acc.golden_account_id
    """)


def build_warehouse(
    path: str,
    as_of: date,
    n_accounts: int = 1_000_000,
    n_orders: int = 20_000_000,
    n_activities: int = 10_000_000,
    n_leads: int = 300_000,
) -> dict[str, int]:
    """Create the four marts in the DuckDB file ``path``; returns their row counts."""
    con = duckdb.connect(path)
    try:
        con.execute("create schema if not exists marts")
        build_orders(con, n_accounts, n_orders, as_of)
        build_activities(con, n_accounts, n_activities, as_of)
        build_leads(con, n_accounts, n_leads, as_of)
        build_customer_360(con, n_accounts, as_of)
        return {
            t: con.execute(f"select count(*) from marts.{t}").fetchone()[0]
            for t in ("customer_360", "orders", "activities", "leads")
        }
    finally:
        con.close()
