"""Advancing a flow run: the state machine that `server.queue` drives in its transactions.

A flow run is a job of kind `flow` that no worker ever leases. Its `flow_status`
holds a `FlowState`: which module list it runs (`scope`), the results so far,
and one `StepStatus` per module. Each step runs as child jobs:

- `script`/`rawscript`: one script job; `flow`: one child flow job;
- `forloopflow`: one child flow job per iteration (scope = the loop's body),
  at most `parallelism` at a time; `branchone`: one child flow job for the
  chosen branch; `branchall`: one per branch;
- `identity` (and a skipped step) needs no job.

When a child ends, `server.queue` calls `child_done` in the transaction that
completed the child, with the flow's row locked: the flow's state is the
counter that joins a fan-out, and the next step is queued before the
transaction commits. So a waiting flow holds no worker, and a crash between
"child done" and "next step queued" cannot happen.

This module decides; it never writes the job tables. It answers an `Advance`
(new state, children to start, jobs to cancel, or how the flow finishes) that
`server.queue` applies.
"""

from __future__ import annotations

import math
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple

import msgspec

from server import arguments, db, errors, expressions, flow_state, flows, models, scripts


class StepFailed(Exception):
    """A step could not start (a bad expression, a missing script): the step fails."""

    def __init__(self, error: dict[str, Any]) -> None:
        super().__init__(error.get("message", ""))
        self.error = error


Reader = db.AnyConnection
# a while loop that never stops would run for ever (instantly, if its body needs no job)
MAX_WHILE_ITERATIONS = 10_000

# --- definitions --------------------------------------------------------------------------


class Definition(NamedTuple):
    """What an advance runs: the flow version's path and typed document."""

    path: str
    value: flows.FlowValue


async def definition(
    conn: Reader, job: flow_state.FlowJob, known: Definition | None = None
) -> Definition:
    """The version a flow job runs: `known` when the caller read it already (with the lock,
    or from the parent flow), else fetched; the typed form is cached by `server.flows`."""
    if known is not None:
        return known
    flow = await flows.get_version(
        conn, workspace=job.workspace, version_id=job.flow_status.version
    )
    return Definition(flow.path, flow.definition)


def locked_definition(job: flow_state.FlowJob, row: Any) -> Definition:
    """The version read with a flow's lock (`lock_flow_job`), without another round trip."""
    raw = str(row["flow_value"]).encode()
    return Definition(str(row["flow_path"]), flows.typed(job.flow_status.version, raw))


def scope_modules(value: flows.FlowValue, scope: list[str | int]) -> list[flows.FlowModule]:
    """The module list a flow job runs: the flow's own, a loop body or a branch."""
    if not scope:
        return value.modules
    owner = next(m for m in flows.all_modules(value) if m.id == scope[0])
    body = owner.value
    if isinstance(body, flows.ForloopFlow | flows.WhileloopFlow):
        return body.modules
    if isinstance(body, flows.BranchOne):
        return body.default if scope[1] == "default" else body.branches[int(scope[1])].modules
    if isinstance(body, flows.BranchAll):
        return body.branches[int(scope[1])].modules
    raise errors.TidemillError(f"step {scope[0]!r} has no nested modules")


# --- expressions --------------------------------------------------------------------------


def _context(state: flow_state.FlowState, **extra: Any) -> dict[str, Any]:
    return {
        "flow_input": state.flow_input,
        "results": {**state.outer_results, **state.results},
        "previous_result": state.previous_result,
        "resume": state.resume,
        "resumes": state.resumes,
        **extra,
    }


def _eval(expr: str, context: dict[str, Any], where: str) -> Any:
    try:
        return expressions.evaluate(expr, context)
    except expressions.ExpressionError as exc:
        raise StepFailed(
            {"name": "ExpressionError", "message": f"{where}: {exc.message}"}
        ) from None


def _transform(
    value: flows.InputTransform | int | None, context: dict[str, Any], where: str
) -> Any:
    if isinstance(value, flows.JavascriptTransform):
        return _eval(value.expr, context, where)
    if isinstance(value, flows.StaticTransform):
        return value.value
    return value


def _args(
    transforms: dict[str, flows.InputTransform], context: dict[str, Any], step: str
) -> dict[str, Any]:
    return {
        name: _transform(t, context, f"step {step!r}, input {name!r}")
        for name, t in transforms.items()
    }


def _seconds(value: Any, where: str) -> float:
    if value is None:
        return 0
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise StepFailed({"name": "InvalidValue", "message": f"{where}: {value!r} is not seconds"})
    return float(value)


# --- starting a step ----------------------------------------------------------------------


class _Run:
    """One advance of one flow: the working state and what it decided."""

    def __init__(self, conn: Reader, job: flow_state.FlowJob, flow: Definition) -> None:
        self.conn = conn
        self.job = job
        self.flow = flow
        self.value = flow.value
        self.state = job.flow_status
        self.advance = flow_state.Advance(state=self.state)
        self.modules = scope_modules(self.value, self.state.scope)

    # -- children

    def _take_sleep(self) -> float:
        delay, self.state.sleep_s = self.state.sleep_s, 0
        return delay

    async def _script_child(
        self, module: flows.FlowModule, context: dict[str, Any], step_id: str
    ) -> str:
        value = module.value
        assert isinstance(value, flows.RawScript | flows.PathScript)
        script = await self._script(module)
        args = _args(value.input_transforms, context, step_id)
        try:
            args = arguments.validate(script.schema, args)
        except errors.Invalid as exc:
            raise StepFailed(
                {"name": "InvalidArguments", "message": f"step {step_id!r}: {exc.message}"}
            ) from None
        timeout = _transform(module.timeout, context, f"step {step_id!r}, timeout")
        retry = module.retry
        if retry is not None and retry.constant is None and retry.exponential is None:
            retry = None
        tag = value.tag if isinstance(value, flows.RawScript) else value.tag_override
        child = flow_state.ChildScript(
            job_id=models.JobId(uuid.uuid4()),
            step_id=step_id,
            script=script,
            args=args,
            tag=tag,
            timeout_s=math.ceil(_seconds(timeout, "timeout")) or None,
            retry=retry,
            delay_s=self._take_sleep(),
        )
        self.advance.children.append(child)
        return str(child.job_id)

    async def _script(self, module: flows.FlowModule) -> models.Script:
        value = module.value
        if isinstance(value, flows.RawScript):
            language = scripts.normalize_language(value.language)
            path = flows.inline_path(self.flow.path, module.id)
            hash_ = scripts.version_hash(language, value.content)
            row = await self.conn.fetchrow(
                db.query("get_script_version"), self.job.workspace, path, hash_
            )
            missing = f"the inline script of step {module.id!r} was not saved with the flow"
        else:
            assert isinstance(value, flows.PathScript)
            if value.hash is not None:
                row = await self.conn.fetchrow(
                    db.query("get_script_by_hash"), self.job.workspace, value.hash
                )
            else:
                row = await self.conn.fetchrow(
                    db.query("get_script_by_path"), self.job.workspace, value.path
                )
            missing = f"step {module.id!r}: no script at {value.path!r}"
        if row is None:
            raise StepFailed({"name": "NotFound", "message": missing})
        return msgspec.convert(dict(row.items()), models.Script)

    def _flow_child(
        self,
        step_id: str,
        script_path: str,
        version: int,
        state: flow_state.FlowState,
    ) -> str:
        state.sleep_s = self._take_sleep()
        child = flow_state.ChildFlow(
            job_id=models.JobId(uuid.uuid4()),
            step_id=step_id,
            script_path=script_path,
            version=version,
            state=state,
        )
        self.advance.children.append(child)
        return str(child.job_id)

    def _body_child(
        self, step_id: str, scope: list[str | int], flow_input: dict[str, Any], previous: Any
    ) -> str:
        """A loop iteration or a branch: a child flow job running nested modules."""
        state = flow_state.new_state(
            self.state.version,
            scope_modules(self.value, scope),
            flow_input,
            scope=scope,
            outer_results={**self.state.outer_results, **self.state.results},
            previous_result=previous,
        )
        return self._flow_child(step_id, f"{self.flow.path}/{step_id}", self.state.version, state)

    async def _subflow_child(
        self, module: flows.FlowModule, value: flows.PathFlow, context: dict[str, Any]
    ) -> str:
        try:
            sub = await flows.get(self.conn, workspace=self.job.workspace, path=value.path)
            args = arguments.validate(
                sub.schema or {}, _args(value.input_transforms, context, module.id)
            )
        except errors.TidemillError as exc:
            raise StepFailed(
                {"name": type(exc).__name__, "message": f"step {module.id!r}: {exc.message}"}
            ) from None
        state = flow_state.new_state(sub.version_id, sub.definition.modules, args)
        return self._flow_child(module.id, sub.path, sub.version_id, state)

    # -- steps

    async def start_step(
        self, module: flows.FlowModule, status: flow_state.StepStatus
    ) -> tuple[bool, Any]:
        """Start a step; (True, result) when it finished at once, else (False, None)."""
        context = _context(self.state)
        if module.skip_if is not None and expressions.truthy(
            _eval(module.skip_if.expr, context, f"step {module.id!r}, skip_if")
        ):
            status.skipped = True
            return True, self.state.previous_result
        value = module.value
        status.type = "InProgress"
        if isinstance(value, flows.Identity):
            return True, self.state.previous_result
        if isinstance(value, flows.RawScript | flows.PathScript):
            status.job = await self._script_child(module, context, module.id)
            return False, None
        if isinstance(value, flows.PathFlow):
            status.job = await self._subflow_child(module, value, context)
            return False, None
        if isinstance(value, flows.ForloopFlow):
            return self._start_loop(module, value, status, context)
        if isinstance(value, flows.WhileloopFlow):
            return self._start_while(module, status)
        if isinstance(value, flows.BranchOne):
            return self._start_branchone(module, value, status, context)
        return self._start_branchall(module, value, status)

    def _start_loop(
        self,
        module: flows.FlowModule,
        value: flows.ForloopFlow,
        status: flow_state.StepStatus,
        context: dict[str, Any],
    ) -> tuple[bool, Any]:
        items = _transform(value.iterator, context, f"step {module.id!r}, iterator")
        if not isinstance(items, list):
            raise StepFailed(
                {
                    "name": "InvalidIterator",
                    "message": f"step {module.id!r}: the iterator is not an array: {items!r}",
                }
            )
        if not items:
            status.iterator = flow_state.Iterator(index=0, itered=[])
            return True, []
        parallelism = 1
        if value.parallel:
            wanted = _transform(value.parallelism, context, f"step {module.id!r}, parallelism")
            parallelism = int(wanted) if isinstance(wanted, int | float) and wanted > 0 else 0
            parallelism = parallelism or len(items)
        status.iterator = flow_state.Iterator(index=0, itered=items)
        status.flow_jobs, status.flow_jobs_success = [], []
        status.child_results = [None] * len(items)
        status.parallelism = parallelism
        self._fill_loop(module, status)
        return False, None

    def _fill_loop(self, module: flows.FlowModule, status: flow_state.StepStatus) -> None:
        """Start iterations while fewer than `parallelism` run and some are left."""
        assert status.iterator is not None and status.flow_jobs is not None
        assert status.flow_jobs_success is not None
        items = status.iterator.itered
        while status.iterator.index < len(items) and (
            status.iterator.index - status.done < status.parallelism
        ):
            index = status.iterator.index
            flow_input = {**self.state.flow_input, "iter": {"value": items[index], "index": index}}
            job = self._body_child(module.id, [module.id], flow_input, items[index])
            status.flow_jobs.append(job)
            status.flow_jobs_success.append(None)
            status.iterator.index += 1

    def _start_while(
        self, module: flows.FlowModule, status: flow_state.StepStatus
    ) -> tuple[bool, Any]:
        status.while_loop = True
        status.iterator = flow_state.Iterator(index=0, itered=[])
        status.flow_jobs, status.flow_jobs_success, status.child_results = [], [], []
        self._next_iteration(module, status, self.state.previous_result)
        return False, None

    def _next_iteration(
        self, module: flows.FlowModule, status: flow_state.StepStatus, previous: Any
    ) -> None:
        """Start a while loop's next iteration; its `previous_result` is the last one's."""
        assert status.iterator is not None and status.flow_jobs is not None
        assert status.flow_jobs_success is not None and status.child_results is not None
        index = status.iterator.index
        if index >= MAX_WHILE_ITERATIONS:
            raise StepFailed(
                {
                    "name": "WhileLoopLimit",
                    "message": f"step {module.id!r}: the while loop ran {index} iterations "
                    "and no stop_after_if stopped it",
                }
            )
        flow_input = {**self.state.flow_input, "iter": {"value": index, "index": index}}
        status.flow_jobs.append(self._body_child(module.id, [module.id], flow_input, previous))
        status.flow_jobs_success.append(None)
        status.child_results.append(None)
        status.iterator.index += 1

    def _start_branchone(
        self,
        module: flows.FlowModule,
        value: flows.BranchOne,
        status: flow_state.StepStatus,
        context: dict[str, Any],
    ) -> tuple[bool, Any]:
        scope: list[str | int] = [module.id, "default"]
        modules = value.default
        status.branch_chosen = {"type": "default"}
        for index, branch in enumerate(value.branches):
            if expressions.truthy(
                _eval(branch.expr, context, f"step {module.id!r}, branch {index}")
            ):
                scope, modules = [module.id, index], branch.modules
                status.branch_chosen = {"type": "branch", "branch": index}
                break
        if not modules:
            return True, self.state.previous_result
        status.job = self._body_child(
            module.id, scope, self.state.flow_input, self.state.previous_result
        )
        return False, None

    def _start_branchall(
        self, module: flows.FlowModule, value: flows.BranchAll, status: flow_state.StepStatus
    ) -> tuple[bool, Any]:
        if not value.branches:
            return True, []
        count = len(value.branches)
        status.branchall = {"branch": 0, "len": count}
        status.flow_jobs, status.flow_jobs_success = [], []
        status.child_results = [None] * count
        status.parallelism = count if value.parallel else 1
        status.iterator = flow_state.Iterator(index=0, itered=list(range(count)))
        self._fill_branches(module, status)
        return False, None

    def _fill_branches(self, module: flows.FlowModule, status: flow_state.StepStatus) -> None:
        assert status.iterator is not None and status.flow_jobs is not None
        assert status.flow_jobs_success is not None and status.branchall is not None
        while status.iterator.index < status.branchall["len"] and (
            status.iterator.index - status.done < status.parallelism
        ):
            index = status.iterator.index
            job = self._body_child(
                module.id, [module.id, index], self.state.flow_input, self.state.previous_result
            )
            status.flow_jobs.append(job)
            status.flow_jobs_success.append(None)
            status.iterator.index += 1
            status.branchall["branch"] = index

    # -- finishing a step, and the flow

    async def step_finished(
        self,
        module: flows.FlowModule,
        status: flow_state.StepStatus,
        result: Any,
        *,
        stop: bool = False,
    ) -> bool:
        """Record a step's result; False when the flow waits (approval) or stops here.

        `stop`: a branch of the step stopped early, so the flow stops after it.
        """
        status.result = result
        self.state.results[module.id] = result
        self.state.previous_result = result
        if module.suspend is not None and status.job is not None:
            status.type = "WaitingForEvents"
            wait = module.suspend.timeout or flow_state.DEFAULT_SUSPEND_TIMEOUT_S
            until = datetime.now(UTC) + timedelta(seconds=wait)
            self.state.suspended_until = until.isoformat()
            return await self.check_events(module, status)
        return self.step_done(module, status, result, stop=stop)

    async def check_events(self, module: flows.FlowModule, status: flow_state.StepStatus) -> bool:
        """Whether a suspended step has its approvals; a cancel fails the flow."""
        assert module.suspend is not None and status.job is not None
        events = await self.conn.fetch(db.query("resume_events"), uuid.UUID(status.job))
        denied = [e for e in events if not e["approved"]]
        approved = [e for e in events if e["approved"]]
        if denied:
            if not module.suspend.continue_on_disapprove_timeout:
                who = denied[0]["approver"] or "anonymous"
                raise StepFailed(
                    {"name": "Disapproved", "message": f"{who} canceled the flow at {module.id!r}"}
                )
            return self.resumed(module, status, None)
        if len(approved) >= module.suspend.required_events:
            self.state.resumes = [e["payload"] for e in approved]
            return self.resumed(module, status, approved[-1]["payload"])
        return False

    def resumed(
        self, module: flows.FlowModule, status: flow_state.StepStatus, payload: Any
    ) -> bool:
        self.state.resume = payload
        self.state.suspended_until = None
        return self.step_done(module, status, status.result)

    def step_done(
        self,
        module: flows.FlowModule,
        status: flow_state.StepStatus,
        result: Any,
        *,
        stop: bool = False,
    ) -> bool:
        """Move past a finished step; False when the flow stops here (stop_after_if).

        A loop iteration or branch that stops is `stopped_early`: its loop breaks,
        its branch step stops the enclosing flow in turn.
        """
        status.type = "Success"
        self.state.step += 1
        context = _context(self.state, result=result)
        if module.sleep is not None:
            sleep = _transform(module.sleep, context, f"step {module.id!r}, sleep")
            self.state.sleep_s = _seconds(sleep, f"step {module.id!r}, sleep")
        # on a loop, `stop_after_if` breaks the loop after an iteration (see _join);
        # `stop_after_all_iters_if` is checked once the whole loop (or branchall) ended
        checks = [("stop_after_all_iters_if", module.stop_after_all_iters_if)]
        if not isinstance(module.value, flows.ForloopFlow | flows.WhileloopFlow):
            checks.append(("stop_after_if", module.stop_after_if))
        for field, check in checks:
            if check is not None and expressions.truthy(
                _eval(check.expr, context, f"step {module.id!r}, {field}")
            ):
                if check.error_message:
                    raise StepFailed({"name": "StoppedWithError", "message": check.error_message})
                stop = True
        if stop:
            self.advance.finish = flow_state.Finish(
                status="success", result=result, stopped_early=bool(self.state.scope)
            )
            return False
        return True

    def _loop_stops(self, module: flows.FlowModule, result: Any) -> bool:
        """A loop's `stop_after_if`, after one iteration with its `result`: the loop's break."""
        stop = module.stop_after_if
        if stop is None or not expressions.truthy(
            _eval(
                stop.expr, _context(self.state, result=result), f"step {module.id!r}, stop_after_if"
            )
        ):
            return False
        if stop.error_message:
            raise StepFailed({"name": "StoppedWithError", "message": stop.error_message})
        return True

    async def run(self) -> flow_state.Advance:
        """Run steps from the current one until one waits on children or the flow ends."""
        while self.advance.finish is None and self.state.step < len(self.modules):
            module = self.modules[self.state.step]
            status = self.state.modules[self.state.step]
            try:
                finished, result = await self.start_step(module, status)
                if not finished:
                    return self.advance
                if not await self.step_finished(module, status, result):
                    return self.advance
            except StepFailed as exc:
                return await self.fail(module, status, exc.error)
        if self.advance.finish is None:
            self.advance.finish = flow_state.Finish(
                status="success", result=self.state.previous_result
            )
        return self.advance

    async def fail(
        self,
        module: flows.FlowModule | None,
        status: flow_state.StepStatus | None,
        error: dict[str, Any],
    ) -> flow_state.Advance:
        """A step failed: cancel its siblings, then retry it, or the failure module or the end."""
        if status is not None:
            self._cancel_running(status)
            if module is not None and self._retry(module, status):
                return await self.run()
            status.type = "Failure"
            status.result = {"error": error}
        failed = {**error, "step_id": module.id if module is not None else None}
        handler = self.value.failure_module
        if handler is not None and not self.state.scope and self.state.failure_module is None:
            self.state.error = failed
            self.state.failure_module = flow_state.StepStatus(id=handler.id, type="InProgress")
            context = {**_context(self.state), "previous_result": failed, "error": failed}
            try:
                await self._start_failure_module(handler, context)
            except StepFailed as exc:
                self.state.failure_module.type = "Failure"
                return self._end_failed(failed, extra=exc.error)
            return self.advance
        return self._end_failed(failed)

    def _cancel_running(self, status: flow_state.StepStatus) -> None:
        for index, job in enumerate(status.flow_jobs or []):
            if status.flow_jobs_success and status.flow_jobs_success[index] is None:
                self.advance.cancel.append(models.JobId(uuid.UUID(job)))

    def _retry(self, module: flows.FlowModule, status: flow_state.StepStatus) -> bool:
        """Start a failed step again if its `retry` has attempts left, after its delay.

        A script step's job is retried by the worker (same job id) before the step fails;
        a loop, branch or sub-flow step is run again whole here, as a new attempt whose
        predecessors' jobs are listed in `failed_retries`.
        """
        retry = module.retry
        if retry is None or isinstance(module.value, flows.RawScript | flows.PathScript):
            return False
        delay = retry.delay_before(len(status.failed_retries) + 1)
        if delay is None:
            return False
        failed = [*status.failed_retries, *([status.job] if status.job else [])]
        failed += status.flow_jobs or []
        self.state.modules[self.state.step] = flow_state.StepStatus(
            id=module.id, failed_retries=failed
        )
        self.state.sleep_s = delay
        return True

    async def _start_failure_module(
        self, handler: flows.FlowModule, context: dict[str, Any]
    ) -> None:
        assert self.state.failure_module is not None
        value = handler.value
        if isinstance(value, flows.RawScript | flows.PathScript):
            self.state.failure_module.job = await self._script_child(handler, context, handler.id)
        elif isinstance(value, flows.PathFlow):
            self.state.failure_module.job = await self._subflow_child(handler, value, context)
        else:
            self.state.failure_module.type = "Success"
            self._end_failed(self.state.error or {}, result=context["previous_result"])

    def _end_failed(
        self, error: dict[str, Any], *, result: Any = None, extra: dict[str, Any] | None = None
    ) -> flow_state.Advance:
        message = str(error.get("message", ""))
        if extra is not None:
            message += f" (and the failure module failed: {extra.get('message', '')})"
        self.advance.finish = flow_state.Finish(
            status="failure",
            result=result,
            error=models.JobError(
                name=str(error.get("name", "Error")),
                message=message,
                stack=str(error.get("stack", "")),
            ),
        )
        return self.advance

    # -- a child ended

    async def child_done(
        self, child_id: str, outcome: flow_state.ChildOutcome
    ) -> flow_state.Advance | None:
        handler = self.state.failure_module
        if handler is not None:
            if handler.job != child_id:
                return None
            handler.type = "Success" if outcome.status == "success" else "Failure"
            handler.result = outcome.result if outcome.status == "success" else outcome.error
            extra = None if outcome.status == "success" else (outcome.error or {})
            return self._end_failed(self.state.error or {}, result=outcome.result, extra=extra)
        if self.state.step >= len(self.modules):
            return None
        module = self.modules[self.state.step]
        status = self.state.modules[self.state.step]
        if status.type != "InProgress":
            return None
        try:
            if status.job == child_id:
                return await self._single_done(module, status, outcome)
            if status.flow_jobs is not None and child_id in status.flow_jobs:
                return await self._join(module, status, status.flow_jobs.index(child_id), outcome)
        except StepFailed as exc:
            return await self.fail(module, status, exc.error)
        return None

    def _error(self, outcome: flow_state.ChildOutcome) -> dict[str, Any]:
        error = dict(outcome.error or {})
        if outcome.status == "canceled":
            error.setdefault("name", "Canceled")
        error.setdefault("name", "Error")
        error.setdefault("message", f"the step's job ended {outcome.status}")
        return error

    async def _single_done(
        self,
        module: flows.FlowModule,
        status: flow_state.StepStatus,
        outcome: flow_state.ChildOutcome,
    ) -> flow_state.Advance:
        if outcome.status == "success":
            result = outcome.result
        elif self._retry(module, status):
            return await self.run()
        elif module.continue_on_error:
            result = {"error": self._error(outcome)}
        else:
            return await self.fail(module, status, self._error(outcome))
        # a branchone's branch that stopped early stops the flow after the step
        if await self.step_finished(module, status, result, stop=outcome.stopped_early):
            return await self.run()
        return self.advance

    async def _join(
        self,
        module: flows.FlowModule,
        status: flow_state.StepStatus,
        index: int,
        outcome: flow_state.ChildOutcome,
    ) -> flow_state.Advance:
        assert status.child_results is not None and status.flow_jobs_success is not None
        if status.flow_jobs_success[index] is not None:
            return self.advance  # already counted
        ok = outcome.status == "success"
        status.flow_jobs_success[index] = ok
        status.done += 1
        value = module.value
        loop = isinstance(value, flows.ForloopFlow | flows.WhileloopFlow)
        tolerated = (
            isinstance(value, flows.ForloopFlow | flows.WhileloopFlow) and value.skip_failures
        ) or (isinstance(value, flows.BranchAll) and value.branches[index].skip_failure)
        if not ok and not tolerated and not module.continue_on_error:
            return await self.fail(module, status, self._error(outcome))
        status.child_results[index] = outcome.result if ok else {"error": self._error(outcome)}
        if loop:
            # a step of the iteration stopped early, or the loop's own stop_after_if: break
            stop = outcome.stopped_early or (ok and self._loop_stops(module, outcome.result))
            if stop:
                assert status.iterator is not None
                started = status.iterator.index
                status.iterator.itered = status.iterator.itered[:started]
                status.child_results = status.child_results[:started]
            elif isinstance(value, flows.WhileloopFlow):
                self._next_iteration(module, status, status.child_results[index])
            else:
                self._fill_loop(module, status)
        else:
            status.stop_early = status.stop_early or outcome.stopped_early
            self._fill_branches(module, status)
        if status.done < len(status.child_results):
            return self.advance
        results = list(status.child_results)
        if await self.step_finished(module, status, results, stop=status.stop_early):
            return await self.run()
        return self.advance


# --- what server.queue calls --------------------------------------------------------------


async def start(
    conn: Reader, job: flow_state.FlowJob, flow: Definition | None = None
) -> flow_state.Advance:
    """Advance a flow job that was just inserted: run until it waits or ends."""
    return await _Run(conn, job, await definition(conn, job, flow)).run()


async def child_done(
    conn: Reader,
    job: flow_state.FlowJob,
    child_id: models.JobId,
    outcome: flow_state.ChildOutcome,
    flow: Definition | None = None,
) -> flow_state.Advance | None:
    """Advance a flow whose child ended; None when the child no longer matters to it."""
    return await _Run(conn, job, await definition(conn, job, flow)).child_done(
        str(child_id), outcome
    )


def _suspended(
    run: _Run, step_job: str | None
) -> tuple[flows.FlowModule, flow_state.StepStatus] | None:
    if run.state.step >= len(run.modules):
        return None
    module, status = run.modules[run.state.step], run.state.modules[run.state.step]
    if status.type != "WaitingForEvents" or (step_job is not None and status.job != step_job):
        return None
    return module, status


async def events_arrived(
    conn: Reader, job: flow_state.FlowJob, step_job: models.JobId, flow: Definition
) -> flow_state.Advance | None:
    """A resume or cancel URL was used: go on if the waiting step now has what it needs."""
    run = _Run(conn, job, flow)
    found = _suspended(run, str(step_job))
    if found is None:
        return None  # the step has not finished yet: its end will count the event
    module, status = found
    try:
        if await run.check_events(module, status):
            return await run.run()
    except StepFailed as exc:
        return await run.fail(module, status, exc.error)
    return None


async def suspend_expired(conn: Reader, job: flow_state.FlowJob) -> flow_state.Advance | None:
    """The wait for approval ran out: fail the flow, or go on if the step says so."""
    run = _Run(conn, job, await definition(conn, job))
    found = _suspended(run, None)
    if found is None:
        run.state.suspended_until = None
        return run.advance
    module, status = found
    assert module.suspend is not None
    if module.suspend.continue_on_disapprove_timeout:
        try:
            if run.resumed(module, status, None):
                return await run.run()
        except StepFailed as exc:
            return await run.fail(module, status, exc.error)
        return run.advance
    error = {
        "name": "SuspendTimeout",
        "message": f"step {module.id!r} was not approved in time",
    }
    run.state.suspended_until = None
    return await run.fail(module, status, error)


def restart_state(
    flow: Definition, state: flow_state.FlowState, step_id: str
) -> flow_state.FlowState:
    """A restart's state from a finished run's; a step inside a loop or branch is refused
    with the top-level step to restart from instead (iterations are not replayed)."""
    for module in flow.value.modules:
        nested = flows.all_modules(flows.FlowValue(modules=[module]))[1:]
        if any(inner.id == step_id for inner in nested):
            kind = module.value.__struct_config__.tag
            raise errors.Invalid(
                f"step {step_id!r} is inside the {kind} step {module.id!r}: a run restarts "
                f"from a top-level step only; restart from {module.id!r} to run the whole "
                f"{kind} again",
                [{"path": "step_id", "message": f"nested in top-level step {module.id!r}"}],
            )
    return flow_state.restarted(state, step_id)


def resume_form(flow: Definition, step_id: str) -> flows.Suspend:
    """The suspend settings of a step, to check a resume against; Invalid if it has none."""
    for module in flows.all_modules(flow.value):
        if module.id == step_id and module.suspend is not None:
            return module.suspend
    raise errors.Invalid(
        f"step {step_id!r} of this flow is not a suspend (approval) step",
        [{"path": "job_id", "message": "not a suspend step"}],
    )
