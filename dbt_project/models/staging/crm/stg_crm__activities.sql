-- Current CRM activities: latest version per activity_id, soft-deleted removed.

with

source as (

    select * from {{ source('raw', 'crm_activities') }}
    -- Point in time: activities that had happened, in versions known, by the as-of date.
    where updated_at < {{ as_of_end() }}
        and occurred_at < {{ as_of_end() }}
        and {{ not_withdrawn('crm_activities') }}

),

latest as (

    select
        *,
        row_number() over (
            partition by activity_id
            order by updated_at desc, _loaded_at desc, _source_line desc
        ) as version_rank
    from source

),

renamed as (

    select
        -- ids
        cast(trim(activity_id) as {{ dbt.type_string() }}) as activity_id,
        cast(trim(account_id) as {{ dbt.type_string() }}) as account_id,
        cast(nullif(trim(contact_id), '') as {{ dbt.type_string() }}) as contact_id,

        -- strings
        cast(lower(trim(activity_type)) as {{ dbt.type_string() }}) as activity_type,

        -- timestamps
        cast(occurred_at as timestamp) as occurred_at,
        cast(updated_at as timestamp) as updated_at
    from latest
    where version_rank = 1
        and not coalesce(is_deleted, false)

)

select * from renamed
