// All jobs, newest first: filtered by status, script (or folder) and time on the server,
// a page at a time. The filters live in the URL, so a filtered list can be shared.
import { ApiError, type Job, encodePath, get, ws } from "../api";
import { duration, h, statusBadge, time } from "../dom";
import type { Page } from "../router";

const PER_PAGE = 50;
const STATUSES = ["queued", "running", "success", "failure", "canceled"];
const SINCE: [string, string, number][] = [
  ["", "Any time", 0],
  ["1h", "Last hour", 3_600_000],
  ["24h", "Last 24 hours", 86_400_000],
  ["7d", "Last 7 days", 604_800_000],
  ["range", "Between…", 0],
];

/** `datetime-local` value (local time, no zone) → ISO 8601 in UTC; "" when empty. */
function localToIso(value: string): string {
  return value ? new Date(value).toISOString() : "";
}

export const runsPage: Page = async (main) => {
  document.title = "Runs · Tidemill";
  const params = new URLSearchParams(location.search);
  const status = h("select", { id: "runs-status" }, h("option", { value: "" }, "Any status"), STATUSES.map((s) => h("option", { value: s }, s)));
  status.value = params.get("status") ?? "";
  const path = h("input", {
    id: "runs-path", type: "search", class: "mono", placeholder: "f/folder/name or f/folder/",
    value: params.get("path") ?? "", "aria-describedby": "runs-path-help",
  });
  const since = h("select", { id: "runs-since" }, SINCE.map(([value, name]) => h("option", { value }, name)));
  since.value = params.get("since") ?? (params.get("after") || params.get("before") ? "range" : "");
  const after = h("input", { id: "runs-after", type: "datetime-local", step: 1, value: params.get("after") ?? "" });
  const before = h("input", { id: "runs-before", type: "datetime-local", step: 1, value: params.get("before") ?? "" });
  const range = h("div", { class: "filters range" },
    h("label", { for: "runs-after" }, "From"), after,
    h("label", { for: "runs-before" }, "Until"), before);
  let page = Number(params.get("page") ?? "1") || 1;
  const body = h("tbody");
  const note = h("span", { class: "muted", role: "status" });
  const error = h("p", { class: "error-box", role: "alert", hidden: true });
  const older = h("button", { type: "button", class: "small" }, "Older");
  const newer = h("button", { type: "button", class: "small" }, "Newer");

  const load = async () => {
    range.hidden = since.value !== "range";
    const query = new URLSearchParams();
    const wanted = path.value.trim();
    if (wanted.endsWith("/")) query.set("script_path_start", wanted);
    else if (wanted) query.set("script_path_exact", wanted);
    if (status.value) query.set("status", status.value);
    const window_ = SINCE.find(([value]) => value === since.value)?.[2] ?? 0;
    if (window_) query.set("created_after", new Date(Date.now() - window_).toISOString());
    if (since.value === "range") {
      if (after.value) query.set("created_after", localToIso(after.value));
      if (before.value) query.set("created_before", localToIso(before.value));
    }
    error.hidden = true;
    let jobs: Job[];
    try {
      jobs = await fetchPage(query, page);
    } catch (err) {
      error.textContent = err instanceof ApiError ? err.message : String(err);
      error.hidden = false;
      return;
    }
    const more = jobs.length > PER_PAGE;
    const shown = jobs.slice(0, PER_PAGE);
    body.replaceChildren(...(shown.length === 0
      ? [h("tr", null, h("td", { colspan: 6, class: "muted" }, "No runs match."))]
      : shown.map((j) => h("tr", null,
          h("td", null, statusBadge(j.status)),
          h("td", null, h("a", { href: `/scripts/${encodePath(j.script_path)}`, class: "mono" }, j.script_path)),
          h("td", null, time(j.created_at)),
          h("td", null, duration(j.duration_ms)),
          h("td", null, j.created_by),
          h("td", null, h("a", { href: `/runs/${j.id}`, class: "mono", "aria-label": `Run ${j.id.slice(0, 8)}` }, j.id.slice(0, 8)))))));
    note.textContent = `Page ${page}`;
    newer.disabled = page <= 1;
    older.disabled = !more;
    const url = new URL(location.href);
    url.search = "";
    for (const [key, el] of [["status", status], ["path", path], ["since", since]] as const) if (el.value.trim()) url.searchParams.set(key, el.value.trim());
    if (since.value === "range") {
      if (after.value) url.searchParams.set("after", after.value);
      if (before.value) url.searchParams.set("before", before.value);
    }
    if (page > 1) url.searchParams.set("page", String(page));
    history.replaceState(null, "", url);
  };
  const reset = () => {
    page = 1;
    void load();
  };
  for (const el of [status, since, path, after, before]) el.addEventListener("change", reset);
  older.addEventListener("click", () => { page += 1; void load(); });
  newer.addEventListener("click", () => { page = Math.max(1, page - 1); void load(); });

  main.append(
    h("div", { class: "page-head" }, h("h1", { tabindex: -1 }, "Runs"),
      h("button", { type: "button", onclick: () => void load() }, "Refresh")),
    h("div", { class: "filters", role: "search", "aria-label": "Filter runs" },
      h("label", { for: "runs-status" }, "Status"), status,
      h("label", { for: "runs-path" }, "Script"), path,
      h("label", { for: "runs-since" }, "Created"), since),
    h("p", { class: "help", id: "runs-path-help" }, "A script's path, or a folder ending with “/”."),
    range,
    error,
    h("div", { class: "table-wrap" }, h("table", null,
      h("thead", null, h("tr", null, ["Status", "Script", "Created", "Duration", "By", "Job"].map((c) => h("th", { scope: "col" }, c)))),
      body)),
    h("div", { class: "actions pager" }, newer, note, older),
  );
  await load();
};

/** Page `page` of PER_PAGE jobs, plus the next page's first job when there is one. */
async function fetchPage(filters: URLSearchParams, page: number): Promise<Job[]> {
  const current = new URLSearchParams(filters);
  current.set("per_page", String(PER_PAGE));
  current.set("page", String(page));
  // with per_page=1, page k is the job at offset k-1: the one just after this page
  const probe = new URLSearchParams(filters);
  probe.set("per_page", "1");
  probe.set("page", String(page * PER_PAGE + 1));
  const [rows, next] = await Promise.all([get<Job[]>(ws(`jobs/list?${current}`)), get<Job[]>(ws(`jobs/list?${probe}`))]);
  return [...rows, ...next];
}
