"""Rotate a secret variable: a fresh random value, the old one kept for a grace period."""

from __future__ import annotations

import datetime
import hashlib
import json
import os
import secrets
import string
import urllib.error
import urllib.request
from typing import Any, Literal
from urllib.parse import quote

ALPHABETS = {
    "alphanumeric": string.ascii_letters + string.digits,
    "hex": "0123456789abcdef",
}


def new_value(length: int, alphabet: str) -> str:
    if length < 16:
        raise ValueError("a secret shorter than 16 characters is too easy to guess")
    if alphabet == "urlsafe":
        return secrets.token_urlsafe(length)[:length]
    return "".join(secrets.choice(ALPHABETS[alphabet]) for _ in range(length))


def fingerprint(value: str) -> str:
    """What logs may show of a secret: enough to tell two apart, nothing to use."""
    return hashlib.sha256(value.encode()).hexdigest()[:12]


class Workspace:
    """Tidemill's variables API, with the job's own token."""

    def __init__(self) -> None:
        self.base = os.environ["WM_BASE_URL"].rstrip("/")
        self.token = os.environ["WM_TOKEN"]
        self.workspace = os.environ.get("WM_WORKSPACE", "main")

    def call(self, method: str, route: str, body: Any = None) -> Any:
        request = urllib.request.Request(  # noqa: S310 - the server that runs this job
            f"{self.base}/api/w/{self.workspace}/variables/{route}",
            data=None if body is None else json.dumps(body).encode(),
            headers={"Authorization": f"Bearer {self.token}", "Content-Type": "application/json"},
            method=method,
        )
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
            raw = response.read()
        return (
            json.loads(raw) if raw and response.headers.get_content_type().endswith("json") else raw
        )

    def current(self, path: str) -> str | None:
        try:
            value = self.call("GET", f"get_value/{quote(path)}")
        except urllib.error.HTTPError as exc:
            if exc.code == 404:
                return None
            raise
        return value if isinstance(value, str) else json.dumps(value)

    def store(self, path: str, value: str, description: str, exists: bool) -> None:
        if exists:
            self.call("POST", f"update/{quote(path)}", {"value": value, "is_secret": True})
        else:
            body = {"path": path, "value": value, "is_secret": True, "description": description}
            self.call("POST", "create", body)


def main(
    path: str,
    length: int = 48,
    alphabet: Literal["urlsafe", "alphanumeric", "hex"] = "urlsafe",
    keep_previous: bool = True,
) -> dict[str, Any]:
    """Give the secret variable at `path` a new random value; never returns the value itself.

    Args:
        path: The variable, e.g. f/billing/webhook_secret (created when missing).
        length: Characters in the new value (at least 16).
        alphabet: urlsafe (A-Z a-z 0-9 - _), alphanumeric, or hex.
        keep_previous: Keep the old value at `<path>_previous`, so consumers can accept both
            until they have the new one.

    Returns:
        The path, when it was rotated, and fingerprints of the old and new values.
    """
    workspace = Workspace()
    old = workspace.current(path)
    value = new_value(length, alphabet)
    if keep_previous and old is not None:
        previous = f"{path}_previous"
        workspace.store(
            previous,
            old,
            f"the value of {path} before its last rotation",
            exists=workspace.current(previous) is not None,
        )
    workspace.store(path, value, "rotated by hub/rotate_secret", exists=old is not None)
    return {
        "path": path,
        "rotated_at": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "fingerprint": fingerprint(value),
        "previous_fingerprint": None if old is None else fingerprint(old),
    }
