// A script's page: its form, Run, the live run, recent runs, how to call it, its schedules.
import { type Job, type Script, encodePath, get, missingRoute, post, ws } from "../api";
import { append, duration, h, statusBadge, time } from "../dom";
import { buildForm } from "../form";
import type { Page } from "../router";
import { runForm } from "../runform";
import { type RunView, runView } from "../runview";
import { followForm, webhookCard } from "../webhook";

function decodePath(raw: string): string {
  return raw.split("/").map(decodeURIComponent).join("/");
}

function recentRuns(path: string): { element: HTMLElement; reload(): Promise<void> } {
  const body = h("tbody");
  const section = h("section", { class: "card", "aria-labelledby": "recent-runs" },
    h("h2", { id: "recent-runs" }, "Recent runs"),
    h("div", { class: "table-wrap" }, h("table", null,
      h("thead", null, h("tr", null, ["Status", "Started", "Duration", "By", "Job"].map((c) => h("th", { scope: "col" }, c)))),
      body)),
    h("a", { href: `/runs?path=${encodeURIComponent(path)}` }, "All runs of this script"));
  const load = async () => {
    const jobs = await get<Job[]>(ws(`jobs/list?script_path_exact=${encodeURIComponent(path)}&per_page=10`));
    body.replaceChildren(...(jobs.length === 0
      ? [h("tr", null, h("td", { colspan: 5, class: "muted" }, "No runs yet."))]
      : jobs.map((j) => h("tr", null,
          h("td", null, statusBadge(j.status)),
          h("td", null, time(j.started_at ?? j.created_at)),
          h("td", null, duration(j.duration_ms)),
          h("td", null, j.created_by),
          h("td", null, h("a", { href: `/runs/${j.id}`, class: "mono" }, j.id.slice(0, 8)))))));
  };
  void load();
  return { element: section, reload: load };
}

function schedules(path: string): HTMLElement {
  const body = h("div", null, h("p", { class: "muted" }, "Loading…"));
  const section = h("section", { class: "card", "aria-labelledby": "schedules" }, h("h2", { id: "schedules" }, "Schedules"), body);
  get<{ path: string; schedule: string; timezone?: string; enabled: boolean; script_path: string }[]>(
    ws(`schedules/list?script_path=${encodeURIComponent(path)}`),
  ).then(
    (all) => {
      const mine = all.filter((s) => s.script_path === path);
      body.replaceChildren(mine.length === 0
        ? h("p", { class: "muted" }, "No schedules run this script.")
        : h("ul", null, mine.map((s) => h("li", null, h("code", null, s.schedule), ` ${s.timezone ?? ""} `, s.enabled ? "" : "(disabled) ", h("span", { class: "muted" }, s.path)))));
    },
    (error) => body.replaceChildren(h("p", { class: "muted" }, missingRoute(error) ? "Schedules are coming soon." : (error as Error).message)),
  );
  return section;
}

export const scriptPage: Page = async (main, match) => {
  const path = decodePath(match[1]);
  document.title = `${path} · Tidemill`;
  const script = await get<Script>(ws(`scripts/get/p/${encodePath(path)}`));
  let form = buildForm(script.schema);
  const runArea = h("div", { class: "run-area" });
  const runs = recentRuns(path);
  let current: RunView | null = null;

  const formEl = runForm("Arguments", () => form, async (values) => {
    const id = await post<string>(ws(`jobs/run/h/${script.hash}`), values);
    current?.close();
    current = runView(id, () => void runs.reload());
    runArea.replaceChildren(current.element);
  });

  const rerunFrom = new URLSearchParams(location.search).get("args");
  if (rerunFrom) {
    const job = await get<Job>(ws(`jobs_u/get/${rerunFrom}`)).catch(() => null);
    if (job) {
      const replacement = buildForm(script.schema, job.args);
      form.element.replaceWith(replacement.element);
      form = replacement;
    }
  }

  const webhook = webhookCard({ path: script.path, flow: false, scope: `run:${script.path}` }, () => form.values(false));
  const unfollow = followForm(formEl, webhook.refresh);

  append(main,
    h("div", { class: "page-head" },
      h("div", null,
        h("h1", { tabindex: -1, class: "mono" }, script.path),
        script.summary ? h("p", { class: "summary" }, script.summary) : null),
      h("div", { class: "actions" },
        h("span", { class: `lang lang-${script.language}` }, script.language),
        h("a", { href: `/edit/${encodePath(script.path)}`, class: "button" }, "Edit"))),
    script.description ? h("p", { class: "description" }, script.description) : null,
    script.warnings.length ? h("ul", { class: "warnings", "aria-label": "Schema warnings" }, script.warnings.map((w) => h("li", null, w))) : null,
    h("div", { class: "script-grid" },
      h("div", { class: "col" }, formEl, runArea),
      h("div", { class: "col" }, runs.element, webhook.element, schedules(path))),
    h("p", { class: "muted small" }, `Version ${script.hash.slice(0, 12)} · saved by ${script.created_by} ${time(script.created_at)}`),
  );
  return () => {
    unfollow();
    current?.close();
  };
};
