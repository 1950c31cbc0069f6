-- Which golden account each current CRM account record belongs to, and why.
--
-- Matching (each record gets exactly one cluster key, so no transitive closure is needed):
--   1. a record with a valid USCC belongs to the cluster of that USCC (rule `uscc`);
--      different USCCs never share a cluster, however similar the names;
--   2. a record without a valid USCC whose (name_key, city) matches records of exactly ONE
--      USCC joins that USCC's cluster (rule `name_city_to_uscc`); if the name matches several
--      USCCs it is ambiguous and is not attached to any of them;
--   3. otherwise records without USCC merge on (name_key, city) (rule `name_city`);
--   4. a record that matches nothing is its own cluster (rule `singleton`).
--
-- Stable ids: golden_account_id = 'G-' || account_id of the cluster's anchor, the member
-- created first (ties: smallest account_id). A duplicate entered later has a later
-- created_at, so it joins under the existing id instead of minting a new one, and the same
-- input always yields the same ids. Chosen over a persisted incremental mapping because it
-- needs no state (full refreshes and backfills reproduce it) and is easy to audit; the id
-- changes only if the anchor record itself is deleted or an older record of the company
-- appears, which the snapshot of customer attributes makes visible.

with

accounts as (

    select
        account_id,
        uscc,
        name_key,
        coalesce(city, '') as city_key,
        created_at
    from {{ ref('stg_crm__accounts') }}

),

uscc_by_name as (

    select
        name_key,
        city_key,
        min(uscc) as uscc,
        count(distinct uscc) as uscc_count
    from accounts
    where uscc is not null
        and name_key is not null
    group by name_key, city_key

),

keyed as (

    select
        accounts.account_id,
        accounts.created_at,
        case
            when accounts.uscc is not null then 'uscc:' || accounts.uscc
            when uscc_by_name.uscc_count = 1 then 'uscc:' || uscc_by_name.uscc
            when accounts.name_key is not null
                then 'name:' || accounts.name_key || '|' || accounts.city_key
            else 'account:' || accounts.account_id
        end as cluster_key,
        case
            when accounts.uscc is not null then 'uscc'
            when uscc_by_name.uscc_count = 1 then 'name_city_to_uscc'
            when accounts.name_key is not null then 'name_city'
            else 'singleton'
        end as candidate_rule
    from accounts
    left join uscc_by_name
        on accounts.uscc is null
        and accounts.name_key = uscc_by_name.name_key
        and accounts.city_key = uscc_by_name.city_key

),

anchored as (

    select
        account_id,
        cluster_key,
        candidate_rule,
        first_value(account_id) over (
            partition by cluster_key
            order by created_at, account_id
            rows between unbounded preceding and unbounded following
        ) as anchor_account_id,
        count(*) over (partition by cluster_key) as cluster_size
    from keyed

)

select
    cast(account_id as varchar) as account_id,
    cast('G-' || anchor_account_id as varchar) as golden_account_id,
    cast(case when cluster_size = 1 then 'singleton' else candidate_rule end as varchar)
        as match_rule,
    cast(cluster_key as varchar) as cluster_key,
    account_id = anchor_account_id as is_anchor,
    cast(cluster_size as integer) as cluster_size
from anchored
