"""Transform stage: the dbt project (staging -> identity/tree -> customer_360, group_360) as Dagster assets."""
