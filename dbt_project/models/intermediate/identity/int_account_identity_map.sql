-- Which golden account each current CRM account record belongs to, and why.
--
-- Matching happens before dbt, in the Dagster asset identity/account_matches
-- (pipelines/identity): Splink scores pairs of records on name, credit code, city, phone and
-- email domain; records with the same valid USCC are one company, two different valid USCCs
-- never merge, reviewers' must-link / cannot-link decisions apply, and golden ids come from a
-- persisted registry (identity.golden_ids) so they never move: an id survives the deletion of
-- its anchor record and the late arrival of an older duplicate; merges and splits are events
-- in identity.identity_events. This model keeps the records current in staging and
-- recomputes the cluster size and anchor over them.

with

matched as (

    select
        account_id,
        golden_account_id,
        match_rule
    from {{ source('identity', 'account_identity') }}

),

current_records as (

    select
        matched.account_id,
        matched.golden_account_id,
        matched.match_rule,
        accounts.created_at
    from matched
    inner join {{ ref('stg_crm__accounts') }} as accounts
        on matched.account_id = accounts.account_id

),

sized as (

    select
        account_id,
        golden_account_id,
        match_rule,
        count(*) over (partition by golden_account_id) as cluster_size,
        first_value(account_id) over (
            partition by golden_account_id
            order by created_at, account_id
            rows between unbounded preceding and unbounded following
        ) as anchor_account_id
    from current_records

)

select
    cast(account_id as {{ dbt.type_string() }}) as account_id,
    cast(golden_account_id as {{ dbt.type_string() }}) as golden_account_id,
    cast(
        case when cluster_size = 1 then 'singleton' else match_rule end
        as {{ dbt.type_string() }}
    ) as match_rule,
    cast('golden:' || golden_account_id as {{ dbt.type_string() }}) as cluster_key,
    account_id = anchor_account_id as is_anchor,
    cast(cluster_size as integer) as cluster_size
from sized
