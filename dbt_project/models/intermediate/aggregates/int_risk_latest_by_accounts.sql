-- The latest risk assessment (assessed on or before as_of_date) of each golden account,
-- attached through the account's USCC (risk data has no CRM id).

with

ranked as (

    select
        golden.golden_account_id,
        risk.assessed_on,
        risk.credit_rating,
        risk.overdue_amount_cny,
        risk.lawsuit_count,
        risk.abnormal_operation,
        row_number() over (
            partition by golden.golden_account_id
            order by risk.assessed_on desc, risk.loaded_at desc
        ) as assessment_rank
    from {{ ref('int_golden_accounts') }} as golden
    inner join {{ ref('stg_risk__assessments') }} as risk
        on golden.uscc = risk.uscc
    where risk.assessed_on <= {{ as_of_date() }}

)

select
    cast(golden_account_id as {{ dbt.type_string() }}) as golden_account_id,
    cast(credit_rating as {{ dbt.type_string() }}) as credit_rating,
    cast(overdue_amount_cny as decimal(18, 2)) as overdue_amount_cny,
    cast(lawsuit_count as bigint) as lawsuit_count,
    cast(abnormal_operation as boolean) as abnormal_operation,
    cast(assessed_on as date) as risk_as_of_date
from ranked
where assessment_rank = 1
