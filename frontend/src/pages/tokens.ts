// Tokens: create one (label, scopes, expiry) and see it once.
import { ApiError, get, missingRoute, post } from "../api";
import { h, time } from "../dom";
import type { Page } from "../router";

const EXPIRY: [string, number | null][] = [["Never", null], ["1 day", 86_400], ["30 days", 2_592_000], ["1 year", 31_536_000]];

export const tokensPage: Page = async (main) => {
  document.title = "Tokens · Tidemill";
  const label = h("input", { id: "token-label", placeholder: "CI webhook" });
  const scopes = h("input", { id: "token-scopes", class: "mono", placeholder: "run:f/folder/name, run:*" });
  const expiry = h("select", { id: "token-expiry" }, EXPIRY.map(([name], i) => h("option", { value: String(i) }, name)));
  const out = h("div", { role: "status" });
  const form = h("form", { class: "card", novalidate: true },
    h("h2", null, "New token"),
    h("label", { for: "token-label" }, "Label"), label,
    h("label", { for: "token-scopes" }, "Scopes"), scopes,
    h("div", { class: "help" }, "Comma-separated; empty means every right you have. ", h("code", null, "run:<path>"), " lets a webhook run one script."),
    h("label", { for: "token-expiry" }, "Expires"), expiry,
    h("div", { class: "actions" }, h("button", { type: "submit", class: "primary" }, "Create token")),
    out);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const list = scopes.value.split(",").map((s) => s.trim()).filter(Boolean);
    try {
      const token = await post<string>("/api/users/tokens/create", {
        label: label.value.trim(),
        scopes: list.length ? list : null,
        expires_in: EXPIRY[Number(expiry.value)][1],
      });
      out.replaceChildren(h("p", null, "Copy it now; it is not shown again:"), h("pre", { class: "code token", tabindex: 0 }, token),
        h("button", { type: "button", class: "small", onclick: () => void navigator.clipboard?.writeText(token) }, "Copy"));
    } catch (error) {
      const details = error instanceof ApiError ? error.fieldErrors.map((d) => `${d.path}: ${d.message}`) : [];
      out.replaceChildren(h("p", { class: "error-box", role: "alert" }, [(error as Error).message, ...details].join(" — ")));
    }
  });
  const existing = h("section", { class: "card" }, h("h2", null, "Your tokens"));
  main.append(h("div", { class: "page-head" }, h("h1", { tabindex: -1 }, "Tokens")), form, existing);
  try {
    const tokens = await get<{ label: string; token_prefix?: string; scopes?: string[] | null; expiration?: string | null; created_at?: string }[]>("/api/users/tokens/list");
    existing.append(tokens.length === 0 ? h("p", { class: "muted" }, "None.") : h("ul", null, tokens.map((t) =>
      h("li", null, t.label || "(no label)", " ", t.token_prefix ? h("code", null, `${t.token_prefix}…`) : null,
        t.scopes?.length ? ` ${t.scopes.join(", ")}` : "", t.expiration ? ` · expires ${time(t.expiration)}` : ""))));
  } catch (error) {
    existing.append(h("p", { class: "muted" }, missingRoute(error) ? "Listing and revoking tokens is coming soon." : (error as Error).message));
  }
};
