// A flow drawn as nested boxes: steps top to bottom, branches side by side, a loop's body
// inside its frame, the failure module apart. A flow is structured (no arbitrary edges),
// so nesting HTML boxes draws it exactly, with CSS for the connectors, and no layout
// library. Each step is a button (its details a click away) whose state colours it.
import { h } from "./dom";

/** A step's state, as the flow's `flow_status` gives it (Windmill's FlowStatusModule). */
export interface StepStatus {
  id: string;
  type: "WaitingForPriorSteps" | "WaitingForEvents" | "InProgress" | "Success" | "Failure";
  job?: string;
  flow_jobs?: string[];
  flow_jobs_success?: (boolean | null)[];
  iterator?: { index: number; itered: unknown[] };
  branch_chosen?: { type: "branch" | "default"; branch?: number };
  branchall?: { branch: number; len: number };
  skipped?: boolean;
  result?: unknown;
  resume_urls?: { approvalPage: string; resume: string; cancel: string };
}

export interface FlowStatus {
  step: number;
  modules: StepStatus[];
  failure_module: StepStatus | null;
}

type Obj = Record<string, unknown>;

function isObj(value: unknown): value is Obj {
  return value !== null && typeof value === "object" && !Array.isArray(value);
}

function modulesOf(value: unknown): Obj[] {
  return Array.isArray(value) ? value.filter(isObj) : [];
}

function str(value: unknown): string {
  return typeof value === "string" ? value : "";
}

/** The expression or static value of an input transform, shortly. */
function transformText(value: unknown): string {
  if (isObj(value)) {
    if (value.type === "javascript") return str(value.expr);
    if (value.type === "static") return JSON.stringify(value.value);
  }
  return value === undefined ? "" : JSON.stringify(value);
}

/** What a step is, in a few words: its kind and target. */
export function stepKind(module: Obj): string {
  const value = isObj(module.value) ? module.value : {};
  switch (value.type) {
    case "script":
      return `script ${str(value.path)}`;
    case "rawscript":
      return `inline ${str(value.language)}`;
    case "flow":
      return `sub-flow ${str(value.path)}`;
    case "forloopflow":
      return `for each in ${transformText(value.iterator)}${value.parallel ? " (parallel)" : ""}`;
    case "whileloopflow":
      return "repeat until a stop_after_if says stop";
    case "branchone":
      return "first matching branch";
    case "branchall":
      return `all branches${value.parallel ? " (parallel)" : ""}`;
    case "identity":
      return "identity";
    default:
      return `unknown type ${JSON.stringify(value.type ?? null)}`;
  }
}

const STATE_TEXT: Record<string, string> = {
  WaitingForPriorSteps: "waiting",
  WaitingForEvents: "waiting for approval",
  InProgress: "running",
  Success: "success",
  Failure: "failure",
  skipped: "skipped",
};

export interface FlowGraph {
  element: HTMLElement;
  /** Colour the steps by their states (by step id; absent ids go back to plain). */
  setStates(states: Map<string, StepStatus>): void;
  /** Mark steps with problems (the editor's validation). */
  setProblems(ids: Set<string>): void;
  /** Outline one step, e.g. the one the details panel shows. */
  select(id: string | null): void;
}

/** The graph of a flow's `value` (`{modules, failure_module}`); `onStep` when a step is clicked. */
export function flowGraph(value: unknown, onStep: (id: string, module: Obj) => void = () => {}): FlowGraph {
  const nodes = new Map<string, { node: HTMLElement; state: HTMLElement; progress: HTMLElement }>();
  const lanes: { owner: string; index: number | "default"; element: HTMLElement }[] = [];

  const node = (module: Obj): HTMLElement => {
    const id = str(module.id) || "(no id)";
    const badges: string[] = [];
    if (isObj(module.suspend)) badges.push("approval");
    if (isObj(module.skip_if)) badges.push("skip if");
    if (isObj(module.stop_after_if)) badges.push("stop if");
    if (isObj(module.retry)) badges.push("retry");
    if (module.sleep !== undefined && module.sleep !== null) badges.push("sleep");
    if (module.continue_on_error === true) badges.push("continue on error");
    const state = h("span", { class: "fg-state" });
    const progress = h("span", { class: "fg-progress" });
    const button = h("button", {
      type: "button",
      class: "fg-node",
      "data-step": id,
      "data-state": "none",
      onclick: () => onStep(id, module),
    },
      h("span", { class: "fg-id" }, id),
      h("span", { class: "fg-kind" }, stepKind(module)),
      str(module.summary) ? h("span", { class: "fg-summary" }, str(module.summary)) : null,
      badges.length ? h("span", { class: "fg-badges" }, badges.map((b) => h("span", { class: "fg-badge" }, b))) : null,
      progress, state);
    nodes.set(id, { node: button, state, progress });
    return button;
  };

  const sequence = (modules: Obj[]): HTMLElement =>
    h("ol", { class: "fg-seq" },
      modules.length === 0 ? h("li", { class: "fg-item" }, h("span", { class: "fg-empty" }, "(no steps)")) : null,
      modules.map((m) => h("li", { class: "fg-item" }, step(m))));

  const lane = (owner: string, index: number | "default", label: string, modules: Obj[]): HTMLElement => {
    const element = h("div", { class: "fg-lane" }, h("div", { class: "fg-lane-label", title: label }, label), sequence(modules));
    lanes.push({ owner, index, element });
    return element;
  };

  const step = (module: Obj): HTMLElement => {
    const value = isObj(module.value) ? module.value : {};
    const id = str(module.id);
    if (value.type === "forloopflow" || value.type === "whileloopflow") {
      return h("div", { class: "fg-group fg-loop" }, node(module), h("div", { class: "fg-body" }, sequence(modulesOf(value.modules))));
    }
    if (value.type === "branchone") {
      const branches = modulesOf(value.branches);
      return h("div", { class: "fg-group fg-branches" }, node(module),
        h("div", { class: "fg-lanes" },
          branches.map((b, i) => lane(id, i, str(b.summary) || str(b.expr) || `branch ${i + 1}`, modulesOf(b.modules))),
          lane(id, "default", "default", modulesOf(value.default))));
    }
    if (value.type === "branchall") {
      const branches = modulesOf(value.branches);
      return h("div", { class: "fg-group fg-branches" }, node(module),
        h("div", { class: "fg-lanes" }, branches.map((b, i) => lane(id, i, str(b.summary) || `branch ${i + 1}`, modulesOf(b.modules)))));
    }
    return node(module);
  };

  const flow = isObj(value) ? value : {};
  const failure = isObj(flow.failure_module) ? flow.failure_module : null;
  const element = h("div", { class: "flow-graph" },
    h("div", { class: "fg-main" },
      h("div", { class: "fg-end" }, "Input"),
      sequence(modulesOf(flow.modules)),
      h("div", { class: "fg-end fg-result" }, "Result")),
    failure ? h("div", { class: "fg-failure" }, h("div", { class: "fg-lane-label" }, "On failure"), node(failure)) : null);

  return {
    element,
    setStates(states) {
      for (const [id, { node: button, state, progress }] of nodes) {
        const status = states.get(id);
        const key = !status ? "none" : status.skipped ? "skipped" : status.type;
        button.dataset.state = key;
        state.textContent = status ? STATE_TEXT[key] ?? key : "";
        const it = status?.iterator;
        if (status?.flow_jobs && it) {
          const done = (status.flow_jobs_success ?? []).filter((s) => s !== null).length;
          const total = status.branchall ? status.branchall.len : it.itered.length;
          // a while loop has no list to go through: it counts the iterations it ran
          progress.textContent = !status.branchall && total === 0
            ? `${done} iteration${done === 1 ? "" : "s"} done`
            : `${done}/${total} ${status.branchall ? "branches" : "iterations"} done`;
        } else if (status?.iterator && it?.itered.length === 0) {
          progress.textContent = "no iterations";
        } else {
          progress.textContent = "";
        }
      }
      for (const { owner, index, element: laneEl } of lanes) {
        const chosen = states.get(owner)?.branch_chosen;
        const taken = chosen ? (chosen.type === "default" ? index === "default" : chosen.branch === index) : null;
        laneEl.dataset.taken = taken === null ? "" : String(taken);
      }
    },
    setProblems(ids) {
      for (const [id, { node: button }] of nodes) button.classList.toggle("fg-problem", ids.has(id));
    },
    select(id) {
      for (const [key, { node: button }] of nodes) button.setAttribute("aria-pressed", String(key === id));
    },
  };
}

/** The module with this id anywhere in a flow's `value`, nested or the failure module. */
export function findModule(value: unknown, id: string): Obj | null {
  const flow = isObj(value) ? value : {};
  const search = (modules: Obj[]): Obj | null => {
    for (const module of modules) {
      if (module.id === id) return module;
      const inner = isObj(module.value) ? module.value : {};
      const nested = [
        ...modulesOf(inner.modules),
        ...modulesOf(inner.default),
        ...modulesOf(inner.branches).flatMap((b) => modulesOf(b.modules)),
      ];
      const found = nested.length ? search(nested) : null;
      if (found) return found;
    }
    return null;
  };
  return search([...modulesOf(flow.modules), ...(isObj(flow.failure_module) ? [flow.failure_module] : [])]);
}

export { isObj, type Obj };
