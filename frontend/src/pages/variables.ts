// Variables and resources: list, create, delete. Secret values are never fetched or shown.
import { del, encodePath, get, post, ws } from "../api";
import { h } from "../dom";
import type { Page } from "../router";
import { type Row, field, listCard, problem, text } from "./lists";

export const variablesPage: Page = async (main) => {
  document.title = "Variables and resources · Tidemill";
  const status = h("p", { role: "status", class: "muted" });
  const act = async (what: () => Promise<unknown>, done: string, reload: () => Promise<void>) => {
    try {
      await what();
      status.textContent = done;
      await reload();
    } catch (error) {
      status.textContent = problem(error);
    }
  };
  const remove = (kind: "variables" | "resources", reload: () => Promise<void>) => (r: Row) =>
    h("button", { type: "button", class: "small danger", "aria-label": `Delete ${r.path}`,
      onclick: () => confirm(`Delete ${r.path}?`) && void act(() => del(ws(`${kind}/delete/${encodePath(String(r.path))}`)), `${r.path} deleted.`, reload) }, "Delete");

  const variables = listCard("Variables", () => get<Row[]>(ws("variables/list")), [
    ["Path", (r) => h("span", { class: "mono" }, String(r.path))],
    ["Value", (r) => (r.is_secret ? h("span", { class: "muted" }, "secret") : text("value")(r))],
    ["Description", text("description")],
    ["", (r) => remove("variables", variables.reload)(r)],
  ]);
  const resources = listCard("Resources", () => get<Row[]>(ws("resources/list")), [
    ["Path", (r) => h("span", { class: "mono" }, String(r.path))],
    ["Type", text("resource_type")],
    ["Description", text("description")],
    ["", (r) => remove("resources", resources.reload)(r)],
  ]);

  const vPath = h("input", { class: "mono", placeholder: "f/folder/api_key" });
  const vValue = h("input", { type: "password", autocomplete: "off" });
  const vSecret = h("input", { type: "checkbox", id: "variable-secret", checked: true });
  const vDescription = h("input");
  const vForm = h("form", { class: "card", novalidate: true, "aria-label": "New variable" },
    h("h2", null, "New variable"),
    field("variable-path", "Path", vPath), field("variable-value", "Value", vValue),
    h("div", { class: "check-row" }, vSecret, h("label", { for: "variable-secret" }, "Secret (encrypted, never shown again)")),
    field("variable-description", "Description", vDescription),
    h("div", { class: "actions" }, h("button", { type: "submit", class: "primary" }, "Create variable")));
  vSecret.addEventListener("change", () => (vValue.type = vSecret.checked ? "password" : "text"));
  vForm.addEventListener("submit", (event) => {
    event.preventDefault();
    void act(() => post(ws("variables/create"), {
      path: vPath.value.trim(), value: vValue.value, is_secret: vSecret.checked, description: vDescription.value.trim(),
    }), `${vPath.value.trim()} created.`, async () => {
      vValue.value = "";
      await variables.reload();
    });
  });

  const rPath = h("input", { class: "mono", placeholder: "f/folder/postgres" });
  const rType = h("input", { value: "object" });
  const rValue = h("textarea", { class: "mono", rows: 4, value: "{}" });
  const rDescription = h("input");
  const rForm = h("form", { class: "card", novalidate: true, "aria-label": "New resource" },
    h("h2", null, "New resource"),
    field("resource-path", "Path", rPath), field("resource-type", "Type", rType),
    field("resource-value", "Value (JSON)", rValue, "Stored encrypted; `$var:<path>` strings are filled from variables when read."),
    field("resource-description", "Description", rDescription),
    h("div", { class: "actions" }, h("button", { type: "submit", class: "primary" }, "Create resource")));
  rForm.addEventListener("submit", (event) => {
    event.preventDefault();
    let value: unknown;
    try {
      value = JSON.parse(rValue.value);
    } catch (error) {
      status.textContent = `Value: not valid JSON (${(error as Error).message})`;
      return;
    }
    void act(() => post(ws("resources/create"), {
      path: rPath.value.trim(), resource_type: rType.value.trim() || "object", value, description: rDescription.value.trim(),
    }), `${rPath.value.trim()} created.`, resources.reload);
  });

  main.append(h("div", { class: "page-head" }, h("h1", { tabindex: -1 }, "Variables and resources")), status);
  await Promise.all([variables.reload(), resources.reload()]);
  main.append(h("div", { class: "script-grid" },
    h("div", { class: "col" }, variables.element, resources.element),
    h("div", { class: "col" }, variables.available() ? vForm : null, resources.available() ? rForm : null)));
};
