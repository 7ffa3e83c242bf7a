// The "Webhook" card of a script's or a flow's page: how to call it from outside.
import { encodePath, ws } from "./api";
import { h } from "./dom";

/** What the card is for: a script (`jobs/run/p/...`) or a flow (`jobs/run/f/...`). */
export interface WebhookTarget {
  path: string;
  flow: boolean;
  /** The token scope that runs this one target and nothing else. */
  scope: string;
}

function shellQuote(text: string): string {
  return `'${text.replaceAll("'", `'"'"'`)}'`;
}

/** The webhook URLs, the scope to give its token, and a curl line that follows the form's
 * values as they are typed (`refresh` re-reads them). */
export function webhookCard(target: WebhookTarget, args: () => Record<string, unknown> | null): { element: HTMLElement; refresh(): void } {
  const base = `${location.origin}${ws("jobs")}`;
  const route = `${target.flow ? "f" : "p"}/${encodePath(target.path)}`;
  const sync = `${base}/run_wait_result/${route}`;
  const async_ = `${base}/run/${route}`;
  const curl = h("pre", { class: "code curl", tabindex: 0, "aria-label": "curl command" });
  let last: Record<string, unknown> = {};
  const refresh = () => {
    last = args() ?? last; // while a field holds a bad value, keep the last good line
    curl.textContent = [
      `curl -X POST ${sync} \\`,
      `  -H "Authorization: Bearer $TIDEMILL_TOKEN" \\`,
      `  -H "Content-Type: application/json" \\`,
      `  -d ${shellQuote(JSON.stringify(last))}`,
    ].join("\n");
  };
  refresh();
  const copy = h("button", { type: "button", class: "small", onclick: () => void navigator.clipboard?.writeText(curl.textContent ?? "") }, "Copy curl");
  const element = h("section", { class: "card", "aria-labelledby": "webhook" },
    h("h2", { id: "webhook" }, "Webhook"),
    h("dl", { class: "facts" },
      h("dt", null, "Sync (answers the result)"), h("dd", null, h("code", { class: "url" }, sync)),
      h("dt", null, "Async (answers the job id)"), h("dd", null, h("code", { class: "url" }, async_))),
    h("p", { class: "muted" }, "With a token from ", h("a", { href: "/tokens" }, "Tokens"), ", scoped to ", h("code", null, target.scope), " for a webhook:"),
    h("p", { class: "help" }, "With the form's current values:"),
    curl,
    h("div", { class: "actions" }, copy));
  return { element, refresh };
}

/** Keep the card's curl line in step with a form: debounced, on every kind of edit. */
export function followForm(form: HTMLFormElement, refresh: () => void): () => void {
  let pending = 0;
  const follow = () => {
    window.clearTimeout(pending);
    pending = window.setTimeout(refresh, 150);
  };
  form.addEventListener("input", follow);
  form.addEventListener("change", follow);
  // rows added or removed change the values without an input event
  form.addEventListener("click", follow);
  return () => window.clearTimeout(pending);
}
