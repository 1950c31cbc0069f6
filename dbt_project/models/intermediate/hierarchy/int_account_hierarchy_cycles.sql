-- Golden accounts whose parent chain loops back to themselves (A -> B -> A). One row per
-- account on a cycle. Each cycle is broken at its member with the smallest golden id
-- (`is_cycle_break`): that member's parent link is ignored and it becomes the root.
-- The walk follows each account's chain upwards, keeps the visited ids in a '/'-delimited
-- path and stops at a revisit or at var('hierarchy_max_depth'), so it always terminates.

with {{ with_recursive() }}

edges as (

    select
        golden_account_id,
        parent_golden_account_id
    from {{ ref('int_account_hierarchy_edges') }}

),

{% set anchor %}
    select
        golden_account_id as start_id,
        parent_golden_account_id as current_id,
        1 as depth,
        '/' || golden_account_id || '/' || parent_golden_account_id || '/' as path
    from edges
{% endset %}

{% set condition %}
    walk.current_id <> walk.start_id
    and walk.depth < {{ var('hierarchy_max_depth') }}
    and (
        edges.parent_golden_account_id = walk.start_id
        or walk.path not like ('%/' || edges.parent_golden_account_id || '/%')
    )
{% endset %}

{#- a recursive CTE on DuckDB, unrolled on Spark (macros/recursion.sql) #}
{{ parent_walk('walk', anchor, 'edges', condition, var('hierarchy_max_depth')) }},

closed as (

    -- the walk came back to where it started: the start account is on a cycle
    select
        start_id,
        depth as cycle_length,
        path as cycle_path
    from walk
    where current_id = start_id

),

members as (

    -- each account has one parent, so the walk from a cycle member visits exactly the cycle
    select
        closed.start_id,
        closed.cycle_length,
        closed.cycle_path,
        min(walk.current_id) as cycle_id
    from closed
    inner join walk
        on closed.start_id = walk.start_id
    group by closed.start_id, closed.cycle_length, closed.cycle_path

)

select
    cast(members.start_id as {{ dbt.type_string() }}) as golden_account_id,
    cast(members.cycle_id as {{ dbt.type_string() }}) as cycle_id,
    cast(members.cycle_length as integer) as cycle_length,
    cast(members.cycle_path as {{ dbt.type_string() }}) as cycle_path,
    cast(edges.parent_golden_account_id as {{ dbt.type_string() }})
        as original_parent_golden_account_id,
    members.start_id = members.cycle_id as is_cycle_break
from members
inner join edges
    on members.start_id = edges.golden_account_id
