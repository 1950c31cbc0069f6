"""The published schema: what BI reads. Changing it is deliberate (tests compare against it).

Each entry is (column, DuckDB type, meaning). ``docs/bi-contract.md`` is checked against
these lists by the test suite, so documentation and data cannot drift apart.
"""

from __future__ import annotations

# customer_tier: one row per golden account per snapshot. No personal contact data:
# company-level attributes only (people's names, emails and phones never leave the warehouse).
CUSTOMER_TIER_COLUMNS: list[tuple[str, str, str]] = [
    ("snapshot_id", "VARCHAR", "Snapshot this row belongs to (as-of date + run id)"),
    ("as_of_date", "DATE", "Reference date of the run that produced the snapshot"),
    ("golden_account_id", "VARCHAR", "Resolved customer (one per company)"),
    ("account_name", "VARCHAR", "Company display name"),
    ("industry", "VARCHAR", "Canonical industry"),
    ("size_band", "VARCHAR", "micro / small / medium / large / enterprise"),
    ("province", "VARCHAR", "Canonical province"),
    ("city", "VARCHAR", "Canonical city"),
    ("region", "VARCHAR", "Chinese macro-region (华东, 华北, ...)"),
    ("root_golden_account_id", "VARCHAR", "Top of the customer's group (itself if standalone)"),
    ("tier", "VARCHAR", "Tier code from the policy (A, B, C, P by default)"),
    ("tier_name_en", "VARCHAR", "Tier name in English"),
    ("tier_name_zh", "VARCHAR", "Tier name in Chinese"),
    ("service_strategy_en", "VARCHAR", "Recommended service strategy (English)"),
    ("service_strategy_zh", "VARCHAR", "Recommended service strategy (Chinese)"),
    ("owner_team", "VARCHAR", "Team that serves this tier"),
    ("rule_fired", "VARCHAR", "Policy rule that assigned the tier"),
    ("reason_en", "VARCHAR", "Why this tier, in plain words (English)"),
    ("reason_zh", "VARCHAR", "Why this tier, in plain words (Chinese)"),
    ("risk_flag", "VARCHAR", "Risk gate outcome (null when no gate applied)"),
    ("in_control_group", "BOOLEAN", "Held out from tier treatment to measure its effect"),
    ("tier_since", "DATE", "Date the account entered its current tier"),
    ("pending_downgrade_to", "VARCHAR", "Tier the account will drop to when its grace ends"),
    ("pending_since", "DATE", "Date the pending downgrade was first proposed (grace start)"),
    ("has_paid_order", "BOOLEAN", "At least one paid (net positive) order"),
    ("net_revenue_365d", "DOUBLE", "Net revenue in the trailing 365 days, CNY"),
    ("net_revenue_lifetime", "DOUBLE", "Net revenue over all time, CNY"),
    ("rfm_r", "INTEGER", "RFM recency score"),
    ("rfm_f", "INTEGER", "RFM frequency score"),
    ("rfm_m", "INTEGER", "RFM monetary score"),
    ("rfm_score", "DOUBLE", "Weighted RFM score (1-5)"),
    ("rfm_segment", "VARCHAR", "RFM segment name"),
    ("abc_class", "VARCHAR", "ABC (Pareto) class on trailing-12-month net revenue"),
    ("cluster_id", "INTEGER", "K-means cluster id, stable across runs"),
    ("cluster_label", "VARCHAR", "Cluster described in words"),
    ("behaviour_points", "DOUBLE", "Engagement points with decay"),
    ("fit_score", "DOUBLE", "Fit with the ideal customer profile (0-100)"),
    ("conversion_probability", "DOUBLE", "Predicted probability of converting (0-1)"),
    ("conversion_source", "VARCHAR", "model or fit_fallback"),
    ("p_alive", "DOUBLE", "Probability the customer is still active (BG/NBD)"),
    ("churn_risk", "DOUBLE", "1 - p_alive"),
    ("expected_purchases_12m", "DOUBLE", "Expected purchases in the next 12 months"),
    ("clv_12m", "DOUBLE", "Predicted 12-month customer lifetime value, CNY"),
    ("risk_level", "VARCHAR", "low / medium / high / unknown"),
    ("risk_score", "DOUBLE", "Risk score (higher is riskier)"),
    ("score_reasons", "VARCHAR", "Top contributing factors of the scores, in plain words"),
    # Consent, as counts: what marketing and sales tools need to respect opt-outs (bi-contract.md).
    ("contacts_reachable", "BIGINT", "Contacts not opted out with an email or phone"),
    ("contacts_opted_out", "BIGINT", "Contacts who asked not to be contacted"),
    ("last_opt_out_date", "DATE", "Latest date a contact of the account opted out or unsubscribed"),
    ("policy_version", "VARCHAR", "Tier policy version (human version + content hash)"),
    ("rules_version", "VARCHAR", "Scoring rules version (content hash)"),
    ("model_version", "VARCHAR", "Version of the models used (conversion, CLV)"),
    ("code_version", "VARCHAR", "Version of the pipeline code (git commit)"),
]

TIER_SNAPSHOTS_COLUMNS: list[tuple[str, str, str]] = [
    ("snapshot_id", "VARCHAR", "Snapshot id"),
    ("as_of_date", "DATE", "Reference date"),
    ("created_at", "TIMESTAMP", "When the snapshot was written (UTC)"),
    ("row_count", "BIGINT", "Accounts in the snapshot"),
    ("policy_version", "VARCHAR", "Tier policy version"),
    ("rules_version", "VARCHAR", "Scoring rules version"),
    ("code_version", "VARCHAR", "Pipeline code version"),
    ("run_id", "VARCHAR", "Dagster run that produced it"),
    ("parquet_path", "VARCHAR", "Snapshot file, relative to the serving directory"),
    ("parquet_sha256", "VARCHAR", "Content hash of the snapshot file"),
    ("in_force", "BOOLEAN", "True for the snapshot in force for its as-of date (the last one run)"),
    ("superseded_by", "VARCHAR", "The in-force snapshot of the same date, when this one is not"),
]

TIER_HISTORY_COLUMNS: list[tuple[str, str, str]] = [
    ("golden_account_id", "VARCHAR", "Resolved customer"),
    ("tier", "VARCHAR", "Tier held during the interval"),
    ("valid_from", "DATE", "First day the tier applied"),
    ("valid_to", "DATE", "Day the next tier took over (null while current)"),
    ("is_current", "BOOLEAN", "True for the open interval"),
    ("snapshot_id", "VARCHAR", "Snapshot that opened the interval"),
    ("policy_version", "VARCHAR", "Policy version that assigned it"),
]

TIER_LEDGER_COLUMNS: list[tuple[str, str, str]] = [
    ("golden_account_id", "VARCHAR", "Resolved customer"),
    ("from_tier", "VARCHAR", "Tier before the change (null for a new account)"),
    ("to_tier", "VARCHAR", "Tier after the change"),
    ("change_type", "VARCHAR", "new / promotion / demotion / override / reclassified"),
    ("effective_date", "DATE", "Date the change took effect"),
    ("snapshot_id", "VARCHAR", "Snapshot that recorded the change"),
    ("policy_version", "VARCHAR", "Policy version in force"),
    ("rule_fired", "VARCHAR", "Rule that assigned the new tier"),
    ("reason_en", "VARCHAR", "Why, in plain words (English)"),
    ("reason_zh", "VARCHAR", "Why, in plain words (Chinese)"),
    ("scores_crossed", "VARCHAR", "The score values that crossed a threshold"),
]

DOWNGRADE_NOTICES_COLUMNS: list[tuple[str, str, str]] = [
    ("golden_account_id", "VARCHAR", "Resolved customer demoted in this run"),
    ("effective_date", "DATE", "Date the demotion took effect (after any grace period)"),
    ("snapshot_id", "VARCHAR", "Snapshot of the demotion"),
    ("from_tier", "VARCHAR", "Tier lost"),
    ("to_tier", "VARCHAR", "Tier now held"),
    ("from_tier_name_en", "VARCHAR", "Name of the tier lost (English)"),
    ("from_tier_name_zh", "VARCHAR", "Name of the tier lost (Chinese)"),
    ("to_tier_name_en", "VARCHAR", "Name of the tier now held (English)"),
    ("to_tier_name_zh", "VARCHAR", "Name of the tier now held (Chinese)"),
    ("owner_team", "VARCHAR", "Team that owned the account in the tier lost (sends the notice)"),
    ("reason_en", "VARCHAR", "Why the account was demoted (English)"),
    ("reason_zh", "VARCHAR", "Why the account was demoted (Chinese)"),
    (
        "regain_en",
        "VARCHAR",
        "What it takes to regain the tier: failing conditions, current vs required",
    ),
    ("regain_zh", "VARCHAR", "同上（中文）：重新获得该层级所需条件"),
    ("policy_version", "VARCHAR", "Policy version in force"),
]

MIGRATION_MATRIX_COLUMNS: list[tuple[str, str, str]] = [
    ("as_of_date", "DATE", "Reference date of the snapshot"),
    ("snapshot_id", "VARCHAR", "Snapshot"),
    ("from_tier", "VARCHAR", "Tier in the previous run ('new' for first-seen accounts)"),
    ("to_tier", "VARCHAR", "Tier in this run"),
    ("accounts", "BIGINT", "Number of accounts"),
]

TIER_KPIS_COLUMNS: list[tuple[str, str, str]] = [
    ("snapshot_id", "VARCHAR", "Snapshot the KPIs describe"),
    ("as_of_date", "DATE", "Reference date of the snapshot"),
    ("previous_snapshot_id", "VARCHAR", "Snapshot whose cohort the outcomes follow (null: none)"),
    ("policy_version", "VARCHAR", "Tier policy version of the snapshot"),
    ("tier", "VARCHAR", "Tier code"),
    ("treatment_group", "VARCHAR", "treated (tier treatment) or control (held out)"),
    ("accounts", "BIGINT", "Accounts in this tier and group now"),
    ("net_revenue_365d_sum", "DOUBLE", "Sum of trailing-365-day net revenue, CNY"),
    ("net_revenue_365d_mean", "DOUBLE", "Mean trailing-365-day net revenue per account, CNY"),
    ("clv_12m_mean", "DOUBLE", "Mean predicted 12-month CLV, CNY"),
    ("p_alive_mean", "DOUBLE", "Mean probability of being active"),
    ("nps_mean", "DOUBLE", "Mean of the accounts' average NPS over 365 days (responders only)"),
    ("nps_responders", "BIGINT", "Accounts with an NPS response in 365 days"),
    ("nps_coverage", "DOUBLE", "nps_responders / accounts"),
    (
        "previous_accounts",
        "BIGINT",
        "Previous run's cohort: accounts in this tier and group then, still existing now",
    ),
    ("retained_accounts", "BIGINT", "Of that cohort, accounts with an order in the last 90 days"),
    ("retention_rate", "DOUBLE", "retained_accounts / previous_accounts (null for prospects)"),
    ("converted_accounts", "BIGINT", "Prospect tier: previous prospects now with a paid order"),
    (
        "prospect_conversion_rate",
        "DOUBLE",
        "converted_accounts / previous_accounts (prospect tier only)",
    ),
    ("retention_diff_vs_control", "DOUBLE", "Tier's retention_rate, treated minus control"),
    ("nps_diff_vs_control", "DOUBLE", "Tier's nps_mean, treated minus control"),
    (
        "conversion_diff_vs_control",
        "DOUBLE",
        "Tier's prospect_conversion_rate, treated minus control",
    ),
]

# Pairs of CRM account records a reviewer should decide on (must_link / cannot_link in
# config/identity_decisions.yaml). Company-level attributes only: no contact person data.
IDENTITY_REVIEW_COLUMNS: list[tuple[str, str, str]] = [
    ("pair_id", "VARCHAR", "account_id_l|account_id_r: the pair to decide on"),
    ("match_probability", "DOUBLE", "Model probability that the two records are one company"),
    ("match_weight", "DOUBLE", "Log2 Bayes factor incl. the prior (sum of the evidence weights)"),
    ("golden_account_id_l", "VARCHAR", "Golden account the left record is in now"),
    ("account_id_l", "VARCHAR", "CRM account record id"),
    ("account_name_l", "VARCHAR", "Company name as typed in the CRM"),
    ("uscc_l", "VARCHAR", "Credit code as typed (valid or not)"),
    ("province_l", "VARCHAR", "Canonical province"),
    ("city_l", "VARCHAR", "Canonical city"),
    ("industry_l", "VARCHAR", "Canonical industry"),
    ("owner_team_l", "VARCHAR", "Sales team owning the record"),
    ("golden_account_id_r", "VARCHAR", "Golden account the right record is in now"),
    ("account_id_r", "VARCHAR", "CRM account record id"),
    ("account_name_r", "VARCHAR", "Company name as typed in the CRM"),
    ("uscc_r", "VARCHAR", "Credit code as typed (valid or not)"),
    ("province_r", "VARCHAR", "Canonical province"),
    ("city_r", "VARCHAR", "Canonical city"),
    ("industry_r", "VARCHAR", "Canonical industry"),
    ("owner_team_r", "VARCHAR", "Sales team owning the record"),
    ("evidence", "VARCHAR", "All evidence in one line: comparison: level (weight)"),
    ("evidence_name", "VARCHAR", "Name comparison level and its weight"),
    ("evidence_uscc", "VARCHAR", "Credit code comparison level and its weight"),
    ("evidence_city", "VARCHAR", "City comparison level and its weight"),
    (
        "evidence_phone",
        "VARCHAR",
        "Whether the records' contacts share a phone number (never the number)",
    ),
    (
        "evidence_email_domain",
        "VARCHAR",
        "Whether the records share a company email domain (never the address)",
    ),
    ("as_of_date", "DATE", "Reference date of the matching run"),
]

# Serving tables copied from the warehouse (tiers and identity schemas), with their contract
# and which snapshots' rows they keep: "in_force" (every date's in-force snapshot) or "current"
# (only the snapshot BI sees as current); "latest" tables hold no snapshot id and are copied
# as the latest run left them (the review queue). Rows of superseded or unpublished snapshots
# never appear.
SERVING_TIER_TABLES: dict[str, tuple[str, list[tuple[str, str, str]], str]] = {
    "tier_ledger": ("tiers.tier_ledger", TIER_LEDGER_COLUMNS, "in_force"),
    "downgrade_notices": ("tiers.downgrade_notices", DOWNGRADE_NOTICES_COLUMNS, "current"),
    "migration_matrix": ("tiers.migration_matrix", MIGRATION_MATRIX_COLUMNS, "in_force"),
    "tier_kpis": ("tiers.tier_kpis", TIER_KPIS_COLUMNS, "in_force"),
    "identity_review": ("identity.identity_review", IDENTITY_REVIEW_COLUMNS, "latest"),
}
