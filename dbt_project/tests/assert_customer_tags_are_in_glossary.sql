-- Every tag customer_360 emits must be explained in seeds/tag_rules.csv (values such as the
-- industry code are compared by prefix, e.g. industry:saas matches industry:<code>).
-- meta.dagster.ref: it reads two nodes, so Dagster is told which one it checks (else its result
-- becomes an observation of an asset key that exists nowhere in the graph).

{{ config(meta={'dagster': {'ref': {'name': 'customer_360'}}}) }}

with

emitted as (

    select distinct {{ split_to_rows("static_tags || ',' || dynamic_tags", ',') }} as tag
    from {{ ref('customer_360') }}
    union
    select distinct 'activity_tag=' || activity_tag as tag
    from {{ ref('customer_360') }}

),

glossary as (

    select
        case when tag_family = 'activity_tag' then 'activity_tag=' || tag else tag end as tag,
        case
            when position('<' in tag) > 0 then substr(tag, 1, position('<' in tag) - 1)
        end as prefix
    from {{ ref('tag_rules') }}

),

explained as (

    select distinct emitted.tag
    from emitted
    inner join glossary
        on emitted.tag = glossary.tag
        or (glossary.prefix is not null and emitted.tag like glossary.prefix || '%')

)

select emitted.tag
from emitted
left join explained
    on emitted.tag = explained.tag
where explained.tag is null
