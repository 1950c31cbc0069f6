"""Post an alert as JSON to the webhook of ``config/pipeline.yaml`` (``alerts.webhook_url``).

The body is the alert's fields plus ``text``, a one-line summary (the field chat webhooks such
as Slack's display). The URL may carry a token, so it is never logged or stored: only the
outcome (``sent (HTTP 200)`` or ``failed: <why>``) is kept with the alert.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request

from pipelines.alerts.record import RunAlert


def post_alert(url: str, alert: RunAlert, timeout_s: float) -> str:
    """POST ``alert`` to ``url``; returns the outcome in words (never raises on HTTP errors)."""
    body = json.dumps(alert.as_json(), ensure_ascii=False).encode("utf-8")
    request = urllib.request.Request(
        url,
        data=body,
        method="POST",
        headers={"Content-Type": "application/json; charset=utf-8", "User-Agent": "stratum"},
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout_s) as response:
            return f"sent (HTTP {response.status})"
    except urllib.error.HTTPError as exc:
        return f"failed: HTTP {exc.code}"
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        return f"failed: {type(exc).__name__}: {reason}"[:200]
