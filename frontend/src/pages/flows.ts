// Every flow, with its summary, who saved it last, and its last run.
import { type FlowHead, encodePath, get, ws } from "../api";
import { append, h, time } from "../dom";
import { lastRunCell, lastRuns } from "../lastrun";
import type { Page } from "../router";

export const flowsPage: Page = async (main) => {
  document.title = "Flows · Tidemill";
  const [flows, lastRun] = await Promise.all([get<FlowHead[]>(ws("flows/list")), lastRuns(true)]);
  append(main,
    h("div", { class: "page-head" }, h("h1", { tabindex: -1 }, "Flows"), h("a", { href: "/flows/edit", class: "button primary" }, "New flow")),
    flows.length === 0
      ? h("p", { class: "empty" }, "No flows yet. ", h("a", { href: "/flows/edit" }, "Write the first one"), ".")
      : h("div", { class: "table-wrap" }, h("table", null,
          h("thead", null, h("tr", null, ["Path", "Summary", "Saved", "Last run"].map((c) => h("th", { scope: "col" }, c)))),
          h("tbody", null, flows.map((f) => h("tr", null,
            h("td", null, h("a", { href: `/flows/${encodePath(f.path)}`, class: "mono" }, f.path)),
            h("td", null, f.summary),
            h("td", { class: "muted" }, `${time(f.edited_at)} by ${f.edited_by}`),
            lastRunCell(lastRun.get(f.path), (run) => `/flows/${encodePath(f.path)}?run=${run.id}`)))))),
  );
};
