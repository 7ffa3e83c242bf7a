"""One error root for everything a caller can get wrong or run into.

Each subclass carries the HTTP status and a stable machine-readable code, so the
web layer turns any of them into `{"error": {"code", "message", "details"}}`
with one handler, and the worker and CLI can raise the same errors without
knowing about HTTP.
"""

from __future__ import annotations

from typing import Any, ClassVar


class TidemillError(Exception):
    """Root of every error Tidemill reports to a user."""

    status_code: ClassVar[int] = 500
    code: ClassVar[str] = "internal_error"

    def __init__(self, message: str, details: Any = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details


class BadRequest(TidemillError):
    """The request could not be read at all (malformed JSON, wrong body type)."""

    status_code = 400
    code = "bad_request"


class Unauthorized(TidemillError):
    """No token, an unknown token, or an expired one."""

    status_code = 401
    code = "unauthorized"


class Forbidden(TidemillError):
    """A valid token whose role or scopes do not cover the action."""

    status_code = 403
    code = "forbidden"


class NotFound(TidemillError):
    """The named script, job, user or workspace does not exist."""

    status_code = 404
    code = "not_found"


class Conflict(TidemillError):
    """The action clashes with the current state (e.g. a name already taken)."""

    status_code = 409
    code = "conflict"


class Invalid(TidemillError):
    """Well-formed input that breaks a rule; `details` names each failing field."""

    status_code = 422
    code = "invalid"


class InvalidScript(Invalid):
    """A script that cannot be saved: a syntax error, a missing entry point."""

    code = "invalid_script"


class JobFailed(TidemillError):
    """A sync run whose job ended in failure; `details` is the script's own error."""

    status_code = 500
    code = "job_failed"


class JobCanceled(TidemillError):
    """A sync run whose job was canceled before it finished."""

    status_code = 409
    code = "job_canceled"


class Unavailable(TidemillError):
    """A dependency (the database) is away; the caller may retry."""

    status_code = 503
    code = "unavailable"


class GatewayTimeout(TidemillError):
    """A synchronous route whose job ran out of time."""

    status_code = 504
    code = "timeout"
