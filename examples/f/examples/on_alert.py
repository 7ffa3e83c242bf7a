"""Receive alerts from any monitoring tool through a webhook.

    curl -X POST "$URL/api/w/main/webhooks/f/examples/on_alert?token=$TOKEN" \
      -H 'Content-Type: application/json' \
      -d '{"title": "disk full", "severity": "critical", "source": "db-1"}'

Add `&wait=true` to get the result back instead of the job id. A token that may
run only this script: POST /api/users/tokens/create {"scopes": ["run:f/examples/on_alert"]}.
"""

from typing import Any, Literal


def main(
    title: str,
    severity: Literal["info", "warning", "critical"] = "info",
    source: str = "unknown",
    details: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Triage one alert.

    Args:
        title: What happened.
        severity: How bad it is; critical alerts page someone.
        source: The host or service that sent it.
        details: Anything else the sender included.
    """
    page = severity == "critical"
    print(f"[{severity}] {source}: {title}")  # noqa: T201 - a script's output is its log
    return {"title": title, "source": source, "page_on_call": page, "details": details or {}}
