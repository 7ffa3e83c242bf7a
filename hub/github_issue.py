"""Open an issue in a GitHub repository (or GitHub Enterprise) with the REST API."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any
from urllib.parse import quote


def main(
    token: str,
    repository: str,
    title: str,
    body: str = "",
    labels: list[str] | None = None,
    assignees: list[str] | None = None,
    api_url: str = "https://api.github.com",
    timeout_s: float = 30,
) -> dict[str, Any]:
    """Create an issue and answer its number and URL.

    Args:
        token: A token allowed to write issues (fine-grained: "Issues: read and write");
            keep it in a secret variable.
        repository: owner/name.
        title: The issue's title.
        body: Its text (Markdown).
        labels: Labels to set (they must exist in the repository).
        assignees: Logins to assign.
        api_url: The API root; https://<host>/api/v3 for GitHub Enterprise Server.
        timeout_s: Seconds to wait for GitHub.

    Returns:
        The issue's number, web URL and API URL.
    """
    owner, _, name = repository.partition("/")
    if not owner or not name or "/" in name:
        raise ValueError(f"repository must be owner/name, not {repository!r}")
    payload: dict[str, Any] = {"title": title, "body": body}
    if labels:
        payload["labels"] = labels
    if assignees:
        payload["assignees"] = assignees
    request = urllib.request.Request(  # noqa: S310 - api_url is the caller's
        f"{api_url.rstrip('/')}/repos/{quote(owner)}/{quote(name)}/issues",
        data=json.dumps(payload).encode(),
        headers={
            "Accept": "application/vnd.github+json",
            "Authorization": f"Bearer {token}",
            "Content-Type": "application/json",
            "User-Agent": "tidemill-hub",
            "X-GitHub-Api-Version": "2022-11-28",
        },
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout_s) as response:  # noqa: S310
            issue = json.loads(response.read())
    except urllib.error.HTTPError as exc:
        detail = exc.read().decode(errors="replace")
        raise RuntimeError(f"GitHub refused the issue: HTTP {exc.code}: {detail}") from None
    return {"number": issue["number"], "url": issue["html_url"], "api_url": issue["url"]}
