-- Current engagement activities keyed to golden accounts (one row per activity).

select
    cast(activities.activity_id as {{ dbt.type_string() }}) as activity_id,
    cast(identity_map.golden_account_id as {{ dbt.type_string() }}) as golden_account_id,
    cast(activities.account_id as {{ dbt.type_string() }}) as account_id,
    cast(activities.activity_type as {{ dbt.type_string() }}) as activity_type,
    cast(activities.occurred_at as timestamp) as occurred_at
from {{ ref('stg_crm__activities') }} as activities
inner join {{ ref('int_account_identity_map') }} as identity_map
    on activities.account_id = identity_map.account_id
