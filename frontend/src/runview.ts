// One job, live: status, elapsed time, logs streamed over server-sent events, then the result.
//
// The log box has a fixed height from the start and the result area keeps its place,
// so nothing on the page moves while logs arrive.
import { type Job, type Update, post, token, ws } from "./api";
import { duration, h, statusBadge } from "./dom";
import { resultView } from "./result";

export interface RunView {
  element: HTMLElement;
  close(): void;
}

/** A run's Cancel button; a refused cancel is said in `errorArea`. */
export function cancelButton(jobId: string, errorArea: HTMLElement): HTMLButtonElement {
  const cancel = h("button", { type: "button", class: "danger small" }, "Cancel");
  cancel.addEventListener("click", async () => {
    cancel.disabled = true;
    try {
      await post(ws(`jobs_u/queue/cancel/${jobId}`), { reason: "canceled from the web UI" });
    } catch (error) {
      cancel.disabled = false;
      errorArea.replaceChildren(h("p", { class: "error-box" }, (error as Error).message));
    }
  });
  return cancel;
}

export function runView(jobId: string, onDone: (job: Job) => void = () => {}): RunView {
  const status = h("span", { class: "run-status", role: "status", "aria-live": "polite" }, statusBadge("queued"));
  const elapsed = h("span", { class: "elapsed muted" });
  const logs = h("pre", { class: "logs", tabindex: 0, "aria-label": "Logs" });
  const result = h("div", { class: "result-area", "aria-live": "polite" });
  const cancel = cancelButton(jobId, result);
  const element = h("section", { class: "run-view", "aria-label": "Run" },
    h("div", { class: "run-head" }, status, elapsed,
      h("a", { href: `/runs/${jobId}`, class: "job-link mono" }, jobId.slice(0, 8)), cancel),
    h("h3", { class: "sr-only" }, "Logs"), logs, result);

  let started: number | null = null;
  let current = "queued";
  const timer = window.setInterval(() => {
    if (started !== null && current === "running") elapsed.textContent = duration(Date.now() - started);
  }, 200);
  const setStatus = (value: string) => {
    if (value === current) return;
    current = value;
    status.replaceChildren(statusBadge(value));
    if (value === "running" && started === null) started = Date.now();
  };

  const source = new EventSource(`${ws(`jobs_u/getupdate_sse/${jobId}`)}?token=${encodeURIComponent(token() ?? "")}`);
  const finish = (job: Job) => {
    source.close();
    window.clearInterval(timer);
    setStatus(job.status);
    cancel.hidden = true;
    elapsed.textContent = job.duration_ms != null ? duration(job.duration_ms) : "";
    result.replaceChildren(resultView(job.result, job.status !== "success"));
    onDone(job);
  };
  source.onmessage = (event: MessageEvent<string>) => {
    const update = JSON.parse(event.data) as Update;
    if (update.new_logs) {
      const atBottom = logs.scrollTop + logs.clientHeight >= logs.scrollHeight - 4;
      logs.append(update.new_logs);
      if (atBottom) logs.scrollTop = logs.scrollHeight;
    }
    setStatus(update.status);
    if (update.completed && update.job) finish(update.job);
  };
  source.onerror = () => {
    if (source.readyState === EventSource.CLOSED) {
      result.replaceChildren(h("p", { class: "error-box" }, "Lost the live connection; reload to see the outcome."));
    }
  };
  return {
    element,
    close() {
      source.close();
      window.clearInterval(timer);
    },
  };
}
