"""The published schema: what BI reads. Changing it is deliberate (tests compare against it).

Each column is written once, in the dbt project's YAML (:mod:`pipelines.contracts`):

- ``customer_tier_current`` and each snapshot's Parquet: the enforced contract of the dbt model
  ``published_customer_tier`` (dbt_project/models/publish/_publish__models.yml), the rows
  publish copies;
- ``tier_ledger``, ``downgrade_notices``, ``migration_matrix``, ``tier_kpis``: the ``tiers``
  source's columns (_tiers__sources.yml), as the tier stage writes them;
- ``identity_review``, ``golden_id_redirects``: the ``identity`` source's columns, as the
  matching asset writes them;
- ``customer_tier_history``, ``tier_snapshots``: the ``serving`` source's columns, built here.

Each entry below is (column, DuckDB type, meaning), read from there; ``docs/bi-contract.md``
is checked against these lists by the test suite.
"""

from __future__ import annotations

from pipelines.contracts import Column, model_columns, source_columns

PUBLISHED_MODEL = "tiers.published_customer_tier"


def _triples(columns: list[Column]) -> list[tuple[str, str, str]]:
    return [(c.name, c.data_type.upper(), c.description) for c in columns]


# customer_tier: one row per golden account per snapshot. No personal contact data:
# company-level attributes only (people's names, emails and phones never leave the warehouse).
CUSTOMER_TIER_COLUMNS = _triples(model_columns("published_customer_tier"))
TIER_SNAPSHOTS_COLUMNS = _triples(source_columns("serving", "tier_snapshots"))
TIER_HISTORY_COLUMNS = _triples(source_columns("serving", "customer_tier_history"))
TIER_LEDGER_COLUMNS = _triples(source_columns("tiers", "tier_ledger"))
DOWNGRADE_NOTICES_COLUMNS = _triples(source_columns("tiers", "downgrade_notices"))
MIGRATION_MATRIX_COLUMNS = _triples(source_columns("tiers", "migration_matrix"))
TIER_KPIS_COLUMNS = _triples(source_columns("tiers", "tier_kpis"))
# Pairs of CRM account records a reviewer should decide on (must_link / cannot_link in
# config/identity_decisions.yaml). Company-level attributes only: no contact person data.
IDENTITY_REVIEW_COLUMNS = _triples(source_columns("identity", "identity_review"))
TIER_BACKTEST_COLUMNS = _triples(source_columns("tiers", "tier_backtest"))
# Golden ids retired by a merge -> the id carrying their history now, as the registry stood
# when the snapshot was published. The serving build re-keys customer_tier_history with the
# current snapshot's copy.
GOLDEN_ID_REDIRECTS_COLUMNS = _triples(source_columns("identity", "golden_id_redirects"))

# Serving tables copied from the warehouse (tiers and identity schemas), with their contract
# and which snapshots' rows they keep: "in_force" (every date's in-force snapshot) or "current"
# (only the snapshot BI sees as current); "latest" tables hold no snapshot id and are copied
# as the latest run left them (the review queue, the id redirects). Rows of superseded or
# unpublished snapshots never appear.
SERVING_TIER_TABLES: dict[str, tuple[str, list[tuple[str, str, str]], str]] = {
    "tier_ledger": ("tiers.tier_ledger", TIER_LEDGER_COLUMNS, "in_force"),
    "downgrade_notices": ("tiers.downgrade_notices", DOWNGRADE_NOTICES_COLUMNS, "current"),
    "migration_matrix": ("tiers.migration_matrix", MIGRATION_MATRIX_COLUMNS, "in_force"),
    "tier_kpis": ("tiers.tier_kpis", TIER_KPIS_COLUMNS, "in_force"),
    "identity_review": ("identity.identity_review", IDENTITY_REVIEW_COLUMNS, "latest"),
    "tier_backtest": ("tiers.tier_backtest", TIER_BACKTEST_COLUMNS, "in_force"),
    "golden_id_redirects": ("identity.golden_id_redirects", GOLDEN_ID_REDIRECTS_COLUMNS, "latest"),
}
