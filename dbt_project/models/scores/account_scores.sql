-- All scores side by side, one row per golden account: the tier stage's input. The score
-- tables are written by the Python score assets (source 'scores'); the model versions are what
-- those steps stamped on their tables in this run.

with

features as (

    select * from {{ ref('account_features') }}

),

rfm as (

    select * from {{ source('scores', 'rfm') }}

),

abc as (

    select * from {{ source('scores', 'abc') }}

),

clusters as (

    select * from {{ source('scores', 'clusters') }}

),

behaviour as (

    select * from {{ source('scores', 'behaviour') }}

),

fit as (

    select * from {{ source('scores', 'fit') }}

),

clv as (

    select * from {{ source('scores', 'clv') }}

),

risk as (

    select * from {{ source('scores', 'risk') }}

),

predictions as (

    select * from {{ source('scores', 'predictions') }}

),

predictions_version as (

    select max(model_version) as version from predictions

),

clusters_version as (

    select max(model_version) as version from clusters

),

clv_version as (

    select max(model_version) as version from clv

),

model_versions as (

    select
        {{ dbt.concat([
            "'clusters='", "coalesce(clusters_version.version, '')",
            "';clv='", "coalesce(clv_version.version, '')",
            "';predictions='", "coalesce(predictions_version.version, '')",
        ]) }} as model_version
    from clusters_version
    cross join clv_version
    cross join predictions_version

)

select
    cast(features.golden_account_id as {{ dbt.type_string() }}) as golden_account_id,
    cast({{ as_of_date() }} as date) as as_of_date,
    cast(features.has_paid_order as boolean) as has_paid_order,
    cast(features.net_revenue_365d as double) as net_revenue_365d,
    cast(features.net_revenue_lifetime as double) as net_revenue_lifetime,
    cast(rfm.rfm_recency_days as double) as rfm_recency_days,
    cast(rfm.rfm_frequency as double) as rfm_frequency,
    cast(rfm.rfm_monetary as double) as rfm_monetary,
    cast(rfm.rfm_r as double) as rfm_r,
    cast(rfm.rfm_f as double) as rfm_f,
    cast(rfm.rfm_m as double) as rfm_m,
    cast(rfm.rfm_score as double) as rfm_score,
    cast(rfm.rfm_segment as {{ dbt.type_string() }}) as rfm_segment,
    cast(abc.abc_class as {{ dbt.type_string() }}) as abc_class,
    cast(abc.revenue_share_cum as double) as revenue_share_cum,
    cast(clusters.cluster_id as integer) as cluster_id,
    cast(clusters.cluster_label as {{ dbt.type_string() }}) as cluster_label,
    cast(behaviour.behaviour_points as double) as behaviour_points,
    cast(fit.fit_score as double) as fit_score,
    -- prospects only: the winning account-level model, calibrated on prospects
    cast(predictions.conversion_probability as double) as conversion_probability,
    cast(predictions.conversion_model as {{ dbt.type_string() }}) as conversion_source,
    cast(clv.expected_purchases_12m as double) as expected_purchases_12m,
    cast(clv.p_alive as double) as p_alive,
    -- paying accounts only: P(no paid order in the next 12 months) of the winning churn model
    cast(predictions.churn_probability as double) as churn_risk,
    cast(clv.clv_12m as double) as clv_12m,
    cast(predictions.expected_value_12m as double) as expected_value_12m,
    cast(clv.clv_percentile as double) as clv_percentile,
    cast(risk.risk_score as double) as risk_score,
    cast(risk.risk_level as {{ dbt.type_string() }}) as risk_level,
    cast(risk.risk_stale as boolean) as risk_stale,
    cast(
        concat_ws(
            ' | ',
            rfm.rfm_segment,
            {{ dbt.concat(["'ABC '", "abc.abc_class"]) }},
            clusters.cluster_label,
            predictions.prediction_reason,
            clv.clv_reason,
            risk.risk_reason,
            behaviour.behaviour_reason
        ) as {{ dbt.type_string() }}
    ) as score_reasons,
    cast({{ "'" ~ var("rules_version", "") ~ "'" }} as {{ dbt.type_string() }}) as rules_version,
    cast(model_versions.model_version as {{ dbt.type_string() }}) as model_version,
    cast(
        concat_ws(
            ' | ',
            rfm.rfm_segment_zh,
            {{ dbt.concat(["abc.abc_class", "'类'"]) }},
            clusters.cluster_label_zh,
            predictions.prediction_reason_zh,
            clv.clv_reason_zh,
            risk.risk_reason_zh,
            behaviour.behaviour_reason_zh
        ) as {{ dbt.type_string() }}
    ) as score_reasons_zh,
    cast(rfm.rfm_reason as {{ dbt.type_string() }}) as rfm_reason,
    cast(abc.abc_reason as {{ dbt.type_string() }}) as abc_reason,
    cast(behaviour.behaviour_reason as {{ dbt.type_string() }}) as behaviour_reason,
    cast(fit.fit_reason as {{ dbt.type_string() }}) as fit_reason,
    cast(predictions.conversion_reason as {{ dbt.type_string() }}) as conversion_reason,
    cast(clv.clv_reason as {{ dbt.type_string() }}) as clv_reason,
    cast(risk.risk_reason as {{ dbt.type_string() }}) as risk_reason
from features
cross join model_versions
left join rfm
    on features.golden_account_id = rfm.golden_account_id
left join abc
    on features.golden_account_id = abc.golden_account_id
left join clusters
    on features.golden_account_id = clusters.golden_account_id
left join behaviour
    on features.golden_account_id = behaviour.golden_account_id
left join fit
    on features.golden_account_id = fit.golden_account_id
left join clv
    on features.golden_account_id = clv.golden_account_id
left join risk
    on features.golden_account_id = risk.golden_account_id
left join predictions
    on features.golden_account_id = predictions.golden_account_id
