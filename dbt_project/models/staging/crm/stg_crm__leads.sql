-- Current CRM leads: latest version per lead_id, soft-deleted removed, codes lower-cased.

with

source as (

    select * from {{ source('raw', 'crm_leads') }}
    -- Point in time: only the versions that existed at the end of the as-of date (a lead
    -- converted after it is still open as of it).
    where updated_at < {{ as_of_end() }}
        and {{ not_withdrawn('crm_leads') }}

),

latest as (

    select
        *,
        row_number() over (
            partition by lead_id
            order by updated_at desc, _loaded_at desc, _source_line desc
        ) as version_rank
    from source

),

renamed as (

    select
        -- ids
        cast(trim(lead_id) as {{ dbt.type_string() }}) as lead_id,
        cast(trim(account_id) as {{ dbt.type_string() }}) as account_id,

        -- strings
        cast(lower(nullif(trim(lead_source), '')) as {{ dbt.type_string() }}) as lead_source,
        cast(lower(trim(status)) as {{ dbt.type_string() }}) as status,

        -- timestamps
        cast(created_at as timestamp) as created_at,
        cast(converted_at as timestamp) as converted_at,
        cast(updated_at as timestamp) as updated_at
    from latest
    where version_rank = 1
        and not coalesce(is_deleted, false)

)

select * from renamed
