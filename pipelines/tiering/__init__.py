"""Tiering: the tier policy (YAML) applied to scores -> current tiers, ledger and history.

Pure logic lives in ``conditions``, ``policy``, ``engine``, ``hysteresis``, ``ledger``,
``holdout`` and ``whatif``; ``assets`` is the thin Dagster wrapper.
"""
