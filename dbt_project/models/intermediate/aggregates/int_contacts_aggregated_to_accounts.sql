-- Contact counts and consent per golden account (no personal data leaves this model): what
-- the tools that act on tiers need to respect opt-outs without seeing people. An account with
-- unsubscribes but no current contact still gets its last opt-out date.

with

identity_map as (

    select * from {{ ref('int_account_identity_map') }}

),

contacts as (

    select
        identity_map.golden_account_id,
        contacts.opt_out,
        contacts.opted_out_at,
        contacts.email is not null as has_email,
        contacts.phone_e164 is not null as has_phone
    from {{ ref('stg_crm__contacts') }} as contacts
    inner join identity_map
        on contacts.account_id = identity_map.account_id

),

unsubscribes as (

    select
        identity_map.golden_account_id,
        max(activities.occurred_at) as last_unsubscribe_at
    from {{ ref('stg_crm__activities') }} as activities
    inner join identity_map
        on activities.account_id = identity_map.account_id
    where activities.activity_type = 'unsubscribe'
    group by identity_map.golden_account_id

),

per_account as (

    select
        golden_account_id,
        count(*) as contacts_total,
        {{ count_if('opt_out') }} as contacts_opted_out,
        {{ count_if('not opt_out and (has_email or has_phone)') }} as contacts_reachable,
        {{ count_if('has_phone') }} as contacts_with_phone,
        {{ count_if('has_email') }} as contacts_with_email,
        max(opted_out_at) as last_contact_opt_out_at
    from contacts
    group by golden_account_id

)

select
    cast(
        coalesce(per_account.golden_account_id, unsubscribes.golden_account_id)
        as {{ dbt.type_string() }}
    ) as golden_account_id,
    cast(coalesce(per_account.contacts_total, 0) as bigint) as contacts_total,
    cast(coalesce(per_account.contacts_opted_out, 0) as bigint) as contacts_opted_out,
    cast(coalesce(per_account.contacts_reachable, 0) as bigint) as contacts_reachable,
    cast(coalesce(per_account.contacts_with_phone, 0) as bigint) as contacts_with_phone,
    cast(coalesce(per_account.contacts_with_email, 0) as bigint) as contacts_with_email,
    cast(
        greatest(per_account.last_contact_opt_out_at, unsubscribes.last_unsubscribe_at) as date
    ) as last_opt_out_date
from per_account
full outer join unsubscribes
    on per_account.golden_account_id = unsubscribes.golden_account_id
