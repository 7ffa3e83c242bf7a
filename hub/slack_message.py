"""Post a message to Slack through an incoming webhook."""

from __future__ import annotations

import json
import urllib.request
from typing import Any


def main(
    webhook_url: str,
    text: str,
    blocks: list[dict[str, Any]] | None = None,
    username: str | None = None,
    icon_emoji: str | None = None,
    thread_ts: str | None = None,
    timeout_s: float = 15,
) -> dict[str, Any]:
    """Send `text` (and optional Block Kit `blocks`) to the webhook's channel.

    Args:
        webhook_url: The incoming webhook URL (https://hooks.slack.com/services/...); keep
            it in a secret variable.
        text: The message, in Slack's mrkdwn; also the notification text when blocks are set.
        blocks: Block Kit blocks for a richer layout.
        username: Override the webhook's display name (legacy webhooks only).
        icon_emoji: Override its icon, e.g. ":rocket:" (legacy webhooks only).
        thread_ts: Reply in this thread.
        timeout_s: Seconds to wait for Slack.

    Returns:
        Slack's status and answer ("ok" when the message was accepted).
    """
    payload: dict[str, Any] = {"text": text}
    optional = {
        "blocks": blocks,
        "username": username,
        "icon_emoji": icon_emoji,
        "thread_ts": thread_ts,
    }
    payload |= {k: v for k, v in optional.items() if v is not None}
    request = urllib.request.Request(  # noqa: S310 - the caller chooses the webhook
        webhook_url,
        data=json.dumps(payload).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=timeout_s) as response:  # noqa: S310
        answer = response.read().decode(errors="replace")
        return {"status": response.status, "answer": answer}
