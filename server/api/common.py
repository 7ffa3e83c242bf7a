"""What every route handler shares: reading bodies, the caller, app state."""

from __future__ import annotations

from typing import Any, TypeVar

import msgspec
from litestar import Request, Response
from litestar.datastructures import State
from litestar.middleware import AbstractAuthenticationMiddleware, AuthenticationResult

from server import auth, db, errors, models, settings, waiters

T = TypeVar("T")

AnyRequest = Request[models.Principal, str, State]


def pool(request: AnyRequest) -> db.Pool:
    value: db.Pool = request.app.state.pool
    return value


def config(request: AnyRequest) -> settings.Settings:
    value: settings.Settings = request.app.state.settings
    return value


def job_waiters(request: AnyRequest) -> waiters.Waiters:
    value: waiters.Waiters = request.app.state.waiters
    return value


def principal(request: AnyRequest) -> models.Principal:
    return request.user


def decode(raw: bytes, into: type[T]) -> T:
    """Decode a JSON body: 400 when it is not JSON, 422 naming the field when it is wrong."""
    try:
        return msgspec.json.decode(raw or b"{}", type=into)
    except msgspec.ValidationError as exc:
        field = str(exc).rsplit(" - at `", 1)
        where = field[1].rstrip("`").removeprefix("$.") if len(field) == 2 else ""
        raise errors.Invalid(str(exc), [{"path": where, "message": field[0]}]) from None
    except msgspec.DecodeError as exc:
        raise errors.BadRequest(f"the body is not valid JSON: {exc}") from None


def decode_args(raw: bytes) -> dict[str, Any]:
    """A run's arguments: a JSON object (an empty body is no arguments)."""
    try:
        value = msgspec.json.decode(raw or b"{}")
    except msgspec.DecodeError as exc:
        raise errors.BadRequest(f"the body is not valid JSON: {exc}") from None
    if not isinstance(value, dict):
        raise errors.Invalid(
            "the arguments must be a JSON object", [{"path": "", "message": "expected an object"}]
        )
    return value


def bearer_token(request: Any) -> str | None:
    header: str = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    token: str | None = request.query_params.get("token")
    return token


class TokenAuth(AbstractAuthenticationMiddleware):
    """Every route needs a token unless its handler opts out with `exclude_from_auth`."""

    async def authenticate_request(self, connection: Any) -> AuthenticationResult:
        who = await auth.principal(
            connection.app.state.pool, bearer_token(connection), workspace_of(connection)
        )
        return AuthenticationResult(user=who, auth=None)


def workspace_of(connection: Any) -> str | None:
    """The workspace a `/api/w/{workspace}/...` request names: its folder grants apply."""
    parts = str(connection.url.path).split("/", 4)
    if len(parts) > 3 and parts[1] == "api" and parts[2] == "w" and parts[3]:
        return parts[3]
    return None


def require_reader(request: AnyRequest, workspace: str, path: str) -> None:
    """The caller may read `path` in `workspace`: its workspace, ownership and scopes allow it."""
    who = principal(request)
    auth.require_workspace(who, workspace)
    auth.require_read(who, path)
    auth.require_scope(who, f"read:{path}")


def require_writer(request: AnyRequest, workspace: str, path: str) -> models.Principal:
    """The caller may change `path` in `workspace`; answers who the caller is."""
    who = principal(request)
    auth.require_workspace(who, workspace)
    auth.require_write(who, path)
    return who


def json_response(value: Any, status_code: int = 200) -> Response[bytes]:
    """Any JSON value as a JSON body; Litestar would send a bare string as plain text."""
    return Response(
        msgspec.json.encode(value), status_code=status_code, media_type="application/json"
    )


def path_param(value: str) -> str:
    """Litestar's `path` parameters keep their leading slash; Windmill paths do not."""
    return value.lstrip("/")
