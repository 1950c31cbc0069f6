-- Current CRM accounts: latest version per account_id, soft-deleted records removed, names,
-- codes, industry and location cleaned. One row per account_id (a *source* record; identity
-- resolution merges records of the same company downstream).

with

source as (

    select * from {{ source('raw', 'crm_accounts') }}
    -- Point in time: only the versions that existed at the end of the as-of date.
    where updated_at < {{ as_of_end() }}
        and {{ not_withdrawn('crm_accounts') }}

),

latest as (

    select
        *,
        row_number() over (
            partition by account_id
            order by updated_at desc, _loaded_at desc, _source_line desc
        ) as version_rank
    from source

),

renamed as (

    select
        -- ids
        cast(trim(account_id) as {{ dbt.type_string() }}) as account_id,
        cast(nullif(trim(parent_account_id), '') as {{ dbt.type_string() }}) as parent_account_id,
        cast(
            upper({{ regex_remove_all(fullwidth_to_halfwidth('uscc'), '[^0-9A-Za-z]') }})
            as {{ dbt.type_string() }}
        ) as uscc_clean,
        cast(uscc as {{ dbt.type_string() }}) as uscc_raw,

        -- strings
        cast({{ clean_company_name('account_name') }} as {{ dbt.type_string() }}) as account_name,
        cast({{ company_name_key('account_name') }} as {{ dbt.type_string() }}) as name_key,
        cast(nullif(trim(industry), '') as {{ dbt.type_string() }}) as industry_raw,
        cast(
            nullif({{ regex_remove_all(fullwidth_to_halfwidth('province'), '\\s') }}, '')
            as {{ dbt.type_string() }}
        ) as province_raw,
        cast(
            nullif({{ regex_remove_all(fullwidth_to_halfwidth('city'), '\\s') }}, '')
            as {{ dbt.type_string() }}
        ) as city_raw,
        cast(nullif(trim(owner_team), '') as {{ dbt.type_string() }}) as owner_team,

        -- numerics
        cast(employee_count as bigint) as employee_count,
        cast(annual_revenue_cny as decimal(18, 2)) as annual_revenue_cny,

        -- timestamps
        cast(created_at as timestamp) as created_at,
        cast(updated_at as timestamp) as updated_at,

        -- lineage
        cast(_source_file as {{ dbt.type_string() }}) as source_file,
        cast(_source_line as bigint) as source_line,
        cast(_loaded_at as timestamp) as loaded_at
    from latest
    where version_rank = 1
        and not coalesce(is_deleted, false)

),

provinces as (

    select distinct
        province,
        province_alias,
        region
    from {{ ref('china_regions') }}

),

cities as (

    select
        province,
        city,
        city_alias
    from {{ ref('china_regions') }}

),

city_regions as (

    -- cities are unique in the seed; used to infer a missing or unknown province
    select
        city,
        city_alias,
        province,
        region
    from {{ ref('china_regions') }}

),

industries as (

    select
        raw_value,
        industry_code,
        industry_name_zh,
        industry_name_en
    from {{ ref('industry_map') }}

),

located as (

    select
        renamed.*,
        provinces.province as province_canonical,
        provinces.region as province_region
    from renamed
    left join provinces
        on renamed.province_raw in (provinces.province, provinces.province_alias)

),

cleaned as (

    select
        -- ids
        located.account_id,
        located.parent_account_id,
        case when {{ uscc_is_valid('located.uscc_clean') }} then located.uscc_clean end as uscc,
        located.uscc_raw,

        -- strings
        located.account_name,
        located.name_key,
        coalesce(industries.industry_code, located.industry_raw) as industry,
        industries.industry_name_zh,
        industries.industry_name_en,
        located.industry_raw,
        -- unknown province/city values are kept as typed (cleaned), flagged by region_is_known
        coalesce(located.province_canonical, city_region.province, located.province_raw)
            as province,
        coalesce(cities.city, city_region.city, located.city_raw) as city,
        coalesce(located.province_region, city_region.region) as region,
        located.owner_team,

        -- numerics
        located.employee_count,
        located.annual_revenue_cny,

        -- booleans
        coalesce({{ uscc_is_valid('located.uscc_clean') }}, false) as uscc_is_valid,
        industries.industry_code is not null as industry_is_known,
        coalesce(located.province_region, city_region.region) is not null as region_is_known,

        -- timestamps
        located.created_at,
        located.updated_at,

        -- lineage
        located.source_file,
        located.source_line,
        located.loaded_at
    from located
    left join industries
        on lower(located.industry_raw) = industries.raw_value
    -- city within the matched province
    left join cities
        on located.province_canonical = cities.province
        and located.city_raw in (cities.city, cities.city_alias)
    -- province unknown or missing: infer it from an unambiguous city name
    left join city_regions as city_region
        on located.province_canonical is null
        and located.city_raw in (city_region.city, city_region.city_alias)

)

select * from cleaned
