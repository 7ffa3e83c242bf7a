// Tidemill's web UI: the pages, the navigation bar, and the router that ties them.
import "./style.css";
import { ApiError, setUnauthorizedHandler, signOut, token, username } from "./api";
import { h } from "./dom";
import { approvePage } from "./pages/approve";
import { editPage } from "./pages/edit";
import { flowPage } from "./pages/flow";
import { flowEditPage } from "./pages/flowedit";
import { flowsPage } from "./pages/flows";
import { loginPage } from "./pages/login";
import { runPage } from "./pages/run";
import { runsPage } from "./pages/runs";
import { scriptPage } from "./pages/script";
import { scriptsPage } from "./pages/scripts";
import { schedulesPage } from "./pages/schedules";
import { variablesPage } from "./pages/variables";
import { tokensPage } from "./pages/tokens";
import { workersPage } from "./pages/workers";
import { type Route, router } from "./router";

const routes: Route[] = [
  { pattern: /^\/login\/?$/, page: loginPage, public: true },
  { pattern: /^\/(?:scripts\/?)?$/, page: scriptsPage },
  { pattern: /^\/scripts\/(.+)$/, page: scriptPage },
  { pattern: /^\/edit(?:\/(.+))?\/?$/, page: editPage },
  { pattern: /^\/flows\/?$/, page: flowsPage },
  { pattern: /^\/flows\/edit(?:\/(.+))?\/?$/, page: flowEditPage },
  { pattern: /^\/flows\/(.+)$/, page: flowPage },
  // a suspended step's signed approval link: the signature is the credential
  { pattern: /^\/approve\/([^/]+)\/([0-9a-f-]+)\/(\d+)\/([0-9a-f]+)\/?$/, page: approvePage, public: true },
  { pattern: /^\/runs\/?$/, page: runsPage },
  { pattern: /^\/runs\/([0-9a-f-]+)\/?$/, page: runPage },
  { pattern: /^\/schedules\/?$/, page: schedulesPage },
  { pattern: /^\/variables\/?$/, page: variablesPage },
  { pattern: /^\/tokens\/?$/, page: tokensPage },
  { pattern: /^\/workers\/?$/, page: workersPage },
];

const NAV: [string, string][] = [
  ["/", "Scripts"],
  ["/flows", "Flows"],
  ["/runs", "Runs"],
  ["/schedules", "Schedules"],
  ["/variables", "Variables"],
  ["/tokens", "Tokens"],
  ["/workers", "Workers"],
];

const main = h("main", { id: "main", tabindex: -1 });
const nav = h("nav", { "aria-label": "Main" });
const who = h("span", { class: "who muted" });
const signOutButton = h("button", { type: "button", class: "small link" }, "Sign out");
const header = h("header", { class: "top" },
  h("a", { href: "#main", class: "skip" }, "Skip to content"),
  h("a", { href: "/", class: "brand" }, "Tidemill"),
  nav,
  h("div", { class: "user" }, who, signOutButton));
document.body.replaceChildren(header, main);

function updateChrome(): void {
  const signedIn = token() !== null && location.pathname !== "/login";
  header.classList.toggle("signed-out", !signedIn);
  who.textContent = signedIn ? username() : "";
  signOutButton.hidden = !signedIn;
  nav.replaceChildren(...(signedIn ? NAV.map(([href, name]) => {
    const active = href === "/" ? location.pathname === "/" || location.pathname.startsWith("/scripts") || location.pathname.startsWith("/edit") : location.pathname.startsWith(href);
    return h("a", { href, "aria-current": active ? "page" : undefined }, name);
  }) : []));
}

const navigate = router(routes, main, {
  signedIn: () => token() !== null,
  onRender: updateChrome,
  notFound: (el) => {
    document.title = "Not found · Tidemill";
    el.append(h("h1", { tabindex: -1 }, "Not found"), h("p", null, h("a", { href: "/" }, "Back to the scripts")));
  },
  onError: (el, error) => {
    const message = error instanceof ApiError ? `${error.message}` : String(error);
    el.append(h("h1", { tabindex: -1 }, error instanceof ApiError && error.status === 404 ? "Not found" : "Something went wrong"),
      h("p", { class: "error-box", role: "alert" }, message));
  },
});

setUnauthorizedHandler(() => {
  signOut();
  navigate(`/login?next=${encodeURIComponent(location.pathname + location.search)}`, );
});
signOutButton.addEventListener("click", () => {
  signOut();
  navigate("/login");
});
