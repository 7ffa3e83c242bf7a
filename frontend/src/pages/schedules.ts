// Schedules: list (with the next fire time), create, enable/disable, delete.
import { ApiError, type Script, type ScriptHead, del, encodePath, get, post, ws } from "../api";
import { h, time } from "../dom";
import { type Form, buildForm } from "../form";
import type { Page } from "../router";
import { type Row, field, listCard, problem, text } from "./lists";

export const schedulesPage: Page = async (main) => {
  document.title = "Schedules · Tidemill";
  const status = h("p", { role: "status", class: "muted" });
  const act = async (what: () => Promise<unknown>, done: string) => {
    try {
      await what();
      status.textContent = done;
      await list.reload();
    } catch (error) {
      status.textContent = problem(error);
    }
  };
  const list = listCard("Schedules", () => get<Row[]>(ws("schedules/list")), [
    ["Path", text("path")],
    ["Cron", (r) => h("code", null, text("schedule")(r))],
    ["Timezone", text("timezone")],
    ["Script", (r) => h("a", { href: `/${r.is_flow ? "flows" : "scripts"}/${encodePath(String(r.script_path))}`, class: "mono" },
      String(r.script_path), r.is_flow ? " (flow)" : "")],
    ["Next", (r) => (Array.isArray(r.next_fires) && r.next_fires.length ? time(String(r.next_fires[0])) : "")],
    ["Enabled", (r) => {
      const box = h("input", { type: "checkbox", "aria-label": `Enabled: ${r.path}` });
      box.checked = Boolean(r.enabled);
      box.addEventListener("change", () => void act(
        () => post(ws(`schedules/setenabled/${encodePath(String(r.path))}`), { enabled: box.checked }),
        `${r.path} ${box.checked ? "enabled" : "disabled"}.`));
      return box;
    }],
    ["", (r) => h("button", { type: "button", class: "small danger", "aria-label": `Delete ${r.path}`,
      onclick: () => confirm(`Delete the schedule ${r.path}?`) && void act(() => del(ws(`schedules/delete/${encodePath(String(r.path))}`)), `${r.path} deleted.`) }, "Delete")],
  ]);

  const path = h("input", { class: "mono", placeholder: "f/folder/nightly", required: true });
  const cron = h("input", { class: "mono", placeholder: "0 0 3 * * *", required: true });
  const zone = h("input", { value: Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC" });
  const script = h("select", { required: true });
  // the arguments are the script's own generated form, as on its page
  const argsHost = h("div", { class: "schedule-args" });
  let args: Form | null = null;
  const loadArgs = async () => {
    args = null;
    argsHost.replaceChildren();
    if (!script.value) return;
    const chosen = await get<Script>(ws(`scripts/get/p/${encodePath(script.value)}`));
    if (chosen.path !== script.value) return; // another script was picked meanwhile
    args = buildForm(chosen.schema);
    argsHost.replaceChildren(args.element);
  };
  script.addEventListener("change", () => void loadArgs().catch((error) => (status.textContent = problem(error))));
  const form = h("form", { class: "card", novalidate: true, "aria-label": "New schedule" },
    h("h2", null, "New schedule"),
    field("schedule-path", "Path", path),
    field("schedule-cron", "Cron", cron, "5 fields (minute first) or 6 with seconds first."),
    field("schedule-timezone", "Timezone", zone),
    field("schedule-script", "Script", script),
    h("fieldset", { class: "field" }, h("legend", null, "Arguments"), argsHost),
    h("div", { class: "actions" }, h("button", { type: "submit", class: "primary" }, "Create schedule")));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    args?.clearErrors();
    const values = args ? args.values() : {};
    if (values === null) {
      status.textContent = "Arguments: fix the marked fields first.";
      return;
    }
    void act(async () => {
      try {
        await post(ws("schedules/create"), {
          path: path.value.trim(), schedule: cron.value.trim(), timezone: zone.value.trim() || "UTC",
          script_path: script.value, args: values, enabled: true,
        });
      } catch (error) {
        // details naming `args.<field>` go on the field itself
        if (error instanceof ApiError && args) {
          args.showErrors(error.fieldErrors.filter((d) => d.path.startsWith("args.")).map((d) => ({ ...d, path: d.path.slice(5) })));
        }
        throw error;
      }
    }, `${path.value.trim()} created.`);
  });

  main.append(h("div", { class: "page-head" }, h("h1", { tabindex: -1 }, "Schedules")), status, list.element);
  await list.reload();
  if (list.available()) {
    const scripts = await get<ScriptHead[]>(ws("scripts/list"));
    script.append(...scripts.map((s) => h("option", { value: s.path }, s.path)));
    main.append(form);
    await loadArgs().catch((error) => (status.textContent = problem(error)));
  }
};
