import { ApiError, signIn } from "../api";
import { h } from "../dom";
import type { Page } from "../router";

export const loginPage: Page = (main, _match, nav) => {
  document.title = "Sign in · Tidemill";
  const error = h("p", { class: "error-box", role: "alert", hidden: true });
  const user = h("input", { id: "login-username", name: "username", autocomplete: "username", required: true, autofocus: true });
  const password = h("input", { id: "login-password", name: "password", type: "password", autocomplete: "current-password", required: true });
  const button = h("button", { type: "submit", class: "primary" }, "Sign in");
  const form = h("form", { class: "card login", novalidate: true },
    h("h1", { tabindex: -1 }, "Sign in to Tidemill"),
    h("label", { for: "login-username" }, "Username"), user,
    h("label", { for: "login-password" }, "Password"), password,
    error, button);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    button.disabled = true;
    error.hidden = true;
    try {
      await signIn(user.value.trim(), password.value);
      const next = new URLSearchParams(location.search).get("next");
      nav(next && next.startsWith("/") && !next.startsWith("//") ? next : "/");
    } catch (e) {
      error.textContent = e instanceof ApiError && e.status === 401 ? "Wrong username or password." : (e as Error).message;
      error.hidden = false;
      password.select();
    } finally {
      button.disabled = false;
    }
  });
  main.append(h("div", { class: "login-wrap" }, form));
  user.focus();
};
