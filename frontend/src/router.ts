// History-API routing: a table of path patterns to pages; links navigate without reloads.

export type Cleanup = () => void;
export type Navigate = (url: string, replace?: boolean) => void;
export type Page = (
  main: HTMLElement,
  match: RegExpMatchArray,
  navigate: Navigate,
) => void | Cleanup | Promise<void | Cleanup>;

export interface Route {
  pattern: RegExp;
  page: Page;
  /** Reachable without signing in. */
  public?: boolean;
}

export function router(
  routes: Route[],
  main: HTMLElement,
  options: { signedIn(): boolean; notFound: Page; onError(main: HTMLElement, error: unknown): void; onRender(): void },
): Navigate {
  let cleanup: Cleanup | void;
  let generation = 0;

  const render = async () => {
    const mine = ++generation;
    cleanup?.();
    cleanup = undefined;
    main.replaceChildren();
    main.setAttribute("aria-busy", "true");
    const route = routes.find((r) => r.pattern.test(location.pathname));
    if (!route?.public && !options.signedIn()) {
      navigate(`/login?next=${encodeURIComponent(location.pathname + location.search)}`, true);
      return;
    }
    options.onRender();
    try {
      const match = route ? location.pathname.match(route.pattern)! : ([] as unknown as RegExpMatchArray);
      const result = await (route ? route.page : options.notFound)(main, match, navigate);
      if (mine !== generation) {
        if (result) result();
        return;
      }
      cleanup = result;
    } catch (error) {
      if (mine === generation) options.onError(main, error);
    } finally {
      if (mine === generation) main.removeAttribute("aria-busy");
    }
    if (mine === generation && !main.contains(document.activeElement)) {
      main.querySelector<HTMLElement>("h1")?.focus({ preventScroll: true });
    }
  };

  const navigate = (url: string, replace = false) => {
    if (replace) history.replaceState(null, "", url);
    else history.pushState(null, "", url);
    window.scrollTo(0, 0);
    void render();
  };

  document.addEventListener("click", (event) => {
    const link = (event.target as Element).closest?.("a");
    if (!link || event.defaultPrevented || event.button !== 0) return;
    if (event.metaKey || event.ctrlKey || event.shiftKey || event.altKey || link.target || link.hasAttribute("download")) return;
    const url = new URL(link.href, location.href);
    if (url.origin !== location.origin || url.pathname.startsWith("/api/")) return;
    event.preventDefault();
    navigate(url.pathname + url.search);
  });
  window.addEventListener("popstate", () => void render());
  void render();
  return navigate;
}
