-- Contact counts per golden account (no personal data leaves this model).

select
    cast(identity_map.golden_account_id as varchar) as golden_account_id,
    cast(count(*) as bigint) as contacts_total,
    cast({{ count_if('contacts.opt_out') }} as bigint) as contacts_opted_out,
    cast({{ count_if('contacts.phone_e164 is not null') }} as bigint) as contacts_with_phone,
    cast({{ count_if('contacts.email is not null') }} as bigint) as contacts_with_email
from {{ ref('stg_crm__contacts') }} as contacts
inner join {{ ref('int_account_identity_map') }} as identity_map
    on contacts.account_id = identity_map.account_id
group by identity_map.golden_account_id
