// All jobs, newest first: filter by status, script path and time; a page at a time.
import { type Job, get, ws } from "../api";
import { duration, h, statusBadge, time } from "../dom";
import type { Page } from "../router";

const PER_PAGE = 50;
const STATUSES = ["queued", "running", "success", "failure", "canceled"];
const SINCE: Record<string, number> = { "": 0, "1h": 3_600_000, "24h": 86_400_000, "7d": 604_800_000 };

export const runsPage: Page = async (main) => {
  document.title = "Runs · Tidemill";
  const params = new URLSearchParams(location.search);
  const status = h("select", { id: "runs-status" }, h("option", { value: "" }, "Any status"), STATUSES.map((s) => h("option", { value: s }, s)));
  status.value = params.get("status") ?? "";
  const path = h("input", { id: "runs-path", type: "search", class: "mono", placeholder: "f/folder/name", value: params.get("path") ?? "" });
  const since = h("select", { id: "runs-since" },
    h("option", { value: "" }, "Any time"), h("option", { value: "1h" }, "Last hour"),
    h("option", { value: "24h" }, "Last 24 hours"), h("option", { value: "7d" }, "Last 7 days"));
  since.value = params.get("since") ?? "";
  let page = Number(params.get("page") ?? "1") || 1;
  const body = h("tbody");
  const note = h("p", { class: "muted", role: "status" });
  const older = h("button", { type: "button", class: "small" }, "Older");
  const newer = h("button", { type: "button", class: "small" }, "Newer");

  const load = async () => {
    const query = new URLSearchParams({ page: String(page), per_page: String(PER_PAGE) });
    if (path.value.trim()) query.set("script_path_exact", path.value.trim());
    if (status.value === "running") query.set("running", "true");
    if (status.value === "success") query.set("success", "true");
    if (status.value === "failure" || status.value === "canceled") query.set("success", "false");
    if (status.value === "queued") query.set("running", "false");
    const jobs = await get<Job[]>(ws(`jobs/list?${query}`));
    const after = SINCE[since.value] ? Date.now() - SINCE[since.value] : 0;
    const shown = jobs.filter((j) => (!status.value || j.status === status.value) && new Date(j.created_at).getTime() >= after);
    body.replaceChildren(...(shown.length === 0
      ? [h("tr", null, h("td", { colspan: 6, class: "muted" }, "No runs match."))]
      : shown.map((j) => h("tr", null,
          h("td", null, statusBadge(j.status)),
          h("td", null, h("a", { href: `/scripts/${j.script_path}`, class: "mono" }, j.script_path)),
          h("td", null, time(j.created_at)),
          h("td", null, duration(j.duration_ms)),
          h("td", null, j.created_by),
          h("td", null, h("a", { href: `/runs/${j.id}`, class: "mono" }, j.id.slice(0, 8)))))));
    note.textContent = `Page ${page}`;
    newer.disabled = page <= 1;
    older.disabled = jobs.length < PER_PAGE;
    const url = new URL(location.href);
    url.search = "";
    for (const [key, el] of [["status", status], ["path", path], ["since", since]] as const) if (el.value.trim()) url.searchParams.set(key, el.value.trim());
    if (page > 1) url.searchParams.set("page", String(page));
    history.replaceState(null, "", url);
  };
  const reset = () => {
    page = 1;
    void load();
  };
  status.addEventListener("change", reset);
  since.addEventListener("change", reset);
  path.addEventListener("change", reset);
  older.addEventListener("click", () => { page += 1; void load(); });
  newer.addEventListener("click", () => { page = Math.max(1, page - 1); void load(); });

  main.append(
    h("div", { class: "page-head" }, h("h1", { tabindex: -1 }, "Runs"),
      h("button", { type: "button", onclick: () => void load() }, "Refresh")),
    h("div", { class: "filters" },
      h("label", { for: "runs-status" }, "Status"), status,
      h("label", { for: "runs-path" }, "Script"), path,
      h("label", { for: "runs-since" }, "Since"), since),
    h("div", { class: "table-wrap" }, h("table", null,
      h("thead", null, h("tr", null, ["Status", "Script", "Created", "Duration", "By", "Job"].map((c) => h("th", { scope: "col" }, c)))),
      body)),
    h("div", { class: "actions" }, newer, note, older),
  );
  await load();
};
