-- One row per golden account: the surviving attributes of its CRM records.
-- Survivorship (see _identity__models.yml): descriptive attributes from the most recently
-- updated record that has a non-null value; uscc any valid one (a cluster has at most one);
-- created_at the earliest; owner_team like the descriptive attributes.

with

members as (

    select
        identity_map.golden_account_id,
        accounts.*
    from {{ ref('stg_crm__accounts') }} as accounts
    inner join {{ ref('int_account_identity_map') }} as identity_map
        on accounts.account_id = identity_map.account_id

),

survived as (

    select
        golden_account_id,
        {%- for column in [
            'account_name', 'name_key', 'industry', 'employee_count', 'annual_revenue_cny', 'province', 'city', 'region', 'owner_team',
        ] %}
        {{ latest_non_null(column, 'golden_account_id', 'updated_at desc, account_id asc') }}
            as {{ column }},
        {%- endfor %}
        min(uscc) over (partition by golden_account_id) as uscc,
        min(created_at) over (partition by golden_account_id) as account_created_at,
        max(updated_at) over (partition by golden_account_id) as account_updated_at,
        count(*) over (partition by golden_account_id) as source_record_count,
        row_number() over (partition by golden_account_id order by account_id) as member_rank
    from members

),

industries as (

    -- names re-attached from the code so they always describe the surviving industry
    select distinct
        industry_code,
        industry_name_zh,
        industry_name_en
    from {{ ref('industry_map') }}

)

select
    cast(survived.golden_account_id as {{ dbt.type_string() }}) as golden_account_id,
    cast(survived.account_name as {{ dbt.type_string() }}) as account_name,
    cast(survived.name_key as {{ dbt.type_string() }}) as name_key,
    cast(survived.uscc as {{ dbt.type_string() }}) as uscc,
    cast(survived.industry as {{ dbt.type_string() }}) as industry,
    cast(industries.industry_name_zh as {{ dbt.type_string() }}) as industry_name_zh,
    cast(industries.industry_name_en as {{ dbt.type_string() }}) as industry_name_en,
    industries.industry_code is not null as industry_is_known,
    cast(survived.employee_count as bigint) as employee_count,
    cast({{ size_band('survived.employee_count') }} as {{ dbt.type_string() }}) as size_band,
    cast(survived.annual_revenue_cny as decimal(18, 2)) as annual_revenue_cny,
    cast(survived.province as {{ dbt.type_string() }}) as province,
    cast(survived.city as {{ dbt.type_string() }}) as city,
    cast(survived.region as {{ dbt.type_string() }}) as region,
    cast(survived.owner_team as {{ dbt.type_string() }}) as owner_team,
    cast(survived.account_created_at as timestamp) as account_created_at,
    cast(survived.account_updated_at as timestamp) as account_updated_at,
    cast(survived.source_record_count as integer) as source_record_count
from survived
left join industries
    on survived.industry = industries.industry_code
where survived.member_rank = 1
