-- Current leads keyed to golden accounts (one row per lead).

select
    cast(leads.lead_id as {{ dbt.type_string() }}) as lead_id,
    cast(identity_map.golden_account_id as {{ dbt.type_string() }}) as golden_account_id,
    cast(leads.account_id as {{ dbt.type_string() }}) as account_id,
    cast(leads.lead_source as {{ dbt.type_string() }}) as lead_source,
    cast(leads.status as {{ dbt.type_string() }}) as status,
    cast(leads.created_at as timestamp) as created_at,
    cast(leads.converted_at as timestamp) as converted_at,
    -- when the lead's current version was recorded: a lost lead was closed by then
    cast(leads.updated_at as timestamp) as updated_at
from {{ ref('stg_crm__leads') }} as leads
inner join {{ ref('int_account_identity_map') }} as identity_map
    on leads.account_id = identity_map.account_id
