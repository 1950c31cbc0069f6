"""Alerts on failed and blocked runs: quality.run_alerts and an optional webhook."""
