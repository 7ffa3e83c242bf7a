"""The web UI: the built bundle served at `/`, and the API calls only the editors need.

The bundle (`frontend/`, built by esbuild) is static files: `/assets/<name>` are
content-hashed, cached for good; every page path of the single-page app answers
`index.html`, which the browser then routes. These handlers are public (the UI's
own API calls carry the signed-in user's token); they are ASGI mounts on the page
prefixes only, so an unknown `/api/...` path still answers a JSON 404.

In a source checkout the server runs `frontend/build.mjs` before it first serves
the UI: it returns at once when the bundle is fresh and rebuilds it when it is
stale or missing (uv does not rerun the build hook when only frontend files
change). A wheel carries the bundle built, under `server/ui_bundle`.
"""

from __future__ import annotations

import asyncio
import logging
import re
import shutil
import subprocess
from pathlib import Path

import msgspec
from litestar import get, post
from litestar.handlers import ASGIRouteHandler, asgi
from litestar.params import FromPath
from litestar.response.base import ASGIResponse
from litestar.types import Receive, Scope, Send

from server import auth, errors, flows, models, queue, scripts
from server.api import common

log = logging.getLogger(__name__)

SOURCE = Path(__file__).resolve().parents[2] / "frontend"
PACKAGED = Path(__file__).resolve().parents[1] / "ui_bundle"
PAGES = (
    "/login",
    "/scripts",
    "/edit",
    "/flows",
    "/approve",
    "/runs",
    "/schedules",
    "/variables",
    "/tokens",
    "/workers",
)
BUILD_TIMEOUT_S = 600

_ASSET_NAME = re.compile(r"^[A-Za-z0-9_-]+(\.[A-Za-z0-9]+)+$")
_TYPES = {
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".map": "application/json",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".woff2": "font/woff2",
}
_PAGE_HEADERS = {
    "Cache-Control": "no-cache",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Content-Security-Policy": (
        "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
        "object-src 'none'; base-uri 'none'; frame-ancestors 'none'"
    ),
}
_NOT_BUILT = (
    "<!doctype html><title>Tidemill</title><h1>The web UI is not built</h1>"
    "<p>Install Node.js 20 or newer and run <code>node frontend/build.mjs</code> "
    "(or <code>uv sync --reinstall-package tidemill</code>), then reload. "
    "The HTTP API under <code>/api</code> works without it.</p>"
)


def build(source: Path) -> bool:
    """Run the bundle's own build script (a no-op when fresh); False when it could not."""
    node = shutil.which("node")
    if node is None:
        log.warning("web UI: node is not installed; cannot build %s", source)
        return False
    try:
        subprocess.run(
            [node, str(source / "build.mjs"), "--quiet"],
            cwd=source,
            check=True,
            capture_output=True,
            text=True,
            timeout=BUILD_TIMEOUT_S,
        )
    except subprocess.CalledProcessError as exc:
        log.warning("web UI: the build failed:\n%s", (exc.stderr or exc.stdout)[-2000:])
        return False
    except subprocess.TimeoutExpired:
        log.warning("web UI: the build took over %d s; gave up", BUILD_TIMEOUT_S)
        return False
    return True


class Bundle:
    """Where this app's built UI is, checked (and in a checkout rebuilt) on first use."""

    def __init__(self, source: Path = SOURCE, packaged: Path = PACKAGED) -> None:
        self._source = source
        self._packaged = packaged
        self._lock = asyncio.Lock()
        self._checked = False

    async def root(self) -> Path | None:
        async with self._lock:
            if not self._checked:
                if (self._source / "build.mjs").is_file():
                    await asyncio.to_thread(build, self._source)
                self._checked = True
        for candidate in (self._source / "dist", self._packaged):
            if (candidate / "index.html").is_file():
                return candidate
        return None


def _asset(root: Path, name: str, accepts_gzip: bool) -> ASGIResponse | None:
    if not _ASSET_NAME.match(name):
        return None
    path = root / "assets" / name
    if not path.is_file():
        return None
    headers = {
        "Cache-Control": "public, max-age=31536000, immutable",
        "X-Content-Type-Options": "nosniff",
        "Vary": "Accept-Encoding",
    }
    compressed = path.with_name(name + ".gz")
    if accepts_gzip and compressed.is_file():
        path, headers["Content-Encoding"] = compressed, "gzip"
    media_type = _TYPES.get(Path(name).suffix, "application/octet-stream")
    return ASGIResponse(body=path.read_bytes(), media_type=media_type, headers=headers)


def _json_error(status: int, code: str, message: str) -> ASGIResponse:
    body = msgspec.json.encode({"error": {"code": code, "message": message, "details": None}})
    return ASGIResponse(body=body, status_code=status, media_type="application/json")


def routes() -> list[ASGIRouteHandler]:
    """The UI's handlers, sharing one `Bundle` per app (no module-level state)."""
    bundle = Bundle()

    async def serve(scope: Scope, receive: Receive, send: Send) -> None:
        method = scope.get("method", "GET")
        path = scope.get("raw_path", b"").decode("latin-1") or scope["path"]
        head = method == "HEAD"
        if method not in ("GET", "HEAD"):
            response = _json_error(405, "method_not_allowed", "the web UI only answers GET")
        elif (root := await bundle.root()) is None:
            response = ASGIResponse(
                body=_NOT_BUILT, status_code=503, media_type="text/html", is_head_response=head
            )
        elif path.startswith("/assets/"):
            encodings = dict(scope.get("headers", [])).get(b"accept-encoding", b"")
            asset = _asset(root, path.removeprefix("/assets/"), b"gzip" in encodings)
            response = asset or _json_error(404, "not_found", "no such asset")
        else:
            response = ASGIResponse(
                body=(root / "index.html").read_bytes(),
                media_type="text/html; charset=utf-8",
                headers=_PAGE_HEADERS,
                is_head_response=head,
            )
        await response(scope, receive, send)

    return [
        asgi("/", name="ui-index", exclude_from_auth=True, copy_scope=False)(serve),
        asgi("/assets", name="ui-assets", is_mount=True, exclude_from_auth=True, copy_scope=False)(
            serve
        ),
        *(
            asgi(
                page, name=f"ui-{page[1:]}", is_mount=True, exclude_from_auth=True, copy_scope=False
            )(serve)
            for page in PAGES
        ),
    ]


class PreviewBody(msgspec.Struct, frozen=True, kw_only=True):
    language: str
    content: str


@post("/api/w/{workspace:str}/scripts/preview_schema", status_code=200)
async def preview_schema(request: common.AnyRequest, workspace: FromPath[str]) -> scripts.Preview:
    """The input schema a script would get if saved now: the editor's live form preview.

    Nothing is stored. A source that does not parse answers 422 `invalid_script` with
    the line and column, as a save would.

    Args:
        request: `{language, content}` as for `scripts/create`.
        workspace: The workspace the script would be saved in.
    """
    who = common.principal(request)
    auth.require_workspace(who, workspace)
    auth.require_role(who, "admin", "developer")
    body = common.decode(await request.body(), PreviewBody)
    return scripts.preview(body.language, body.content)


class FlowCheck(msgspec.Struct, frozen=True, kw_only=True):
    steps: int


@post("/api/w/{workspace:str}/flows/validate", status_code=200)
async def validate_flow(request: common.AnyRequest, workspace: FromPath[str]) -> FlowCheck:
    """Whether a flow would save: the flow editor's live check, as you type.

    Runs the checks of `flows/create` (missing script or sub-flow, duplicate step id,
    expression that does not parse, `results.x` of a step that does not come earlier)
    and parses each inline script, and stores nothing. A flow that would be refused
    answers 422 `invalid` with every problem in `details` (`path`, `message`), as a save
    does; one that would save answers `{steps}`, its number of steps (nested included).

    Args:
        request: A flow document as for `flows/create` (JSON or YAML); `path` optional.
        workspace: The workspace the flow would be saved in.
    """
    who = common.principal(request)
    auth.require_workspace(who, workspace)
    auth.require_role(who, "admin", "developer")
    document, _raw = flows.parse(await request.body(), request.headers.get("content-type", ""))
    problems: list[dict[str, str]] = []
    try:
        await flows.validate(
            common.pool(request), workspace=workspace, path=document.path or "", flow=document
        )
    except errors.Invalid as exc:
        problems += exc.details or []
    every = flows.all_modules(document.value)
    for module in every:
        value = module.value
        if isinstance(value, flows.RawScript) and value.language.lower() in models.LANGUAGE_ALIASES:
            try:
                scripts.preview(value.language, value.content)
            except errors.Invalid as exc:
                where = f"{module.id}.value.content"
                problems.append({"path": where, "message": f"step {module.id!r}: {exc.message}"})
    if problems:
        listed = "; ".join(p["message"] for p in problems)
        raise errors.Invalid(f"the flow has {len(problems)} problem(s): {listed}", problems)
    return FlowCheck(steps=len(every))


@get("/api/w/{workspace:str}/jobs/last_runs")
async def last_runs(request: common.AnyRequest, workspace: FromPath[str]) -> list[queue.LastRun]:
    """Each script's and each flow's newest job, by path.

    Each row is `{script_path, is_flow, id, status, created_at}`: the "last run" column of
    the scripts list (`is_flow` false) and of the flows list (`is_flow` true), in one
    request however old a last run is. A flow's runs are its jobs of kind `flow`. Only the
    paths the caller may read (and, for a scoped token, run) are listed.

    Args:
        request: The request.
        workspace: The workspace.
    """
    who = common.principal(request)
    auth.require_workspace(who, workspace)
    runs = await queue.last_runs(common.pool(request), workspace=workspace)
    return [run for run in runs if auth.may_read(who, run.script_path) and _may_run(who, run)]


def _may_run(who: models.Principal, run: queue.LastRun) -> bool:
    """A scoped token sees the runs it could read one by one (`run:flow/<path>` a flow's)."""
    try:
        auth.require_run(who, run.script_path, flow=run.is_flow)
    except errors.Forbidden:
        return False
    return True


API_ROUTES = [preview_schema, validate_flow, last_runs]
