-- Customer tree: every golden account with its (cycle-free) parent, the root of its group and
-- its depth below the root (0 = root). Parent links come from int_account_hierarchy_edges,
-- minus the one link per cycle that int_account_hierarchy_cycles marks as the break.
-- Chains longer than var('hierarchy_max_depth') are cut there and flagged.

with {{ with_recursive() }}

accounts as (

    select golden_account_id from {{ ref('int_golden_accounts') }}

),

edges as (

    select
        edges.golden_account_id,
        edges.parent_golden_account_id
    from {{ ref('int_account_hierarchy_edges') }} as edges
    left join {{ ref('int_account_hierarchy_cycles') }} as cycles
        on edges.golden_account_id = cycles.golden_account_id
        and cycles.is_cycle_break
    where cycles.golden_account_id is null

),

{% set anchor %}
    select
        golden_account_id as start_id,
        golden_account_id as current_id,
        0 as depth,
        '/' || golden_account_id || '/' as path
    from accounts
{% endset %}

{#- cycles are already broken; the path guard only keeps a bad input from looping #}
{% set condition %}
    walk.depth < {{ var('hierarchy_max_depth') }}
    and walk.path not like ('%/' || edges.parent_golden_account_id || '/%')
{% endset %}

{#- a recursive CTE on DuckDB, unrolled on Spark (macros/recursion.sql) #}
{{ parent_walk('walk', anchor, 'edges', condition, var('hierarchy_max_depth')) }},

top as (

    select
        start_id,
        current_id,
        depth,
        path,
        row_number() over (partition by start_id order by depth desc) as depth_rank
    from walk

)

select
    cast(top.start_id as {{ dbt.type_string() }}) as golden_account_id,
    cast(edges.parent_golden_account_id as {{ dbt.type_string() }}) as parent_golden_account_id,
    cast(top.current_id as {{ dbt.type_string() }}) as root_golden_account_id,
    cast(top.depth as integer) as group_depth,
    -- path from the account up to its root, e.g. /G-A3/G-A2/G-A1/
    cast(top.path as {{ dbt.type_string() }}) as path_to_root,
    root_edges.golden_account_id is not null as is_depth_capped,
    cycles.golden_account_id is not null as was_in_cycle
from top
left join edges
    on top.start_id = edges.golden_account_id
-- the top of the walk still has a parent: the chain was cut at the depth cap
left join edges as root_edges
    on top.current_id = root_edges.golden_account_id
left join {{ ref('int_account_hierarchy_cycles') }} as cycles
    on top.start_id = cycles.golden_account_id
where top.depth_rank = 1
