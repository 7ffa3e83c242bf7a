"""The HTTP API as the CLI uses it: one method per route, errors as `ApiError`.

The CLI only ever talks to a running server over HTTP (never through
`server.api`), so it works the same against a laptop and a remote cluster.
Paths are Windmill's; bodies and answers are plain JSON values.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import httpx

from cli import profiles

TIMEOUT_S = 60.0


class ApiError(Exception):
    """The server answered with an error (or could not be reached: status 0)."""

    def __init__(self, status: int, code: str, message: str, details: Any = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.details = details


def _error(response: httpx.Response) -> ApiError:
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        err = body["error"]
        return ApiError(
            response.status_code,
            str(err.get("code", "error")),
            str(err.get("message", "")),
            err.get("details"),
        )
    text = response.text.strip() or response.reason_phrase
    return ApiError(response.status_code, "http_error", f"HTTP {response.status_code}: {text}")


def _p(path: str) -> str:
    """A script/variable path as it goes into a URL (its slashes kept)."""
    return quote(path, safe="/")


class Client:
    """A connection to one workspace of one server, with a token."""

    def __init__(self, profile: profiles.Profile, *, timeout_s: float = TIMEOUT_S) -> None:
        self.profile = profile
        self.workspace = profile.workspace
        self.http = httpx.Client(
            base_url=profile.url,
            headers={"Authorization": f"Bearer {profile.token}"},
            timeout=timeout_s,
        )

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    # -- plumbing ---------------------------------------------------------

    def request(
        self,
        method: str,
        url: str,
        *,
        json: Any = None,
        params: dict[str, Any] | None = None,
        timeout_s: float | None = None,
    ) -> httpx.Response:
        try:
            response = self.http.request(
                method,
                url,
                json=json,
                params=params,
                timeout=timeout_s if timeout_s is not None else httpx.USE_CLIENT_DEFAULT,
            )
        except httpx.HTTPError as exc:
            raise ApiError(0, "unreachable", f"cannot reach {self.profile.url}: {exc}") from None
        if response.is_error:
            raise _error(response)
        return response

    def w(self, rest: str) -> str:
        return f"/api/w/{self.workspace}/{rest}"

    # -- who am I ---------------------------------------------------------

    def whoami(self) -> dict[str, Any]:
        """Who the token belongs to (`GET /api/users/whoami`); 401 when it is unknown or expired."""
        body = self.request("GET", "/api/users/whoami").json()
        if not isinstance(body, dict) or not body.get("username"):
            raise ApiError(200, "unexpected", f"{self.profile.url} did not say who the token is")
        return body

    # -- scripts ----------------------------------------------------------

    def create_script(self, body: dict[str, Any]) -> str:
        return self.request("POST", self.w("scripts/create"), json=body).text.strip()

    def list_scripts(self) -> list[dict[str, Any]]:
        value: list[dict[str, Any]] = self.request("GET", self.w("scripts/list")).json()
        return value

    def get_script(self, path: str) -> dict[str, Any]:
        value: dict[str, Any] = self.request("GET", self.w(f"scripts/get/p/{_p(path)}")).json()
        return value

    def get_script_maybe(self, path: str) -> dict[str, Any] | None:
        try:
            return self.get_script(path)
        except ApiError as exc:
            if exc.status == 404:
                return None
            raise

    def get_script_by_hash(self, hash_: str) -> dict[str, Any]:
        value: dict[str, Any] = self.request("GET", self.w(f"scripts/get/h/{hash_}")).json()
        return value

    # -- flows ------------------------------------------------------------

    def list_flows(self) -> list[dict[str, Any]]:
        value: list[dict[str, Any]] = self.request("GET", self.w("flows/list")).json()
        return value

    def get_flow(self, path: str) -> dict[str, Any]:
        value: dict[str, Any] = self.request("GET", self.w(f"flows/get/{_p(path)}")).json()
        return value

    def get_flow_maybe(self, path: str) -> dict[str, Any] | None:
        try:
            return self.get_flow(path)
        except ApiError as exc:
            if exc.status == 404:
                return None
            raise

    def create_flow(self, body: dict[str, Any]) -> None:
        self.request("POST", self.w("flows/create"), json=body)

    def update_flow(self, path: str, body: dict[str, Any]) -> None:
        self.request("POST", self.w(f"flows/update/{_p(path)}"), json=body)

    # -- jobs -------------------------------------------------------------

    def run_path(self, path: str, args: dict[str, Any]) -> str:
        return self.request("POST", self.w(f"jobs/run/p/{_p(path)}"), json=args).text.strip()

    def run_flow(self, path: str, args: dict[str, Any]) -> str:
        return self.request("POST", self.w(f"jobs/run/f/{_p(path)}"), json=args).text.strip()

    def run_hash(self, hash_: str, args: dict[str, Any]) -> str:
        return self.request("POST", self.w(f"jobs/run/h/{hash_}"), json=args).text.strip()

    def run_preview(
        self, content: str, language: str, args: dict[str, Any], path: str | None = None
    ) -> str:
        """Run source without saving a version (Windmill's `jobs/run/preview`)."""
        body: dict[str, Any] = {"content": content, "language": language, "args": args}
        if path is not None:
            body["path"] = path
        return self.request("POST", self.w("jobs/run/preview"), json=body).text.strip()

    def get_job(self, job_id: str) -> dict[str, Any]:
        value: dict[str, Any] = self.request("GET", self.w(f"jobs_u/get/{job_id}")).json()
        return value

    def get_update(self, job_id: str, log_offset: int) -> dict[str, Any]:
        value: dict[str, Any] = self.request(
            "GET", self.w(f"jobs_u/getupdate/{job_id}"), params={"log_offset": log_offset}
        ).json()
        return value

    def get_logs(self, job_id: str) -> str:
        return self.request("GET", self.w(f"jobs_u/get_logs/{job_id}")).text

    def cancel(self, job_id: str, reason: str | None = None) -> str:
        body = {"reason": reason} if reason else {}
        return self.request("POST", self.w(f"jobs_u/queue/cancel/{job_id}"), json=body).text

    def list_jobs(self, **filters: Any) -> list[dict[str, Any]]:
        params = {k: _query(v) for k, v in filters.items() if v is not None}
        value: list[dict[str, Any]] = self.request("GET", self.w("jobs/list"), params=params).json()
        return value

    # -- variables --------------------------------------------------------

    def create_variable(self, body: dict[str, Any]) -> None:
        self.request("POST", self.w("variables/create"), json=body)

    def update_variable(self, path: str, body: dict[str, Any]) -> None:
        self.request("POST", self.w(f"variables/update/{_p(path)}"), json=body)

    def get_variable_value(self, path: str) -> Any:
        return self.request("GET", self.w(f"variables/get_value/{_p(path)}")).json()

    def list_variables(self) -> list[dict[str, Any]]:
        value: list[dict[str, Any]] = self.request("GET", self.w("variables/list")).json()
        return value

    def delete_variable(self, path: str) -> None:
        self.request("DELETE", self.w(f"variables/delete/{_p(path)}"))

    # -- schedules --------------------------------------------------------

    def list_schedules(self) -> list[dict[str, Any]]:
        value: list[dict[str, Any]] = self.request("GET", self.w("schedules/list")).json()
        return value

    def get_schedule_maybe(self, path: str) -> dict[str, Any] | None:
        try:
            value: dict[str, Any] = self.request("GET", self.w(f"schedules/get/{_p(path)}")).json()
        except ApiError as exc:
            if exc.status == 404:
                return None
            raise
        return value

    def create_schedule(self, body: dict[str, Any]) -> None:
        self.request("POST", self.w("schedules/create"), json=body)

    def update_schedule(self, path: str, body: dict[str, Any]) -> None:
        self.request("POST", self.w(f"schedules/update/{_p(path)}"), json=body)

    def delete_schedule(self, path: str) -> None:
        self.request("DELETE", self.w(f"schedules/delete/{_p(path)}"))

    def set_schedule_enabled(self, path: str, enabled: bool) -> None:
        self.request("POST", self.w(f"schedules/setenabled/{_p(path)}"), json={"enabled": enabled})


def _query(value: Any) -> Any:
    if isinstance(value, bool):
        return "true" if value else "false"
    return value


def login(url: str, username: str, password: str) -> str:
    """Exchange a username and password for a token (`POST /api/auth/login`)."""
    try:
        response = httpx.post(
            url.rstrip("/") + "/api/auth/login",
            json={"username": username, "password": password},
            timeout=TIMEOUT_S,
        )
    except httpx.HTTPError as exc:
        raise ApiError(0, "unreachable", f"cannot reach {url}: {exc}") from None
    if response.is_error:
        raise _error(response)
    return response.text.strip()
