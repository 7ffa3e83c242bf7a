// A flow's page: its graph, the form generated from its schema, Run, and the run live on
// the graph (each step's logs and result a click away); `?run=<id>` shows a past run; its
// webhook URLs.
import { type Flow, type Job, encodePath, get, post, ws } from "../api";
import { append, duration, h, statusBadge, time } from "../dom";
import { type Obj, flowGraph, isObj, stepKind } from "../flowgraph";
import { type FlowRunView, flowRunView } from "../flowrun";
import { buildForm } from "../form";
import type { Page } from "../router";
import { runForm } from "../runform";
import { followForm, webhookCard } from "../webhook";

function decodePath(raw: string): string {
  return raw.split("/").map(decodeURIComponent).join("/");
}

function recentRuns(path: string): { element: HTMLElement; reload(): Promise<void> } {
  const body = h("tbody");
  const element = h("section", { class: "card", "aria-labelledby": "recent-runs" },
    h("h2", { id: "recent-runs" }, "Recent runs"),
    h("div", { class: "table-wrap" }, h("table", null,
      h("thead", null, h("tr", null, ["Status", "Started", "Duration", "Run"].map((c) => h("th", { scope: "col" }, c)))),
      body)));
  const reload = async () => {
    const jobs = await get<Job[]>(ws(`jobs/list?script_path_exact=${encodeURIComponent(path)}&per_page=10`));
    body.replaceChildren(...(jobs.length === 0
      ? [h("tr", null, h("td", { colspan: 4, class: "muted" }, "No runs yet."))]
      : jobs.map((j) => h("tr", null,
          h("td", null, statusBadge(j.status)),
          h("td", null, time(j.started_at ?? j.created_at)),
          h("td", null, duration(j.duration_ms)),
          h("td", null, h("a", { href: `/flows/${encodePath(path)}?run=${j.id}`, class: "mono" }, j.id.slice(0, 8)))))));
  };
  void reload();
  return { element, reload };
}

/** A step's definition, before any run: what it runs and with which inputs. */
function stepDefinition(id: string, module: Obj): HTMLElement {
  const value = isObj(module.value) ? module.value : {};
  const transforms = isObj(value.input_transforms) ? Object.entries(value.input_transforms) : [];
  return h("section", { class: "step-details", "aria-label": "Step details" },
    h("h3", null, "Step ", h("span", { class: "mono" }, id)),
    h("p", { class: "muted" }, stepKind(module)),
    transforms.length
      ? h("dl", { class: "facts" }, transforms.flatMap(([name, t]) => [
          h("dt", { class: "mono" }, name),
          h("dd", { class: "mono" }, isObj(t) && t.type === "javascript" ? String(t.expr) : JSON.stringify(isObj(t) ? t.value : t)),
        ]))
      : null,
    h("p", { class: "muted" }, "Run the flow to see this step's logs and result."));
}

export const flowPage: Page = async (main, match) => {
  const path = decodePath(match[1]);
  document.title = `${path} · Tidemill`;
  const flow = await get<Flow>(ws(`flows/get/${encodePath(path)}`));
  const schema = flow.schema ?? { type: "object", properties: {} };
  const form = buildForm(schema);
  const runArea = h("div", { class: "run-area" });
  const staticDetails = h("div");
  const runs = recentRuns(path);
  let current: FlowRunView | null = null;

  const graph = flowGraph(flow.value, (id, module) => {
    if (current) {
      current.showStep(id);
    } else {
      graph.select(id);
      staticDetails.replaceChildren(stepDefinition(id, module));
    }
  });

  const show = (jobId: string) => {
    current?.close();
    staticDetails.replaceChildren();
    graph.setStates(new Map());
    current = flowRunView(jobId, graph, flow.value, () => void runs.reload());
    runArea.replaceChildren(current.element);
  };

  const formEl = runForm("Inputs", () => form, async (values) => {
    const id = await post<string>(ws(`jobs/run/f/${encodePath(path)}`), values);
    history.replaceState(null, "", `${location.pathname}?run=${id}`);
    show(id);
  });

  const webhook = webhookCard({ path: flow.path, flow: true, scope: `run:flow/${flow.path}` }, () => form.values(false));
  const unfollow = followForm(formEl, webhook.refresh);

  append(main,
    h("div", { class: "page-head" },
      h("div", null,
        h("h1", { tabindex: -1, class: "mono" }, flow.path),
        flow.summary ? h("p", { class: "summary" }, flow.summary) : null),
      h("div", { class: "actions" },
        h("span", { class: "lang" }, "flow"),
        h("a", { href: `/flows/edit/${encodePath(flow.path)}`, class: "button" }, "Edit"))),
    flow.description ? h("p", { class: "description" }, flow.description) : null,
    h("div", { class: "script-grid" },
      h("div", { class: "col" },
        h("section", { class: "card graph-card", "aria-labelledby": "graph-title" },
          h("h2", { id: "graph-title" }, "Graph"),
          graph.element)),
      h("div", { class: "col" }, formEl, runArea, staticDetails, runs.element, webhook.element)),
    h("p", { class: "muted small" }, `Version ${flow.version_id} · saved by ${flow.edited_by} ${time(flow.edited_at)}`),
  );
  const shown = new URLSearchParams(location.search).get("run");
  if (shown) show(shown);
  return () => {
    unfollow();
    current?.close();
  };
};
