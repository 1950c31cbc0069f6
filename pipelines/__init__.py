"""Stratum: the customer-tiering pipeline (Dagster code location)."""
