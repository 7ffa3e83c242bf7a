import { get } from "../api";
import { h, time } from "../dom";
import type { Page } from "../router";

interface Worker {
  worker: string;
  hostname: string;
  pid: number;
  tags: string[];
  started_at: string;
  last_ping: string;
  current_job_id: string | null;
}

export const workersPage: Page = async (main) => {
  document.title = "Workers · Tidemill";
  const body = h("tbody");
  const load = async () => {
    const workers = await get<Worker[]>("/api/workers/list");
    body.replaceChildren(...(workers.length === 0
      ? [h("tr", null, h("td", { colspan: 6, class: "muted" }, "No live workers: start one with `tidemill worker`."))]
      : workers.map((w) => h("tr", null,
          h("td", { class: "mono" }, w.worker),
          h("td", null, `${w.hostname} (pid ${w.pid})`),
          h("td", null, w.tags.join(", ")),
          h("td", null, time(w.started_at)),
          h("td", null, time(w.last_ping)),
          h("td", null, w.current_job_id ? h("a", { href: `/runs/${w.current_job_id}`, class: "mono" }, w.current_job_id.slice(0, 8)) : h("span", { class: "muted" }, "idle"))))));
  };
  main.append(
    h("div", { class: "page-head" }, h("h1", { tabindex: -1 }, "Workers"), h("button", { type: "button", onclick: () => void load() }, "Refresh")),
    h("div", { class: "table-wrap" }, h("table", null,
      h("thead", null, h("tr", null, ["Worker", "Host", "Tags", "Started", "Last ping", "Job"].map((c) => h("th", { scope: "col" }, c)))),
      body)),
  );
  await load();
  const timer = window.setInterval(() => void load().catch(() => {}), 5000);
  return () => window.clearInterval(timer);
};
