-- Parent links of the customer tree between golden accounts, from the CRM parent field.
-- Both ends are mapped through the identity map; a link inside one golden account (a record
-- pointing at a duplicate of itself) is dropped, as is a link to an unknown or deleted parent.
-- When a golden account's records disagree, the most recently updated record's parent wins.
-- Cycles are NOT removed here: see int_account_hierarchy_cycles / int_account_hierarchy.

with

links as (

    select
        child_map.golden_account_id,
        parent_map.golden_account_id as parent_golden_account_id,
        row_number() over (
            partition by child_map.golden_account_id
            order by accounts.updated_at desc, accounts.account_id asc
        ) as link_rank
    from {{ ref('stg_crm__accounts') }} as accounts
    inner join {{ ref('int_account_identity_map') }} as child_map
        on accounts.account_id = child_map.account_id
    inner join {{ ref('int_account_identity_map') }} as parent_map
        on accounts.parent_account_id = parent_map.account_id
    where child_map.golden_account_id <> parent_map.golden_account_id

)

select
    cast(golden_account_id as {{ dbt.type_string() }}) as golden_account_id,
    cast(parent_golden_account_id as {{ dbt.type_string() }}) as parent_golden_account_id
from links
where link_rank = 1
