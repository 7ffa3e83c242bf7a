// The flow editor: the OpenFlow document as YAML in CodeMirror, its graph previewed as you
// type, parse errors found here (the `yaml` package) and the server's save-time problems
// (`flows/validate`: a missing script, a duplicate id, a bad expression, ...) listed and
// marked on the graph. Save makes a new version.
import { ApiError, type Flow, encodePath, get, post, ws } from "../api";
import { append, h } from "../dom";
import { flowGraph, isObj } from "../flowgraph";
import type { Page } from "../router";
import { problem } from "./lists";

const TEMPLATE = `summary: Say hello, then shout it
description: ""
schema:
  type: object
  properties:
    name: {type: string, default: world}
value:
  modules:
    - id: hello
      value:
        type: rawscript
        language: python3
        content: |
          def main(name: str):
              return f"hello {name}"
        input_transforms:
          name: {type: javascript, expr: flow_input.name}
    - id: shout
      value:
        type: rawscript
        language: python3
        content: |
          def main(text: str):
              return text.upper() + "!"
        input_transforms:
          text: {type: javascript, expr: results.hello}
`;

interface Problem {
  where: string;
  message: string;
}

/** The step a server problem is about, from its message ("step 'x': ...", "duplicate step id 'x'"). */
function stepOf(message: string): string | null {
  return /step (?:id )?'([^']+)'/.exec(message)?.[1] ?? null;
}

export const flowEditPage: Page = async (main, match, nav) => {
  const existing = match[1] ? await get<Flow>(ws(`flows/get/${match[1]}`)) : null;
  document.title = `${existing ? `Edit ${existing.path}` : "New flow"} · Tidemill`;
  // the editor and the YAML parser are heavy: only this page loads them
  const [{ codeEditor }, YAML] = await Promise.all([import("../editor"), import("yaml")]);

  const path = h("input", { id: "flow-path", value: existing?.path ?? "", placeholder: "f/folder/name", spellcheck: false, class: "mono", required: true });
  const message = h("div", { role: "alert", class: "error-box", hidden: true });
  const save = h("button", { type: "button", class: "primary" }, "Save");
  const editorHost = h("div", { class: "editor-host" });
  const verdict = h("p", { class: "preview-verdict", role: "status" });
  const problems = h("ul", { class: "problems", "aria-label": "Problems" });
  const graphHost = h("div", { class: "graph-host" });

  const initial = existing
    ? YAML.stringify({ summary: existing.summary, description: existing.description, schema: existing.schema ?? undefined, value: existing.value }, { lineWidth: 0 })
    : TEMPLATE;

  const showProblems = (list: Problem[], stale: boolean) => {
    problems.replaceChildren(...list.map((p) => h("li", null, p.where ? [h("code", null, p.where), " "] : null, p.message)));
    graphHost.classList.toggle("stale", stale);
  };

  /** The document, or null after listing why it is not one. */
  const parse = (text: string): Record<string, unknown> | null => {
    const doc = YAML.parseDocument(text, { prettyErrors: true });
    if (doc.errors.length) {
      verdict.textContent = "The YAML does not parse.";
      showProblems(doc.errors.map((e) => ({
        where: e.linePos ? `line ${e.linePos[0].line}, column ${e.linePos[0].col}` : "",
        message: e.message.split("\n")[0].replace(/ at line \d+, column \d+:?$/, ""),
      })), true);
      return null;
    }
    const document: unknown = doc.toJS();
    if (!isObj(document) || !isObj(document.value) || !Array.isArray(document.value.modules)) {
      verdict.textContent = "Not a flow yet.";
      showProblems([{ where: "value.modules", message: "a flow needs `value: {modules: [...]}`, a list of steps" }], true);
      return null;
    }
    return document;
  };

  let graph = flowGraph({ modules: [] });
  let timer = 0;
  let sequence = 0;
  const refresh = () => {
    window.clearTimeout(timer);
    timer = window.setTimeout(async () => {
      const mine = ++sequence;
      const document = parse(editor.content());
      if (document === null) return;
      graph = flowGraph(document.value);
      graphHost.replaceChildren(graph.element);
      verdict.textContent = "Checking…";
      showProblems([], false);
      try {
        const checked = await post<{ steps: number }>(ws("flows/validate"), { ...document, path: path.value.trim() || undefined });
        if (mine !== sequence) return;
        verdict.textContent = `No problems: ${checked.steps} step${checked.steps === 1 ? "" : "s"}.`;
      } catch (error) {
        if (mine !== sequence) return;
        const found = error instanceof ApiError ? error.fieldErrors : [];
        verdict.textContent = found.length ? `${found.length} problem${found.length === 1 ? "" : "s"}; a save would be refused.` : (error as Error).message;
        showProblems(found.map((d) => ({ where: d.path, message: d.message })), false);
        graph.setProblems(new Set(found.map((d) => stepOf(d.message)).filter((id): id is string => id !== null)));
      }
    }, 250);
  };

  const doSave = async () => {
    message.hidden = true;
    const document = parse(editor.content());
    const target = path.value.trim();
    if (document === null) {
      message.textContent = "Fix the YAML first: see the problems beside the editor.";
      message.hidden = false;
      return;
    }
    save.disabled = true;
    try {
      if (existing) await post(ws(`flows/update/${encodePath(existing.path)}`), document);
      else await post(ws("flows/create"), { ...document, path: target });
      nav(`/flows/${encodePath(existing?.path ?? target)}`);
    } catch (error) {
      message.textContent = problem(error);
      message.hidden = false;
      if (error instanceof ApiError && error.fieldErrors.some((d) => d.path === "path")) path.focus();
    } finally {
      save.disabled = false;
    }
  };
  save.addEventListener("click", () => void doSave());
  path.addEventListener("change", refresh);

  const editor = codeEditor(editorHost, {
    content: initial,
    language: "yaml",
    label: "Flow YAML",
    onChange: refresh,
    onSave: () => void doSave(),
  });
  if (existing) path.readOnly = true;

  append(main,
    h("div", { class: "page-head" },
      h("h1", { tabindex: -1 }, existing ? `Edit ${existing.path}` : "New flow"),
      h("div", { class: "actions" },
        existing ? h("a", { href: `/flows/${encodePath(existing.path)}`, class: "button" }, "Open") : null,
        save, h("span", { class: "muted kbd-hint" }, "Ctrl+S"))),
    message,
    h("div", { class: "meta-grid" }, h("div", null, h("label", { for: "flow-path" }, "Path"), path)),
    h("div", { class: "editor-grid" },
      h("section", { "aria-label": "Source" }, editorHost,
        h("p", { class: "muted small" }, "Windmill's OpenFlow: ", h("code", null, "summary"), ", ", h("code", null, "description"), ", ",
          h("code", null, "schema"), " (the run form), ", h("code", null, "value.modules"), " (the steps). See docs/flows.md.")),
      h("section", { class: "card preview", "aria-labelledby": "preview-title" },
        h("h2", { id: "preview-title" }, "Preview"), verdict, problems, graphHost)),
  );
  refresh();
  if (!existing) path.focus();
  return () => {
    window.clearTimeout(timer);
    editor.view.destroy();
  };
};
