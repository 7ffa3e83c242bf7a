"""Flow definitions: Windmill's OpenFlow documents, validated and versioned.

A flow is stored as the document it was saved as (so a Windmill flow reads back
unchanged) and read through the typed models below. Every save is a new
version; the path points at the newest. A save is refused with every problem
named: a missing script or sub-flow, a duplicate step id, an expression that
does not parse, a `results.x` of a step that does not come earlier.
"""

from __future__ import annotations

import functools
from datetime import datetime
from typing import Any

import msgspec
import yaml

from server import db, errors, expressions, models, scripts

# --- OpenFlow, as Windmill's openflow.openapi.yaml names it -------------------------------


class StaticTransform(msgspec.Struct, frozen=True, kw_only=True, tag="static", tag_field="type"):
    value: Any = None


class JavascriptTransform(
    msgspec.Struct, frozen=True, kw_only=True, tag="javascript", tag_field="type"
):
    expr: str


InputTransform = StaticTransform | JavascriptTransform


class RawScript(msgspec.Struct, frozen=True, kw_only=True, tag="rawscript", tag_field="type"):
    content: str
    language: str
    input_transforms: dict[str, InputTransform] = {}
    path: str | None = None
    lock: str | None = None
    tag: str | None = None


class PathScript(msgspec.Struct, frozen=True, kw_only=True, tag="script", tag_field="type"):
    path: str
    input_transforms: dict[str, InputTransform] = {}
    hash: str | None = None
    tag_override: str | None = None


class PathFlow(msgspec.Struct, frozen=True, kw_only=True, tag="flow", tag_field="type"):
    path: str
    input_transforms: dict[str, InputTransform] = {}


class ForloopFlow(msgspec.Struct, frozen=True, kw_only=True, tag="forloopflow", tag_field="type"):
    modules: list[FlowModule]
    iterator: InputTransform
    skip_failures: bool = False
    parallel: bool = False
    # an InputTransform in current Windmill, a number in older documents
    parallelism: InputTransform | int | None = None


class WhileloopFlow(
    msgspec.Struct, frozen=True, kw_only=True, tag="whileloopflow", tag_field="type"
):
    """Its modules repeated, one iteration after another, until a `stop_after_if` says stop."""

    modules: list[FlowModule]
    skip_failures: bool = False


class Branch(msgspec.Struct, frozen=True, kw_only=True):
    expr: str
    modules: list[FlowModule]
    summary: str | None = None


class BranchOne(msgspec.Struct, frozen=True, kw_only=True, tag="branchone", tag_field="type"):
    branches: list[Branch]
    default: list[FlowModule]


class ParallelBranch(msgspec.Struct, frozen=True, kw_only=True):
    modules: list[FlowModule]
    summary: str | None = None
    skip_failure: bool = False


class BranchAll(msgspec.Struct, frozen=True, kw_only=True, tag="branchall", tag_field="type"):
    branches: list[ParallelBranch]
    parallel: bool = False


class Identity(msgspec.Struct, frozen=True, kw_only=True, tag="identity", tag_field="type"):
    flow: bool = False


ModuleValue = (
    RawScript
    | PathScript
    | PathFlow
    | ForloopFlow
    | WhileloopFlow
    | BranchOne
    | BranchAll
    | Identity
)


class SkipIf(msgspec.Struct, frozen=True, kw_only=True):
    expr: str


class StopAfterIf(msgspec.Struct, frozen=True, kw_only=True):
    expr: str
    skip_if_stopped: bool = False
    error_message: str | None = None


class ResumeForm(msgspec.Struct, frozen=True, kw_only=True):
    schema: dict[str, Any] | None = None


class Suspend(msgspec.Struct, frozen=True, kw_only=True):
    required_events: int = 1
    timeout: int | None = None
    resume_form: ResumeForm | None = None
    continue_on_disapprove_timeout: bool = False


class FlowModule(msgspec.Struct, frozen=True, kw_only=True):
    id: str
    value: ModuleValue
    summary: str | None = None
    stop_after_if: StopAfterIf | None = None
    stop_after_all_iters_if: StopAfterIf | None = None
    skip_if: SkipIf | None = None
    # an InputTransform in current Windmill, a number in older documents
    sleep: InputTransform | int | None = None
    timeout: InputTransform | int | None = None
    suspend: Suspend | None = None
    continue_on_error: bool = False
    retry: models.RetryPolicy | None = None


class FlowValue(msgspec.Struct, frozen=True, kw_only=True):
    modules: list[FlowModule]
    failure_module: FlowModule | None = None


class OpenFlow(msgspec.Struct, frozen=True, kw_only=True):
    """The body of `flows/create` and `flows/update`: `path` plus the OpenFlow document."""

    path: str | None = None
    summary: str = ""
    description: str = ""
    value: FlowValue
    schema: dict[str, Any] | None = None


class Flow(msgspec.Struct, frozen=True, kw_only=True):
    """One stored version, as `flows/get` answers it."""

    workspace: models.WorkspaceId
    path: str
    version_id: int
    summary: str
    description: str
    schema: dict[str, Any] | None
    value: dict[str, Any]
    edited_by: str
    edited_at: datetime

    @property
    def definition(self) -> FlowValue:
        return typed(self.version_id, msgspec.json.encode(self.value))


class FlowHead(msgspec.Struct, frozen=True, kw_only=True):
    path: str
    version_id: int
    summary: str
    description: str
    edited_by: str
    edited_at: datetime


class FlowVersion(msgspec.Struct, frozen=True, kw_only=True):
    """One entry of a path's history, in Windmill's field names."""

    id: int
    summary: str
    created_by: str
    created_at: datetime


# what a trigger (a schedule, a webhook, a route) runs: a script version or a flow version
Runnable = models.Script | Flow


def input_schema(target: Runnable) -> dict[str, Any]:
    """The schema a run's arguments are checked against, whichever of the two it starts."""
    if isinstance(target, Flow):
        return target.schema or {}
    return target.schema


@functools.lru_cache(maxsize=256)
def typed(_version_id: int, value: bytes) -> FlowValue:
    """A version's typed definition from its JSON; versions are immutable, so decoded once."""
    return msgspec.json.decode(value, type=FlowValue)


# --- reading a document -------------------------------------------------------------------


def parse(raw: bytes, content_type: str = "") -> tuple[OpenFlow, dict[str, Any]]:
    """The typed document and its raw form, from JSON or YAML."""
    document = _load(raw, content_type)
    try:
        return msgspec.convert(document, OpenFlow), document
    except msgspec.ValidationError as exc:
        field = str(exc).rsplit(" - at `", 1)
        where = field[1].rstrip("`").removeprefix("$.") if len(field) == 2 else ""
        raise errors.Invalid(
            f"not a valid OpenFlow document: {exc}", [{"path": where, "message": field[0]}]
        ) from None


def _load(raw: bytes, content_type: str) -> dict[str, Any]:
    document: Any
    if "yaml" in content_type:
        document = _yaml(raw)
    else:
        try:
            document = msgspec.json.decode(raw or b"{}")
        except msgspec.DecodeError:
            document = _yaml(raw)
    if not isinstance(document, dict):
        raise errors.BadRequest("a flow is a JSON or YAML object")
    return document


def _yaml(raw: bytes) -> Any:
    try:
        return yaml.safe_load(raw)
    except yaml.YAMLError as exc:
        raise errors.BadRequest(f"the body is neither JSON nor YAML: {exc}") from None


# --- validation ---------------------------------------------------------------------------


class _Problems:
    def __init__(self) -> None:
        self.items: list[dict[str, str]] = []

    def add(self, where: str, message: str) -> None:
        self.items.append({"path": where, "message": message})


def _module_exprs(module: FlowModule) -> list[tuple[str, str]]:
    """Every expression of a module, with where it sits."""
    found: list[tuple[str, str]] = []

    def transform(where: str, value: object) -> None:
        if isinstance(value, JavascriptTransform):
            found.append((where, value.expr))

    value = module.value
    if isinstance(value, RawScript | PathScript | PathFlow):
        for name, t in value.input_transforms.items():
            transform(f"input_transforms.{name}", t)
    if isinstance(value, ForloopFlow):
        transform("iterator", value.iterator)
        transform("parallelism", value.parallelism)
    if isinstance(value, BranchOne):
        found.extend((f"branches[{i}].expr", b.expr) for i, b in enumerate(value.branches))
    if module.skip_if is not None:
        found.append(("skip_if.expr", module.skip_if.expr))
    if module.stop_after_if is not None:
        found.append(("stop_after_if.expr", module.stop_after_if.expr))
    if module.stop_after_all_iters_if is not None:
        found.append(("stop_after_all_iters_if.expr", module.stop_after_all_iters_if.expr))
    transform("sleep", module.sleep)
    transform("timeout", module.timeout)
    return found


def _children(module: FlowModule) -> list[tuple[str, list[FlowModule]]]:
    value = module.value
    if isinstance(value, ForloopFlow | WhileloopFlow):
        return [("modules", value.modules)]
    if isinstance(value, BranchOne):
        nested = [(f"branches[{i}].modules", b.modules) for i, b in enumerate(value.branches)]
        return [*nested, ("default", value.default)]
    if isinstance(value, BranchAll):
        return [(f"branches[{i}].modules", b.modules) for i, b in enumerate(value.branches)]
    return []


def _check_modules(
    modules: list[FlowModule], visible: set[str], where: str, ids: set[str], problems: _Problems
) -> None:
    earlier = set(visible)
    for index, module in enumerate(modules):
        here = f"{where}[{index}]"
        if module.id in ids:
            problems.add(f"{here}.id", f"duplicate step id {module.id!r}")
        ids.add(module.id)
        for field, expr in _module_exprs(module):
            try:
                expressions.check(expr)
            except expressions.ExpressionError as exc:
                problems.add(f"{here}.{field}", f"step {module.id!r}: {exc.message}")
                continue
            allowed = earlier | {module.id} if field.startswith("stop_after") else earlier
            for step in sorted(expressions.referenced_steps(expr) - allowed):
                problems.add(
                    f"{here}.{field}",
                    f"step {module.id!r} reads results.{step}, "
                    "which is not a step that comes earlier",
                )
        if isinstance(module.value, RawScript) and (
            module.value.language.lower() not in models.LANGUAGE_ALIASES
        ):
            problems.add(f"{here}.value.language", f"unknown language {module.value.language!r}")
        if module.suspend is not None and not isinstance(
            module.value, RawScript | PathScript | PathFlow
        ):
            problems.add(
                f"{here}.suspend",
                f"step {module.id!r}: suspend (approval) needs a script, rawscript or flow step",
            )
        for field, nested in _children(module):
            _check_modules(nested, earlier, f"{here}.value.{field}", ids, problems)
        earlier.add(module.id)


def _walk(modules: list[FlowModule]) -> list[FlowModule]:
    every: list[FlowModule] = []
    for module in modules:
        every.append(module)
        for _field, nested in _children(module):
            every.extend(_walk(nested))
    return every


def all_modules(value: FlowValue) -> list[FlowModule]:
    """Every module of a flow, nested ones and the failure module included."""
    failure = [value.failure_module] if value.failure_module is not None else []
    return _walk([*value.modules, *failure])


async def _check_references(
    pool: db.Pool, workspace: str, path: str, value: FlowValue, problems: _Problems
) -> None:
    for module in all_modules(value):
        target = module.value
        if isinstance(target, PathScript):
            if target.hash is not None:
                found = await pool.fetchval(
                    db.query("script_version_exists"), workspace, target.hash
                )
                if not found:
                    problems.add(
                        f"{module.id}.value.hash",
                        f"step {module.id!r}: no script version {target.hash!r}",
                    )
            elif await pool.fetchval(db.query("script_head_hash"), workspace, target.path) is None:
                problems.add(
                    f"{module.id}.value.path", f"step {module.id!r}: no script at {target.path!r}"
                )
        if (
            isinstance(target, PathFlow)
            and target.path != path
            and not await pool.fetchval(db.query("flow_exists"), workspace, target.path)
        ):
            problems.add(
                f"{module.id}.value.path", f"step {module.id!r}: no flow at {target.path!r}"
            )


async def validate(pool: db.Pool, *, workspace: str, path: str, flow: OpenFlow) -> None:
    """Raise Invalid naming every problem of the document, or nothing."""
    problems = _Problems()
    ids: set[str] = set()
    _check_modules(flow.value.modules, set(), "value.modules", ids, problems)
    failure = flow.value.failure_module
    if failure is not None:
        _check_modules([failure], ids - {failure.id}, "value.failure_module", ids, problems)
    await _check_references(pool, workspace, path, flow.value, problems)
    if problems.items:
        listed = "; ".join(p["message"] for p in problems.items)
        raise errors.Invalid(
            f"the flow has {len(problems.items)} problem(s): {listed}", problems.items
        )


# --- storage ------------------------------------------------------------------------------


def inline_path(flow_path: str, step_id: str) -> str:
    """Where a flow's inline script is stored: under the flow's path, as Windmill does."""
    return f"{flow_path}/{step_id}"


async def _save_inline_scripts(
    pool: db.Pool, *, workspace: str, path: str, flow: OpenFlow, created_by: str
) -> None:
    for module in all_modules(flow.value):
        if isinstance(module.value, RawScript):
            try:
                await scripts.save(
                    pool,
                    workspace=workspace,
                    new=scripts.NewScript(
                        path=inline_path(path, module.id),
                        content=module.value.content,
                        language=module.value.language,
                    ),
                    created_by=created_by,
                    head=False,
                )
            except errors.Invalid as exc:
                raise errors.Invalid(
                    f"step {module.id!r}: {exc.message}",
                    [{"path": f"{module.id}.value.content", "message": exc.message}],
                ) from None


async def save(
    pool: db.Pool,
    *,
    workspace: str,
    path: str,
    raw: dict[str, Any],
    flow: OpenFlow,
    created_by: str,
    create: bool,
) -> int:
    """Validate and store a new version; `create` refuses an existing path, else requires one."""
    scripts.check_path(path)
    await validate(pool, workspace=workspace, path=path, flow=flow)
    await _save_inline_scripts(
        pool, workspace=workspace, path=path, flow=flow, created_by=created_by
    )
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute(db.query("lock_flow_path"), f"{workspace}/{path}")
        exists = await conn.fetchval(db.query("flow_exists"), workspace, path)
        if create and exists:
            raise errors.Conflict(f"a flow already exists at {path!r}; use flows/update")
        if not create and not exists:
            raise errors.NotFound(f"no flow at {path!r} in workspace {workspace!r}")
        version_id: int = await conn.fetchval(
            db.query("save_flow_version"),
            workspace,
            path,
            flow.summary,
            flow.description,
            raw.get("schema"),
            raw["value"],
            created_by,
        )
        head = "create_flow_head" if create else "update_flow_head"
        await conn.execute(db.query(head), workspace, path, version_id)
    return version_id


def _flow(row: Any) -> Flow:
    return msgspec.convert(dict(row.items()), Flow)


async def get(conn: db.Pool | db.AnyConnection, *, workspace: str, path: str) -> Flow:
    row = await conn.fetchrow(db.query("get_flow_by_path"), workspace, path)
    if row is None:
        raise errors.NotFound(f"no flow at {path!r} in workspace {workspace!r}")
    return _flow(row)


async def get_version(conn: db.Pool | db.AnyConnection, *, workspace: str, version_id: int) -> Flow:
    row = await conn.fetchrow(db.query("get_flow_version"), workspace, version_id)
    if row is None:
        raise errors.NotFound(f"no flow version {version_id} in workspace {workspace!r}")
    return _flow(row)


async def list_heads(pool: db.Pool, *, workspace: str) -> list[FlowHead]:
    rows = await pool.fetch(db.query("list_flows"), workspace)
    return [msgspec.convert(dict(r.items()), FlowHead) for r in rows]


async def delete(pool: db.Pool, *, workspace: str, path: str) -> None:
    if await pool.fetchval(db.query("delete_flow"), workspace, path) is None:
        raise errors.NotFound(f"no flow at {path!r} in workspace {workspace!r}")


async def history(pool: db.Pool, *, workspace: str, path: str) -> list[FlowVersion]:
    rows = await pool.fetch(db.query("flow_history"), workspace, path)
    if not rows:
        raise errors.NotFound(f"no flow at {path!r} in workspace {workspace!r}")
    return [msgspec.convert(dict(r.items()), FlowVersion) for r in rows]
