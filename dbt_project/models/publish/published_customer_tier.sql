-- The rows a snapshot publishes: the tier stage's decision per account (source tiers), with
-- the profile (customer_360) and the scores (account_scores) BI reads, every column cast to its
-- published type. The contract in _publish__models.yml is docs/bi-contract.md's customer_tier.
-- No personal contact data: company-level attributes only.

with

tiers as (

    select * from {{ source('tiers', 'customer_tier') }}

),

scores as (

    select * from {{ ref('account_scores') }}

),

profile as (

    select * from {{ ref('customer_360') }}

)

select
    cast(tiers.snapshot_id as {{ dbt.type_string() }}) as snapshot_id,
    cast(tiers.as_of_date as date) as as_of_date,
    cast(tiers.golden_account_id as {{ dbt.type_string() }}) as golden_account_id,
    cast(profile.account_name as {{ dbt.type_string() }}) as account_name,
    cast(profile.industry as {{ dbt.type_string() }}) as industry,
    cast(profile.size_band as {{ dbt.type_string() }}) as size_band,
    cast(profile.province as {{ dbt.type_string() }}) as province,
    cast(profile.city as {{ dbt.type_string() }}) as city,
    cast(profile.region as {{ dbt.type_string() }}) as region,
    cast(profile.root_golden_account_id as {{ dbt.type_string() }}) as root_golden_account_id,
    cast(tiers.tier as {{ dbt.type_string() }}) as tier,
    cast(tiers.tier_name_en as {{ dbt.type_string() }}) as tier_name_en,
    cast(tiers.tier_name_zh as {{ dbt.type_string() }}) as tier_name_zh,
    cast(tiers.service_strategy_en as {{ dbt.type_string() }}) as service_strategy_en,
    cast(tiers.service_strategy_zh as {{ dbt.type_string() }}) as service_strategy_zh,
    cast(tiers.owner_team as {{ dbt.type_string() }}) as owner_team,
    cast(tiers.rule_fired as {{ dbt.type_string() }}) as rule_fired,
    cast(tiers.reason_en as {{ dbt.type_string() }}) as reason_en,
    cast(tiers.reason_zh as {{ dbt.type_string() }}) as reason_zh,
    cast(tiers.risk_flag as {{ dbt.type_string() }}) as risk_flag,
    cast(tiers.in_control_group as boolean) as in_control_group,
    cast(tiers.tier_since as date) as tier_since,
    cast(tiers.pending_downgrade_to as {{ dbt.type_string() }}) as pending_downgrade_to,
    cast(tiers.pending_since as date) as pending_since,
    cast(scores.has_paid_order as boolean) as has_paid_order,
    cast(scores.net_revenue_365d as double) as net_revenue_365d,
    cast(scores.net_revenue_lifetime as double) as net_revenue_lifetime,
    cast(scores.rfm_r as integer) as rfm_r,
    cast(scores.rfm_f as integer) as rfm_f,
    cast(scores.rfm_m as integer) as rfm_m,
    cast(scores.rfm_score as double) as rfm_score,
    cast(scores.rfm_segment as {{ dbt.type_string() }}) as rfm_segment,
    cast(scores.abc_class as {{ dbt.type_string() }}) as abc_class,
    cast(scores.cluster_id as integer) as cluster_id,
    cast(scores.cluster_label as {{ dbt.type_string() }}) as cluster_label,
    cast(scores.behaviour_points as double) as behaviour_points,
    cast(scores.fit_score as double) as fit_score,
    cast(scores.conversion_probability as double) as conversion_probability,
    cast(scores.conversion_source as {{ dbt.type_string() }}) as conversion_source,
    cast(scores.p_alive as double) as p_alive,
    cast(scores.churn_risk as double) as churn_risk,
    cast(scores.expected_purchases_12m as double) as expected_purchases_12m,
    cast(scores.clv_12m as double) as clv_12m,
    cast(scores.expected_value_12m as double) as expected_value_12m,
    cast(scores.risk_level as {{ dbt.type_string() }}) as risk_level,
    cast(scores.risk_score as double) as risk_score,
    cast(scores.score_reasons as {{ dbt.type_string() }}) as score_reasons,
    -- Consent, as counts: what marketing and sales tools need to respect opt-outs.
    cast(profile.contacts_reachable as bigint) as contacts_reachable,
    cast(profile.contacts_opted_out as bigint) as contacts_opted_out,
    cast(profile.last_opt_out_date as date) as last_opt_out_date,
    cast(tiers.policy_version as {{ dbt.type_string() }}) as policy_version,
    cast(scores.rules_version as {{ dbt.type_string() }}) as rules_version,
    cast(scores.model_version as {{ dbt.type_string() }}) as model_version,
    cast('{{ var("code_version", "unknown") }}' as {{ dbt.type_string() }}) as code_version
from tiers
left join scores
    on tiers.golden_account_id = scores.golden_account_id
left join profile
    on tiers.golden_account_id = profile.golden_account_id
