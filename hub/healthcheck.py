"""Check that a URL answers as expected, and alert a chat webhook when it does not."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from typing import Any


def probe(url: str, timeout_s: float) -> tuple[int | None, str, float, str | None]:
    """Status, body, latency (ms) and the connection error, if any."""
    started = time.monotonic()
    request = urllib.request.Request(url, headers={"User-Agent": "tidemill-healthcheck"})  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=timeout_s) as response:  # noqa: S310
            status, body = response.status, response.read(1_000_000)
    except urllib.error.HTTPError as exc:
        status, body = exc.code, exc.read(1_000_000)
    except (urllib.error.URLError, TimeoutError, ConnectionError) as exc:
        return None, "", (time.monotonic() - started) * 1000, str(getattr(exc, "reason", exc))
    return status, body.decode(errors="replace"), (time.monotonic() - started) * 1000, None


def alert(webhook_url: str, text: str, timeout_s: float) -> None:
    """Post `{"text", "content"}`: the shape Slack and Discord webhooks both read."""
    request = urllib.request.Request(  # noqa: S310 - the caller chooses the webhook
        webhook_url,
        data=json.dumps({"text": text, "content": text}).encode(),
        headers={"Content-Type": "application/json", "User-Agent": "tidemill-healthcheck"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=timeout_s):  # noqa: S310
        pass


def main(
    url: str,
    expected_status: int = 200,
    contains: str | None = None,
    max_latency_ms: float | None = None,
    timeout_s: float = 10,
    alert_webhook_url: str | None = None,
    fail_when_down: bool = True,
) -> dict[str, Any]:
    """Fetch `url` once and judge it; alert (and fail the job) when it is unhealthy.

    Run it on a schedule; a failed job shows in the history and can trigger the
    schedule's failure handler.

    Args:
        url: What to check.
        expected_status: The status a healthy answer has.
        contains: Text a healthy body contains.
        max_latency_ms: Slower than this is unhealthy.
        timeout_s: Give up after this many seconds.
        alert_webhook_url: A Slack or Discord webhook told about a failure.
        fail_when_down: Fail the job when unhealthy (after alerting).

    Returns:
        Whether it is healthy, its status and latency, and what was wrong.
    """
    status, body, latency_ms, error = probe(url, timeout_s)
    problems = []
    if error is not None:
        problems.append(f"unreachable: {error}")
    else:
        if status != expected_status:
            problems.append(f"status {status}, expected {expected_status}")
        if contains is not None and contains not in body:
            problems.append(f"the body does not contain {contains!r}")
        if max_latency_ms is not None and latency_ms > max_latency_ms:
            problems.append(f"took {latency_ms:.0f} ms, more than {max_latency_ms:.0f} ms")
    report = {
        "url": url,
        "healthy": not problems,
        "status": status,
        "latency_ms": round(latency_ms, 1),
        "problems": problems,
    }
    if problems:
        message = f":rotating_light: {url} is unhealthy: {'; '.join(problems)}"
        if alert_webhook_url:
            try:
                alert(alert_webhook_url, message, timeout_s)
            except (urllib.error.URLError, TimeoutError, ConnectionError) as exc:
                report["problems"] = [*problems, f"the alert could not be sent: {exc}"]
                message += f" (and the alert could not be sent: {exc})"
        if fail_when_down:
            raise RuntimeError(message)
    return report
