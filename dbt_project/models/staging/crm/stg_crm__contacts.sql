-- Current CRM contacts: latest version per contact_id, soft-deleted removed, email lower-cased,
-- phone in E.164 (+86...). Personal data: used for counts only, never published. opted_out_at:
-- when the current opt-out began, i.e. the first version of the latest run of opted-out versions.

with

source as (

    select * from {{ source('raw', 'crm_contacts') }}
    -- Point in time: only the versions that existed at the end of the as-of date.
    where updated_at < {{ as_of_end() }}
        and {{ not_withdrawn('crm_contacts') }}

),

versions as (

    select
        *,
        coalesce(opt_out, false) as is_opted_out,
        coalesce(lag(coalesce(opt_out, false)) over (
            partition by contact_id
            order by updated_at asc, _loaded_at asc, _source_line asc
        ), false) as was_opted_out
    from source

),

latest as (

    select
        *,
        max(case when is_opted_out and not was_opted_out then updated_at end) over (
            partition by contact_id
        ) as last_opt_out_start,
        row_number() over (
            partition by contact_id
            order by updated_at desc, _loaded_at desc, _source_line desc
        ) as version_rank
    from versions

),

renamed as (

    select
        -- ids
        cast(trim(contact_id) as {{ dbt.type_string() }}) as contact_id,
        cast(trim(account_id) as {{ dbt.type_string() }}) as account_id,

        -- strings
        cast(nullif(trim(full_name), '') as {{ dbt.type_string() }}) as full_name,
        cast({{ clean_email('email') }} as {{ dbt.type_string() }}) as email,
        cast(phone as {{ dbt.type_string() }}) as phone_raw,
        -- an extension (转123, ext 123, #123) is not part of the E.164 number: cut it first
        cast(
            {{ regex_remove_all(
                regex_replace_once(fullwidth_to_halfwidth('phone'), '(转|分机|[Ee][Xx][Tt]|#).*$', ''),
                '[^0-9]'
            ) }}
            as {{ dbt.type_string() }}
        ) as phone_digits,
        cast(nullif(trim(job_title), '') as {{ dbt.type_string() }}) as job_title,

        -- booleans
        cast(coalesce(opt_out, false) as boolean) as opt_out,

        -- timestamps
        cast(case when is_opted_out then last_opt_out_start end as timestamp) as opted_out_at,
        cast(created_at as timestamp) as created_at,
        cast(updated_at as timestamp) as updated_at
    from latest
    where version_rank = 1
        and not coalesce(is_deleted, false)

)

select
    contact_id,
    account_id,
    full_name,
    email,
    cast({{ phone_e164_from_digits('phone_digits') }} as {{ dbt.type_string() }}) as phone_e164,
    phone_raw,
    job_title,
    opt_out,
    opted_out_at,
    created_at,
    updated_at
from renamed
