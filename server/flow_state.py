"""The state of a flow run, as stored in its job's `flow_status`, and what an advance decides.

`server.flow_engine` computes; `server.queue` stores these records and applies the
decisions. The step statuses use Windmill's `FlowStatusModule` field names, so
`jobs_u/get` can show them as Windmill does.
"""

from __future__ import annotations

import uuid
from typing import Any, Literal

import msgspec

from server import errors, flows, models

StepType = Literal["WaitingForPriorSteps", "WaitingForEvents", "InProgress", "Success", "Failure"]
DEFAULT_SUSPEND_TIMEOUT_S = 1800  # Windmill's default wait for an approval


class Iterator(msgspec.Struct, kw_only=True):
    """Loop progress in Windmill's shape: `index` iterations started of `itered`."""

    index: int = 0
    itered: list[Any] = []


class StepStatus(msgspec.Struct, kw_only=True, omit_defaults=True):
    """One module's progress, in Windmill's `FlowStatusModule` field names.

    Mutable on purpose: an advance edits the working copy of one flow's state,
    which `server.queue` then stores whole.
    """

    id: str
    type: StepType = "WaitingForPriorSteps"
    job: str | None = None
    flow_jobs: list[str] | None = None
    flow_jobs_success: list[bool | None] | None = None
    iterator: Iterator | None = None
    branch_chosen: dict[str, Any] | None = None
    branchall: dict[str, int] | None = None
    skipped: bool = False
    while_loop: bool = False
    # the jobs of the attempts of this step that failed and were retried (not for scripts,
    # whose job itself is retried)
    failed_retries: list[str] = []
    result: Any = None
    # joins: the per-child results, how many children ended, how many may run at once,
    # and whether a branch stopped early (which stops the flow after the step)
    child_results: list[Any] | None = None
    done: int = 0
    parallelism: int = 1
    stop_early: bool = False


class FlowState(msgspec.Struct, kw_only=True):
    """The whole state of one flow job (a run, or a loop iteration or branch of one)."""

    version: int
    flow_input: dict[str, Any]
    modules: list[StepStatus]
    # [] the flow's own modules; [step] a loop body; [step, n] or [step, "default"] a branch
    scope: list[str | int] = []
    outer_results: dict[str, Any] = {}
    results: dict[str, Any] = {}
    previous_result: Any = None
    step: int = 0
    failure_module: StepStatus | None = None
    error: dict[str, Any] | None = None
    sleep_s: float = 0
    # approvals: the payload of the last resume (`resume` in expressions), and the wait's end
    resume: Any = None
    resumes: list[Any] = []
    suspended_until: str | None = None


class FlowJob(msgspec.Struct, frozen=True, kw_only=True):
    """The row of a flow job, locked by the caller for the length of the advance."""

    id: models.JobId
    workspace: models.WorkspaceId
    script_path: str
    created_by: str
    tag: str
    parent_job: uuid.UUID | None
    flow_status: FlowState


class ChildOutcome(msgspec.Struct, frozen=True, kw_only=True):
    """How a child job ended (in hand, or read from `completed` in the same transaction).

    `stopped_early`: a loop iteration or branch that a step's `stop_after_if` ended,
    which breaks the loop (Windmill's meaning) or stops the flow after the branch.
    """

    status: models.FinalStatus
    result: Any = None
    error: dict[str, Any] | None = None
    stopped_early: bool = False


class ChildScript(msgspec.Struct, frozen=True, kw_only=True):
    job_id: models.JobId
    step_id: str
    script: models.Script
    args: dict[str, Any]
    tag: str | None = None
    timeout_s: int | None = None
    retry: models.RetryPolicy | None = None
    delay_s: float = 0


class ChildFlow(msgspec.Struct, frozen=True, kw_only=True):
    job_id: models.JobId
    step_id: str
    script_path: str
    version: int
    state: FlowState


class Finish(msgspec.Struct, frozen=True, kw_only=True):
    status: models.FinalStatus
    result: Any = None
    error: models.JobError | None = None
    stopped_early: bool = False


class Advance(msgspec.Struct, kw_only=True):
    """What one advance decided, for `server.queue` to apply in its transaction."""

    state: FlowState
    children: list[ChildScript | ChildFlow] = []
    cancel: list[models.JobId] = []
    finish: Finish | None = None


def new_state(
    version: int,
    modules: list[flows.FlowModule],
    flow_input: dict[str, Any],
    **extra: Any,
) -> FlowState:
    return FlowState(
        version=version,
        flow_input=flow_input,
        modules=[StepStatus(id=m.id) for m in modules],
        **extra,
    )


def restarted(state: FlowState, step_id: str) -> FlowState:
    """A new run's state that reuses the results of the steps before `step_id`."""
    ids = [m.id for m in state.modules]
    if step_id not in ids:
        raise errors.Invalid(
            f"the flow has no top-level step {step_id!r}; its steps are {', '.join(ids)}",
            [{"path": "step_id", "message": "not a top-level step of this flow"}],
        )
    index = ids.index(step_id)
    kept = state.modules[:index]
    previous = state.results.get(kept[-1].id) if kept else None
    return FlowState(
        version=state.version,
        flow_input=state.flow_input,
        modules=[*kept, *(StepStatus(id=i) for i in ids[index:])],
        results={m.id: state.results.get(m.id) for m in kept},
        previous_result=previous,
        step=index,
    )


def running_children(state: FlowState) -> list[models.JobId]:
    """The children a cancel of this flow must cancel too."""
    ids: list[str] = []
    for status in [*state.modules, *([state.failure_module] if state.failure_module else [])]:
        if status.type != "InProgress":
            continue
        if status.job is not None:
            ids.append(status.job)
        for index, job in enumerate(status.flow_jobs or []):
            if status.flow_jobs_success is None or status.flow_jobs_success[index] is None:
                ids.append(job)
    return [models.JobId(uuid.UUID(i)) for i in ids]


def render_status(state: FlowState) -> dict[str, Any]:
    """The flow's state in Windmill's `flow_status` shape (plus each step's result)."""

    def module(status: StepStatus) -> dict[str, Any]:
        body: dict[str, Any] = msgspec.to_builtins(status)
        for internal in ("child_results", "done", "parallelism", "stop_early"):
            body.pop(internal, None)
        body.setdefault("type", "WaitingForPriorSteps")
        return body

    return {
        "step": state.step,
        "modules": [module(m) for m in state.modules],
        "failure_module": module(state.failure_module) if state.failure_module else None,
    }
