"""Publish: immutable tier snapshots (Parquet) and the read-only serving database for BI."""
