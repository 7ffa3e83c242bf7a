"""Post a message to a Discord channel through its webhook."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

MAX_CONTENT = 2000


def main(
    webhook_url: str,
    content: str = "",
    username: str | None = None,
    avatar_url: str | None = None,
    embeds: list[dict[str, Any]] | None = None,
    timeout_s: float = 15,
) -> dict[str, Any]:
    """Send `content` (and optional embeds) as the webhook's bot.

    Args:
        webhook_url: The channel webhook (https://discord.com/api/webhooks/<id>/<token>).
        content: The message (Discord allows 2000 characters; longer text is cut).
        username: Post under this name instead of the webhook's.
        avatar_url: ... and with this avatar.
        embeds: Up to 10 Discord embeds ({"title", "description", "color", "fields"}).
        timeout_s: Seconds to wait for Discord.

    Returns:
        The posted message's id when Discord returns it, and the status.
    """
    if not content and not embeds:
        raise ValueError("give content or embeds")
    if len(content) > MAX_CONTENT:
        content = content[: MAX_CONTENT - 1] + "…"
    payload: dict[str, Any] = {"content": content}
    optional = {"username": username, "avatar_url": avatar_url, "embeds": embeds}
    payload |= {k: v for k, v in optional.items() if v is not None}
    separator = "&" if "?" in webhook_url else "?"
    request = urllib.request.Request(  # noqa: S310 - the caller chooses the webhook
        f"{webhook_url}{separator}wait=true",
        data=json.dumps(payload).encode(),
        headers={"Content-Type": "application/json", "User-Agent": "tidemill-hub"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout_s) as response:  # noqa: S310
            raw = response.read()
            status = response.status
    except urllib.error.HTTPError as exc:
        raise RuntimeError(f"Discord refused the message: HTTP {exc.code} {exc.read()!r}") from None
    message = json.loads(raw) if raw else {}
    return {"status": status, "id": message.get("id")}
