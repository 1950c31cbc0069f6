"""The backtest: tiers and scores published one horizon ago, judged on the company's own
history since then, beside the naive baselines (:mod:`.outcomes`, :mod:`.evaluate`, the asset
in :mod:`.assets`, the ``make run`` headline in :mod:`.headline`)."""
