// What the Schedules and Variables pages share: a list with a delete button per row, a
// create form, and "coming soon" when the server does not have the API yet.
import { ApiError, missingRoute } from "../api";
import { h } from "../dom";

export type Row = Record<string, unknown>;
export type Column = [string, (row: Row) => Node | string];

export const text = (key: string) => (row: Row) =>
  row[key] === undefined || row[key] === null ? "" : String(row[key]);

export function problem(error: unknown): string {
  const details = error instanceof ApiError ? error.fieldErrors.map((d) => `${d.path}: ${d.message}`) : [];
  return [(error as Error).message, ...details].join(" — ");
}

/** A card listing `load()`'s rows; reload() refreshes it. */
export function listCard(title: string, load: () => Promise<Row[]>, columns: Column[]) {
  const body = h("div", null, h("p", { class: "muted" }, "Loading…"));
  const element = h("section", { class: "card", "aria-label": title }, h("h2", null, title), body);
  let available = true;
  const reload = async () => {
    try {
      const rows = await load();
      body.replaceChildren(rows.length === 0 ? h("p", { class: "muted" }, "None yet.") : h("div", { class: "table-wrap" }, h("table", null,
        h("thead", null, h("tr", null, columns.map(([c]) => h("th", { scope: "col" }, c)))),
        h("tbody", null, rows.map((r) => h("tr", null, columns.map(([, f]) => h("td", null, f(r)))))))));
    } catch (error) {
      available = !missingRoute(error);
      body.replaceChildren(h("p", { class: "muted" }, available ? problem(error) : `${title} are coming soon.`));
    }
  };
  return { element, reload, available: () => available };
}

/** A labelled input for create forms. */
export function field(id: string, label: string, control: HTMLElement, help?: string): HTMLElement[] {
  control.id = id;
  return [h("label", { for: id }, label), control, help ? h("div", { class: "help" }, help) : null].filter(Boolean) as HTMLElement[];
}
