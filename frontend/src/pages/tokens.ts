// Tokens: create one (label, scopes, expiry) and see it once; list yours and revoke them.
import { del, get, post, token as currentToken } from "../api";
import { h, time } from "../dom";
import type { Page } from "../router";
import { problem } from "./lists";

const EXPIRY: [string, number | null][] = [["Never", null], ["1 day", 86_400], ["30 days", 2_592_000], ["1 year", 31_536_000]];

interface TokenInfo {
  prefix: string;
  label: string;
  scopes: string[] | null;
  workspace: string | null;
  expires_at: string | null;
  created_at: string;
}

export const tokensPage: Page = async (main, _match, nav) => {
  document.title = "Tokens · Tidemill";
  const label = h("input", { id: "token-label", placeholder: "CI webhook" });
  const scopes = h("input", { id: "token-scopes", class: "mono", placeholder: "run:f/folder/name, run:*", "aria-describedby": "token-scopes-help" });
  const expiry = h("select", { id: "token-expiry" }, EXPIRY.map(([name], i) => h("option", { value: String(i) }, name)));
  const out = h("div", { role: "status" });
  const body = h("tbody");
  const listError = h("p", { class: "error-box", role: "alert", hidden: true });

  const load = async () => {
    const tokens = await get<TokenInfo[]>("/api/users/tokens/list");
    const mine = currentToken() ?? "";
    body.replaceChildren(...(tokens.length === 0
      ? [h("tr", null, h("td", { colspan: 6, class: "muted" }, "No tokens."))]
      : tokens.map((t) => {
          const session = t.prefix !== "" && mine.startsWith(t.prefix);
          const name = t.label || "(no label)";
          const revoke = h("button", {
            type: "button",
            class: "danger small",
            "aria-label": `Revoke ${name} (${t.prefix}…)`,
            onclick: async () => {
              const warning = session ? "\n\nThis is the token of this browser session: you will be signed out." : "";
              if (!window.confirm(`Revoke the token "${name}" (${t.prefix}…)? Whatever uses it stops working.${warning}`)) return;
              revoke.disabled = true;
              listError.hidden = true;
              try {
                await del(`/api/users/tokens/delete/${encodeURIComponent(t.prefix)}`);
                if (session) {
                  nav("/login");
                  return;
                }
                await load();
              } catch (error) {
                revoke.disabled = false;
                listError.textContent = (error as Error).message;
                listError.hidden = false;
              }
            },
          }, "Revoke");
          return h("tr", null,
            h("td", null, name, session ? h("span", { class: "muted" }, " (this session)") : null),
            h("td", null, h("code", null, `${t.prefix}…`)),
            h("td", null, t.scopes?.length ? t.scopes.map((s, i) => [i ? ", " : "", h("code", null, s)]) : h("span", { class: "muted" }, "all your rights")),
            h("td", null, t.expires_at ? time(t.expires_at) : h("span", { class: "muted" }, "never")),
            h("td", null, time(t.created_at)),
            h("td", null, t.prefix ? revoke : null));
        })));
  };

  const form = h("form", { class: "card", novalidate: true, "aria-labelledby": "new-token" },
    h("h2", { id: "new-token" }, "New token"),
    h("label", { for: "token-label" }, "Label"), label,
    h("label", { for: "token-scopes" }, "Scopes"), scopes,
    h("div", { class: "help", id: "token-scopes-help" }, "Comma-separated; empty means every right you have. For a webhook: ",
      h("code", null, "run:script/<path>"), " runs that one script, ",
      h("code", null, "run:flow/<path>"), " that one flow, ",
      h("code", null, "run:<path>"), " either at that path; each also reads those runs."),
    h("label", { for: "token-expiry" }, "Expires"), expiry,
    h("div", { class: "actions" }, h("button", { type: "submit", class: "primary" }, "Create token")),
    out);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const list = scopes.value.split(",").map((s) => s.trim()).filter(Boolean);
    try {
      const issued = await post<string>("/api/users/tokens/create", {
        label: label.value.trim(),
        scopes: list.length ? list : null,
        expires_in: EXPIRY[Number(expiry.value)][1],
      });
      out.replaceChildren(h("p", null, "Copy it now; it is not shown again:"),
        h("pre", { class: "code token", tabindex: 0, "aria-label": "New token" }, issued),
        h("button", { type: "button", class: "small", onclick: () => void navigator.clipboard?.writeText(issued) }, "Copy"));
      form.reset();
      await load();
    } catch (error) {
      out.replaceChildren(h("p", { class: "error-box", role: "alert" }, problem(error)));
    }
  });

  main.append(
    h("div", { class: "page-head" }, h("h1", { tabindex: -1 }, "Tokens")),
    form,
    h("section", { class: "card", "aria-labelledby": "your-tokens" },
      h("h2", { id: "your-tokens" }, "Your tokens"),
      h("p", { class: "muted" }, "Only the first characters of a token are kept readable; revoking one stops it at once."),
      listError,
      h("div", { class: "table-wrap" }, h("table", null,
        h("thead", null, h("tr", null, ["Label", "Token", "Scopes", "Expires", "Created", "Actions"].map((c) => h("th", { scope: "col" }, c === "Actions" ? h("span", { class: "sr-only" }, c) : c)))),
        body))),
  );
  await load();
};
