// The run form card of the script and flow pages: the form generated from a schema, Run
// (or Ctrl+Enter), and a refused run's field errors marked on the fields they name.
import { ApiError } from "./api";
import { h } from "./dom";
import type { Form } from "./form";

/** The card; `start` queues the run (its errors are shown, not thrown). `form` is read at
 * each submit because a page may swap the form (the script page's Re-run prefill). */
export function runForm(title: string, form: () => Form, start: (values: Record<string, unknown>) => Promise<void>): HTMLFormElement {
  const formError = h("div", { class: "error-box", role: "alert", hidden: true });
  const runButton = h("button", { type: "submit", class: "primary" }, "Run");
  const card = h("form", { class: "card run-form", novalidate: true, "aria-labelledby": "form-title" },
    h("h2", { id: "form-title" }, title),
    form().element, formError,
    h("div", { class: "actions" }, runButton, h("span", { class: "muted kbd-hint" }, "Ctrl+Enter")));
  card.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
      event.preventDefault();
      card.requestSubmit();
    }
  });
  card.addEventListener("submit", async (event) => {
    event.preventDefault();
    const current = form();
    formError.hidden = true;
    current.clearErrors();
    const values = current.values();
    if (values === null) {
      formError.textContent = "Fix the marked fields first.";
      formError.hidden = false;
      return;
    }
    runButton.disabled = true;
    try {
      await start(values);
    } catch (error) {
      const unmatched = error instanceof ApiError ? current.showErrors(error.fieldErrors) : [];
      formError.textContent = [(error as Error).message, ...unmatched].join(" — ");
      formError.hidden = false;
    } finally {
      runButton.disabled = false;
    }
  });
  return card;
}
