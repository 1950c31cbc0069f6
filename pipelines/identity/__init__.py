"""Identity resolution: which CRM account records are one company, under golden ids that never move.

Staging (dbt) -> ``identity/account_matches`` (this package: Splink matching, decisions,
constrained clustering, the golden-id registry, the review queue) -> dbt identity models.
"""
