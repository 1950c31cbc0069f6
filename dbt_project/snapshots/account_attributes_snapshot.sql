{#
    SCD2 history of the tiering-relevant attributes of each golden account, so an analyst can
    see an account as it was on a past date: filter dbt_valid_from <= D and
    (dbt_valid_to > D or dbt_valid_to is null). Strategy `check`: a new version is recorded
    whenever one of the checked columns changes between runs; accounts that disappear are
    closed (hard deletes invalidated). Validity is in business time: `updated_at` is the run's
    as-of date, not the wall clock, and a backfill of a date before the latest recorded change
    leaves the snapshot alone (pipelines/transform/assets.py). A deleted account's version is
    closed at the as-of date of the run that found it gone (macros/snapshot_time.sql; dbt's
    default would be that run's wall clock).
    On Spark (plain Parquet, no MERGE) the project's own materialization records the same
    versions: macros/snapshot_without_merge.sql.
#}
{% snapshot account_attributes_snapshot %}

{{
    config(
        schema='snapshots',
        unique_key='golden_account_id',
        strategy='check',
        check_cols=[
            'account_name', 'uscc', 'industry', 'size_band', 'province', 'city', 'region',
            'owner_team', 'parent_golden_account_id', 'root_golden_account_id', 'credit_rating',
            'abnormal_operation',
        ],
        hard_deletes='invalidate',
        updated_at='snapshot_as_of',
    )
}}

select
    golden_account_id,
    account_name,
    uscc,
    industry,
    size_band,
    employee_count,
    province,
    city,
    region,
    owner_team,
    parent_golden_account_id,
    root_golden_account_id,
    group_depth,
    credit_rating,
    abnormal_operation,
    as_of_date,
    cast(as_of_date as timestamp) as snapshot_as_of
from {{ ref('customer_360') }}

{% endsnapshot %}
