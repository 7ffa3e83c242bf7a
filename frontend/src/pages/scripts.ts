// Every script, with its summary, language and last run; search, and a folder filter.
import { type ScriptHead, encodePath, get, ws } from "../api";
import { append, h } from "../dom";
import { lastRunCell, lastRuns } from "../lastrun";
import type { Page } from "../router";

function folderOf(path: string): string {
  return path.split("/").slice(0, 2).join("/");
}

export const scriptsPage: Page = async (main) => {
  document.title = "Scripts · Tidemill";
  const [scripts, lastRun] = await Promise.all([
    get<ScriptHead[]>(ws("scripts/list")),
    lastRuns(false),
  ]);

  const folders = [...new Set(scripts.map((s) => folderOf(s.path)))].sort();
  const params = new URLSearchParams(location.search);
  const search = h("input", { type: "search", id: "script-search", placeholder: "Path or summary", value: params.get("q") ?? "" });
  const folder = h("select", { id: "script-folder" },
    h("option", { value: "" }, "All folders"),
    folders.map((f) => h("option", { value: f }, f)));
  folder.value = params.get("folder") ?? "";
  const body = h("tbody");
  const count = h("p", { class: "muted", role: "status" });

  const render = () => {
    const q = search.value.trim().toLowerCase();
    const shown = scripts.filter((s) =>
      (!folder.value || folderOf(s.path) === folder.value) &&
      (!q || s.path.toLowerCase().includes(q) || s.summary.toLowerCase().includes(q)));
    body.replaceChildren(...shown.map((s) => {
      const run = lastRun.get(s.path);
      return h("tr", null,
        h("td", null, h("a", { href: `/scripts/${encodePath(s.path)}`, class: "mono" }, s.path)),
        h("td", null, s.summary),
        h("td", null, h("span", { class: `lang lang-${s.language}` }, s.language)),
        lastRunCell(run, (r) => `/runs/${r.id}`));
    }));
    count.textContent = `${shown.length} of ${scripts.length} scripts`;
    const url = new URL(location.href);
    url.searchParams.delete("q");
    url.searchParams.delete("folder");
    if (q) url.searchParams.set("q", search.value.trim());
    if (folder.value) url.searchParams.set("folder", folder.value);
    history.replaceState(null, "", url);
  };
  search.addEventListener("input", render);
  folder.addEventListener("change", render);

  append(main,
    h("div", { class: "page-head" }, h("h1", { tabindex: -1 }, "Scripts"), h("a", { href: "/edit", class: "button primary" }, "New script")),
    scripts.length === 0
      ? h("p", { class: "empty" }, "No scripts yet. ", h("a", { href: "/edit" }, "Write the first one"), ".")
      : [
          h("div", { class: "filters" },
            h("label", { for: "script-search" }, "Search"), search,
            h("label", { for: "script-folder" }, "Folder"), folder),
          count,
          h("div", { class: "table-wrap" }, h("table", null,
            h("thead", null, h("tr", null, ["Path", "Summary", "Language", "Last run"].map((c) => h("th", { scope: "col" }, c)))),
            body)),
        ],
  );
  render();
};
