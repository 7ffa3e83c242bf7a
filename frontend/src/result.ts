// A job's result: a table when it is a list of objects, a foldable JSON tree otherwise,
// and an error box with the script's message and stack when it failed.
import { h } from "./dom";

const MAX_ROWS = 500;

function isRecord(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === "object" && !Array.isArray(value);
}

function scalar(value: unknown): HTMLElement {
  const kind = value === null ? "null" : typeof value;
  return h("span", { class: `json-${kind}` }, typeof value === "string" ? JSON.stringify(value) : String(value));
}

/** A JSON tree of <details> elements: keyboard-usable and foldable without code. */
export function jsonTree(value: unknown, depth = 0): HTMLElement {
  if (value === null || typeof value !== "object") return scalar(value);
  const entries: [string, unknown][] = Array.isArray(value)
    ? value.map((v, i) => [String(i), v])
    : Object.entries(value as Record<string, unknown>);
  const open = Array.isArray(value) ? "[" : "{";
  const close = Array.isArray(value) ? "]" : "}";
  if (entries.length === 0) return h("span", { class: "json-empty" }, open + close);
  const details = h("details", { class: "json-node", open: depth < 2 },
    h("summary", null, `${open} ${entries.length} ${Array.isArray(value) ? "items" : "keys"} ${close}`));
  const list = h("ul", { class: "json-entries" });
  for (const [key, child] of entries) {
    list.append(h("li", null, h("span", { class: "json-key" }, Array.isArray(value) ? `${key}: ` : `${JSON.stringify(key)}: `), jsonTree(child, depth + 1)));
  }
  details.append(list);
  return details;
}

function cell(value: unknown): string {
  if (value === undefined) return "";
  if (typeof value === "string") return value;
  return JSON.stringify(value);
}

/** A list of objects as a table (columns: every key, in first-seen order). */
export function table(rows: Record<string, unknown>[]): HTMLElement {
  const columns: string[] = [];
  for (const row of rows.slice(0, MAX_ROWS)) for (const key of Object.keys(row)) if (!columns.includes(key)) columns.push(key);
  return h("div", { class: "table-wrap", tabindex: 0, role: "region", "aria-label": "Result table" },
    h("table", { class: "result-table" },
      h("thead", null, h("tr", null, columns.map((c) => h("th", { scope: "col" }, c)))),
      h("tbody", null, rows.slice(0, MAX_ROWS).map((row) => h("tr", null, columns.map((c) => h("td", null, cell(row[c]))))))),
    rows.length > MAX_ROWS ? h("p", { class: "muted" }, `First ${MAX_ROWS} of ${rows.length} rows.`) : null);
}

export function errorBox(error: { name?: string; message?: string; stack?: string }): HTMLElement {
  return h("div", { class: "error-box", role: "alert" },
    h("strong", null, error.name ?? "Error"), ": ", error.message ?? "",
    error.stack ? h("pre", { class: "stack" }, error.stack) : null);
}

/** The result panel for a completed job; `failed` results are `{error: {name, message, stack}}`. */
export function resultView(result: unknown, failed: boolean): HTMLElement {
  if (failed && isRecord(result) && isRecord(result.error)) return errorBox(result.error as { name?: string; message?: string; stack?: string });
  const asTable = Array.isArray(result) && result.length > 0 && result.every(isRecord);
  const panel = h("div", { class: "result" });
  const raw = h("pre", { class: "json-raw", hidden: true }, JSON.stringify(result, null, 2));
  const pretty = asTable ? table(result as Record<string, unknown>[]) : h("div", { class: "json-tree" }, jsonTree(result));
  const toggle = h("button", {
    type: "button",
    class: "small link",
    "aria-pressed": "false",
    onclick: () => {
      raw.hidden = !raw.hidden;
      pretty.hidden = !raw.hidden;
      toggle.setAttribute("aria-pressed", String(!raw.hidden));
    },
  }, "Raw JSON");
  const copy = h("button", {
    type: "button",
    class: "small link",
    onclick: () => void navigator.clipboard?.writeText(JSON.stringify(result, null, 2)),
  }, "Copy");
  panel.append(h("div", { class: "result-tools" }, toggle, copy), pretty, raw);
  return panel;
}
