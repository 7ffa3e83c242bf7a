// A flow run, live: `jobs_u/get` polled for the flow's status, its graph coloured by each
// step's state (nested steps from their loop iteration's or branch's own flow job), the
// approval link while a step waits, the result at the end, and a step's logs and result
// one click away.
import { type Job, get, ws } from "./api";
import { duration, h, statusBadge } from "./dom";
import { type FlowGraph, type FlowStatus, type Obj, type StepStatus, findModule, isObj, stepKind } from "./flowgraph";
import { resultView } from "./result";
import { type RunView, cancelButton, runView } from "./runview";

const POLL_MS = 500;

export interface FlowJob extends Job {
  flow_status?: FlowStatus;
}

export interface FlowRunView {
  element: HTMLElement;
  /** Show a step's details (its job's logs and result, or its iterations). */
  showStep(id: string): void;
  close(): void;
}

const LOOPS = new Set(["forloopflow", "whileloopflow"]);
const CONTAINERS = new Set([...LOOPS, "branchone", "branchall"]);

/** Reads flow jobs, keeping the ones that ended (they never change again). */
function jobReader(): (id: string) => Promise<FlowJob> {
  const ended = new Map<string, FlowJob>();
  return async (id) => {
    const known = ended.get(id);
    if (known) return known;
    const job = await get<FlowJob>(ws(`jobs_u/get/${id}`));
    if (job.type === "CompletedJob") ended.set(id, job);
    return job;
  };
}

/** Every step's state: the flow's own, then nested ones from the child flow jobs of its
 * loops (the newest iteration) and branches. */
async function collect(job: FlowJob, definition: unknown, read: (id: string) => Promise<FlowJob>, into: Map<string, StepStatus>, depth = 0): Promise<void> {
  for (const status of job.flow_status?.modules ?? []) {
    into.set(status.id, status);
    const module = findModule(definition, status.id);
    const type = isObj(module?.value) ? (module.value as Obj).type : null;
    if (depth > 4 || typeof type !== "string" || !CONTAINERS.has(type)) continue;
    const children = status.flow_jobs?.length ? (LOOPS.has(type) ? status.flow_jobs.slice(-1) : status.flow_jobs) : status.job ? [status.job] : [];
    for (const child of children) {
      const childJob = await read(child).catch(() => null);
      if (childJob) await collect(childJob, definition, read, into, depth + 1);
    }
  }
  const failure = job.flow_status?.failure_module;
  if (failure) into.set(failure.id, failure);
}

export function flowRunView(jobId: string, graph: FlowGraph, definition: unknown, onDone: (job: FlowJob) => void = () => {}): FlowRunView {
  const status = h("span", { class: "run-status", role: "status", "aria-live": "polite" }, statusBadge("queued"));
  const elapsed = h("span", { class: "elapsed muted" });
  const approval = h("div", { class: "approval-note", hidden: true });
  const result = h("div", { class: "result-area", "aria-live": "polite" });
  const cancel = cancelButton(jobId, result);
  const details = h("section", { class: "step-details", "aria-label": "Step details", hidden: true });
  const element = h("section", { class: "run-view flow-run", "aria-label": "Flow run" },
    h("div", { class: "run-head" }, status, elapsed,
      h("a", { href: `/runs/${jobId}`, class: "job-link mono" }, jobId.slice(0, 8)), cancel),
    approval, h("h3", { class: "sr-only" }, "Result"), result, details);

  const read = jobReader();
  let states = new Map<string, StepStatus>();
  let selected: string | null = null;
  let selectedKey = "";
  let stepRun: RunView | null = null;
  let timer = 0;
  let closed = false;
  let started: number | null = null;

  const renderDetails = () => {
    if (selected === null) return;
    const module = findModule(definition, selected);
    const state = states.get(selected);
    const key = JSON.stringify([selected, state?.type, state?.job, state?.flow_jobs?.length, state?.flow_jobs_success]);
    if (key === selectedKey) return;
    selectedKey = key;
    stepRun?.close();
    stepRun = null;
    details.hidden = false;
    const body: (Node | string)[] = [];
    const type = isObj(module?.value) ? (module.value as Obj).type : null;
    if (!state || (state.type === "WaitingForPriorSteps" && !state.skipped)) {
      body.push(h("p", { class: "muted" }, "Not started yet."));
    } else if (state.skipped) {
      body.push(h("p", { class: "muted" }, "Skipped (its skip_if was true); its result is the previous step's."));
    } else if (state.flow_jobs?.length) {
      body.push(h("ol", { class: "iterations", "aria-label": typeof type === "string" && LOOPS.has(type) ? "Iterations" : "Branches" },
        state.flow_jobs.map((id, i) => {
          const ok = state.flow_jobs_success?.[i];
          return h("li", null, statusBadge(ok === true ? "success" : ok === false ? "failure" : "running"), " ",
            h("a", { href: `/runs/${id}`, class: "mono" }, `${typeof type === "string" && LOOPS.has(type) ? "iteration" : "branch"} ${i + 1}`));
        })));
    } else if (state.job) {
      stepRun = runView(state.job);
      body.push(stepRun.element);
    }
    if (state && (state.type === "Success" || state.type === "Failure" || state.type === "WaitingForEvents") && !stepRun) {
      body.push(h("h4", null, "Result"), resultView(state.result, state.type === "Failure"));
    }
    details.replaceChildren(
      h("h3", null, "Step ", h("span", { class: "mono" }, selected)),
      h("p", { class: "muted" }, module ? stepKind(module) : "", state?.job ? [" · job ", h("a", { href: `/runs/${state.job}`, class: "mono" }, state.job.slice(0, 8))] : null),
      ...body);
  };

  const finish = (job: FlowJob) => {
    cancel.hidden = true;
    approval.hidden = true;
    elapsed.textContent = job.duration_ms != null ? duration(job.duration_ms) : "";
    result.replaceChildren(resultView(job.result, job.status !== "success"));
    onDone(job);
  };

  const poll = async () => {
    if (closed) return;
    try {
      const job = await get<FlowJob>(ws(`jobs_u/get/${jobId}`));
      const next = new Map<string, StepStatus>();
      await collect(job, definition, read, next);
      if (closed) return;
      states = next;
      graph.setStates(states);
      status.replaceChildren(statusBadge(job.status));
      if (job.status === "running" && started === null) started = Date.now();
      if (started !== null && job.type !== "CompletedJob") elapsed.textContent = duration(Date.now() - started);
      const waiting = job.flow_status?.modules.find((m) => m.type === "WaitingForEvents" && m.resume_urls);
      approval.hidden = !waiting;
      if (waiting?.resume_urls) {
        approval.replaceChildren(`Step ${waiting.id} waits for approval: `,
          h("a", { href: waiting.resume_urls.approvalPage }, "open the approval page"));
      }
      renderDetails();
      if (job.type === "CompletedJob") {
        finish(job);
        return;
      }
    } catch (error) {
      result.replaceChildren(h("p", { class: "error-box" }, (error as Error).message));
    }
    timer = window.setTimeout(() => void poll(), POLL_MS);
  };
  void poll();

  return {
    element,
    showStep(id) {
      selected = id;
      selectedKey = "";
      graph.select(id);
      renderDetails();
      details.scrollIntoView({ block: "nearest" });
    },
    close() {
      closed = true;
      window.clearTimeout(timer);
      stepRun?.close();
    },
  };
}

