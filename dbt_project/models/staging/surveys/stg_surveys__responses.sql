-- Survey responses (NPS): one row per response_id; a re-sent response replaces the earlier one
-- by load order (the feed has no updated_at).

with

source as (

    select * from {{ source('raw', 'surveys') }}
    -- Point in time: responses given on or before the as-of date.
    where survey_date <= {{ as_of_date() }}
        and {{ not_withdrawn('surveys') }}

),

latest as (

    select
        *,
        row_number() over (
            partition by response_id
            order by _loaded_at desc, _source_line desc
        ) as version_rank
    from source

),

renamed as (

    select
        -- ids
        cast(trim(response_id) as {{ dbt.type_string() }}) as response_id,
        cast(trim(account_id) as {{ dbt.type_string() }}) as account_id,
        cast(nullif(trim(contact_id), '') as {{ dbt.type_string() }}) as contact_id,

        -- strings
        cast(nullif(trim(comment), '') as {{ dbt.type_string() }}) as comment,

        -- numerics
        cast(nps_score as integer) as nps_score,
        cast(csat_score as integer) as csat_score,

        -- dates
        cast(survey_date as date) as survey_date
    from latest
    where version_rank = 1

)

select * from renamed
