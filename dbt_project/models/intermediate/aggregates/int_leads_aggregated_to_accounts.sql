-- Lead counts per golden account, leads created up to as_of_date.

with

leads as (

    select
        identity_map.golden_account_id,
        leads.status,
        leads.created_at
    from {{ ref('stg_crm__leads') }} as leads
    inner join {{ ref('int_account_identity_map') }} as identity_map
        on leads.account_id = identity_map.account_id
    where cast(leads.created_at as date) <= {{ as_of_date() }}

)

select
    cast(golden_account_id as {{ dbt.type_string() }}) as golden_account_id,
    cast(count(*) as bigint) as leads_total,
    cast({{ count_if("status = 'open'") }} as bigint) as leads_open,
    cast({{ count_if("status = 'converted'") }} as bigint) as leads_converted,
    cast(max(created_at) as timestamp) as last_lead_at
from leads
group by golden_account_id
