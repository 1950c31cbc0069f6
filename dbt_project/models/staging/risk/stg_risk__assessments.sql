-- Risk assessments: one row per (uscc, as_of_date). The feed has no updated_at, so a re-sent
-- assessment replaces the earlier one by load order (_loaded_at, then _source_line).

with

source as (

    select * from {{ source('raw', 'risk') }}
    -- Point in time: assessments dated on or before the as-of date.
    where as_of_date <= {{ as_of_date() }}
        and {{ not_withdrawn('risk') }}

),

renamed as (

    select
        -- ids
        -- USCCs as typed: half-width, no spaces or dashes, upper-case
        cast(
            upper({{ regex_remove_all(fullwidth_to_halfwidth('uscc'), '[^0-9A-Za-z]') }})
            as {{ dbt.type_string() }}
        ) as uscc,

        -- strings
        cast(upper(nullif(trim(credit_rating), '')) as {{ dbt.type_string() }}) as credit_rating,

        -- numerics
        cast(overdue_amount_cny as decimal(18, 2)) as overdue_amount_cny,
        cast(lawsuit_count as bigint) as lawsuit_count,

        -- booleans
        cast(abnormal_operation as boolean) as abnormal_operation,

        -- dates
        cast(as_of_date as date) as assessed_on,
        cast(_loaded_at as timestamp) as loaded_at,
        cast(_source_line as bigint) as source_line
    from source

),

latest as (

    select
        *,
        row_number() over (
            partition by uscc, assessed_on
            order by loaded_at desc, source_line desc
        ) as version_rank
    from renamed

)

select
    uscc || '|' || cast(assessed_on as {{ dbt.type_string() }}) as assessment_id,
    uscc,
    assessed_on,
    credit_rating,
    overdue_amount_cny,
    lawsuit_count,
    abnormal_operation,
    loaded_at
from latest
where version_rank = 1
