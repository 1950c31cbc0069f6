-- NPS per golden account: the latest answer, the 365-day average and the response count,
-- responses dated up to as_of_date.

with

responses as (

    select
        identity_map.golden_account_id,
        surveys.response_id,
        surveys.survey_date,
        surveys.nps_score,
        row_number() over (
            partition by identity_map.golden_account_id
            order by surveys.survey_date desc, surveys.response_id desc
        ) as recency_rank
    from {{ ref('stg_surveys__responses') }} as surveys
    inner join {{ ref('int_account_identity_map') }} as identity_map
        on surveys.account_id = identity_map.account_id
    where surveys.survey_date <= {{ as_of_date() }}

)

select
    cast(golden_account_id as {{ dbt.type_string() }}) as golden_account_id,
    cast(max(case when recency_rank = 1 then nps_score end) as integer) as nps_latest,
    cast(avg(case when {{ in_window('survey_date', 365) }} then nps_score end) as double)
        as nps_avg_365d,
    cast(count(*) as bigint) as survey_responses,
    cast(max(survey_date) as date) as last_survey_date
from responses
group by golden_account_id
