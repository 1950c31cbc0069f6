"""Scores computed from the marts: one pure module per score, thin Dagster assets in ``assets``."""
