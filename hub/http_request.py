"""An HTTP request that retries what is worth retrying, with exponential backoff."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from typing import Any, Literal


def _retry_after(value: str | None, fallback: float) -> float:
    """Seconds from a `Retry-After` header (seconds only), else the backoff."""
    try:
        return max(0.0, float(value)) if value else fallback
    except ValueError:
        return fallback


def _send(request: urllib.request.Request, timeout_s: float) -> tuple[int, dict[str, str], bytes]:
    """One attempt: the status, headers and body, whatever the status."""
    try:
        with urllib.request.urlopen(request, timeout=timeout_s) as response:  # noqa: S310
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), exc.read()


def main(
    url: str,
    method: Literal["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"] = "GET",
    headers: dict[str, str] | None = None,
    json_body: Any = None,
    text_body: str | None = None,
    timeout_s: float = 30,
    retries: int = 3,
    backoff_s: float = 0.5,
    retry_on: list[int] = [408, 425, 429, 500, 502, 503, 504],  # noqa: B006 - never mutated
    raise_for_status: bool = True,
) -> dict[str, Any]:
    """Send one request, retrying network errors and retryable statuses.

    Args:
        url: The URL (http or https).
        method: The HTTP method.
        headers: Extra request headers.
        json_body: A JSON body (sets Content-Type: application/json).
        text_body: A raw text body, when not JSON.
        timeout_s: Seconds to wait for each attempt.
        retries: How many times to retry after the first attempt.
        backoff_s: The first wait between attempts; it doubles each time.
        retry_on: The statuses that are retried (a Retry-After header is honoured).
        raise_for_status: Fail the job when the final answer is an error status.

    Returns:
        The status, headers, the body (parsed when it is JSON), and the attempts made.
    """
    if not url.startswith(("http://", "https://")):
        raise ValueError(f"not an http(s) URL: {url!r}")
    data: bytes | None = None
    sent = dict(headers or {})
    if json_body is not None:
        data = json.dumps(json_body).encode()
        sent.setdefault("Content-Type", "application/json")
    elif text_body is not None:
        data = text_body.encode()
    request = urllib.request.Request(url, data=data, headers=sent, method=method)  # noqa: S310
    attempt = 0
    while True:
        attempt += 1
        wait = backoff_s * 2 ** (attempt - 1)
        try:
            status, answer, raw = _send(request, timeout_s)
        except (urllib.error.URLError, TimeoutError, ConnectionError) as exc:
            if attempt > retries:
                raise
            print(f"attempt {attempt}: {exc}; retrying")  # noqa: T201
            time.sleep(wait)
            continue
        if status not in retry_on or attempt > retries:
            break
        print(f"attempt {attempt}: HTTP {status}; retrying")  # noqa: T201
        time.sleep(_retry_after(answer.get("Retry-After"), wait))
    text = raw.decode(errors="replace")
    try:
        body: Any = json.loads(text) if text else None
    except ValueError:
        body = text
    if raise_for_status and status >= 400:
        raise RuntimeError(f"{method} {url} answered HTTP {status} after {attempt} attempt(s)")
    return {"status": status, "headers": answer, "body": body, "attempts": attempt}
