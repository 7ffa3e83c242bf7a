// The approval page behind a suspended step's `approvalPage` URL: the flow and the step
// that waits, the step's `resume_form` as a form, Approve and Reject.
//
// No sign-in: as on Windmill, the signed URL is the credential (whoever holds it may
// approve that one step), so this page reads and acts through the signed routes only,
// with plain requests that never send a user to the sign-in page.
import type { JsonSchema } from "../api";
import { append, h, statusBadge, time } from "../dom";
import { type FlowStatus, type StepStatus, flowGraph } from "../flowgraph";
import { buildForm } from "../form";
import { jsonTree, resultView } from "../result";
import type { Page } from "../router";

interface Suspended {
  job: {
    id: string;
    script_path: string;
    status: string;
    args: Record<string, unknown>;
    created_by: string;
    created_at: string;
    flow_status: FlowStatus | null;
    raw_flow: unknown;
    summary: string;
  };
  step_id: string;
  step_job: string;
  resume_form: JsonSchema | null;
  required_events: number;
}

class Refused extends Error {
  constructor(readonly status: number, message: string, readonly details: { path: string; message: string }[]) {
    super(message);
  }
}

/** A request without the signed-in token's handling: a 401 here is a bad link, not a session. */
async function call<T>(method: string, url: string, body?: unknown): Promise<T> {
  const response = await fetch(url, {
    method,
    headers: body === undefined ? { Accept: "application/json" } : { Accept: "application/json", "Content-Type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const type = response.headers.get("content-type") ?? "";
  const payload: unknown = type.includes("json") ? await response.json() : await response.text();
  if (!response.ok) {
    const error = (payload as { error?: { message: string; details: unknown } }).error;
    const details = Array.isArray(error?.details) ? (error.details as { path: string; message: string }[]) : [];
    throw new Refused(response.status, error?.message ?? String(payload), details);
  }
  return payload as T;
}

const WAITING = new Set(["InProgress", "WaitingForEvents"]);
const DONE: Record<string, string> = { Success: "is done", Failure: "failed" };

export const approvePage: Page = async (main, match) => {
  const [, workspace, jobId, nonce, signature] = match;
  document.title = "Approval · Tidemill";
  const query = location.search;
  const tail = `${encodeURIComponent(workspace)}/jobs_u`;
  const signed = (action: string) => `/api/w/${tail}/${action}/${jobId}/${nonce}/${signature}${query}`;

  let info: Suspended;
  try {
    info = await call<Suspended>("GET", signed("get_flow"));
  } catch (error) {
    append(main, h("h1", { tabindex: -1 }, "Approval"),
      h("p", { class: "error-box", role: "alert" },
        error instanceof Refused && error.status === 401 ? "This approval link is not valid (wrong or changed signature)." : (error as Error).message));
    return;
  }

  const graph = flowGraph(info.job.raw_flow);
  const stepState = h("p", { class: "approval-state", role: "status", "aria-live": "polite" });
  const stepResult = h("div");
  const outcome = h("div", { role: "alert", class: "error-box", hidden: true });
  const done = h("p", { class: "approval-done", role: "status", hidden: true });
  const form = buildForm(info.resume_form ?? { type: "object", properties: {} });
  const approve = h("button", { type: "submit", class: "primary" }, "Approve");
  const reject = h("button", { type: "button", class: "danger" }, "Reject");
  const formEl = h("form", { class: "card run-form", novalidate: true, "aria-labelledby": "resume-title" },
    h("h2", { id: "resume-title" }, info.resume_form ? "Your answer" : "Decision"),
    info.resume_form ? form.element : h("p", { class: "muted" }, "This step asks for no input."),
    outcome, h("div", { class: "actions" }, approve, reject), done);

  const render = (current: Suspended) => {
    const states = new Map<string, StepStatus>((current.job.flow_status?.modules ?? []).map((m) => [m.id, m]));
    graph.setStates(states);
    graph.select(current.step_id);
    const step = states.get(current.step_id);
    const open = current.job.status === "running" && (!step || WAITING.has(step.type));
    stepState.replaceChildren(`The flow is `, statusBadge(current.job.status), " · ",
      step?.type === "WaitingForEvents" ? `step ${current.step_id} waits for approval`
        : step?.type === "InProgress" ? `step ${current.step_id} is still running (an approval now is kept)`
          : `step ${current.step_id} ${step ? DONE[step.type] ?? "is waiting for earlier steps" : "is not waiting"}`,
      current.required_events > 1 ? ` (${current.required_events} approvals needed)` : "");
    stepResult.replaceChildren(...(step && step.type !== "InProgress" && step.result !== undefined
      ? [h("h3", null, "The step's result"), resultView(step.result, false)] : []));
    approve.disabled = !open;
    reject.disabled = !open;
  };
  render(info);

  const follow = async () => {
    // the flow goes on from the approval: show where it got to
    for (let i = 0; i < 60; i++) {
      await new Promise((resolve) => setTimeout(resolve, 500));
      info = await call<Suspended>("GET", signed("get_flow")).catch(() => info);
      render(info);
      const step = info.job.flow_status?.modules.find((m) => m.id === info.step_id);
      if (info.job.status !== "running" || (step && !WAITING.has(step.type))) return;
    }
  };

  const act = async (approved: boolean) => {
    outcome.hidden = true;
    form.clearErrors();
    const values = approved ? form.values() : {};
    if (values === null) {
      outcome.textContent = "Fix the marked fields first.";
      outcome.hidden = false;
      return;
    }
    approve.disabled = true;
    reject.disabled = true;
    try {
      await call("POST", signed(approved ? "resume" : "cancel"), values);
      done.textContent = approved ? "Approved: the flow goes on." : "Rejected: the flow stops here.";
      done.hidden = false;
      await follow();
    } catch (error) {
      const unmatched = error instanceof Refused ? form.showErrors(error.details) : [];
      outcome.textContent = [(error as Error).message, ...unmatched].join(" — ");
      outcome.hidden = false;
      render(info);
    }
  };
  formEl.addEventListener("submit", (event) => {
    event.preventDefault();
    void act(true);
  });
  reject.addEventListener("click", () => void act(false));

  append(main,
    h("div", { class: "page-head" },
      h("div", null,
        h("h1", { tabindex: -1 }, "Approval: ", h("span", { class: "mono" }, info.job.script_path)),
        info.job.summary ? h("p", { class: "summary" }, info.job.summary) : null)),
    stepState,
    h("div", { class: "script-grid" },
      h("div", { class: "col" },
        h("section", { class: "card graph-card", "aria-labelledby": "graph-title" },
          h("h2", { id: "graph-title" }, "Graph"), graph.element)),
      h("div", { class: "col" }, formEl,
        h("section", { class: "card", "aria-labelledby": "flow-input" },
          h("h2", { id: "flow-input" }, "The run"),
          h("p", { class: "muted" }, `Started ${time(info.job.created_at)} by ${info.job.created_by}`),
          h("h3", null, "Input"),
          Object.keys(info.job.args).length ? h("div", { class: "json-tree" }, jsonTree(info.job.args)) : h("p", { class: "muted" }, "No input."),
          stepResult))),
  );
};
