"""Scores: one pure module per score over the feature layer, thin Dagster assets in ``assets``."""
