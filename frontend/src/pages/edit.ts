// The editor: CodeMirror 6, the form previewed as you type, Save makes a new version,
// and the version list with a diff to the previous version.
import { ApiError, type JsonSchema, type Script, encodePath, get, missingRoute, post, ws } from "../api";
import { append, h, time } from "../dom";
import { buildForm } from "../form";
import type { Page } from "../router";
import { problem } from "./lists";

const TEMPLATES: Record<string, string> = {
  python3: `def main(name: str = "world", times: int = 1):
    """Say hello.

    Args:
        name: Who to greet.
        times: How many times.
    """
    for _ in range(times):
        print(f"hello {name}")
    return {"greeting": f"hello {name}"}
`,
  deno: `export async function main(name: string = "world", times: number = 1) {
  for (let i = 0; i < times; i++) console.log(\`hello \${name}\`);
  return { greeting: \`hello \${name}\` };
}
`,
  bash: `name="\${1:-world}"
echo "hello $name"
`,
};

interface Preview {
  schema: JsonSchema;
  warnings: string[];
  summary: string | null;
}

interface Version {
  script_hash: string;
  summary: string;
  created_by: string;
  created_at: string;
}

/** The path's versions, newest first, each with a button showing its diff to the one before. */
function versions(script: Script): HTMLElement {
  const body = h("div", null, h("p", { class: "muted" }, "Loading…"));
  const diff = h("div", { class: "diff", "aria-live": "polite" });
  const section = h("section", { class: "card", "aria-labelledby": "versions" }, h("h2", { id: "versions" }, "Versions"), body, diff);
  const show = async (version: Version, previous: Version, button: HTMLButtonElement) => {
    button.disabled = true;
    try {
      const [a, b] = await Promise.all([
        get<Script>(ws(`scripts/get/h/${previous.script_hash}`)),
        get<Script>(ws(`scripts/get/h/${version.script_hash}`)),
      ]);
      const { diffView } = await import("../editor");
      diff.replaceChildren(h("h3", { id: "diff-title" }, `Changes in ${version.script_hash.slice(0, 12)} since ${previous.script_hash.slice(0, 12)}`));
      const host = h("div", { role: "region", "aria-labelledby": "diff-title" });
      diff.append(host);
      diffView(host, a.content, b.content, b.language);
    } catch (error) {
      diff.replaceChildren(h("p", { class: "error-box", role: "alert" }, (error as Error).message));
    } finally {
      button.disabled = false;
    }
  };
  get<Version[]>(ws(`scripts/history/p/${encodePath(script.path)}`)).then(
    (history) => {
      body.replaceChildren(h("ol", { class: "versions" }, history.map((v, i) => {
        const previous = history[i + 1];
        const button = previous
          ? h("button", { type: "button", class: "small", "aria-label": `Diff ${v.script_hash.slice(0, 12)} to the previous version` }, "Diff to previous")
          : null;
        button?.addEventListener("click", () => void show(v, previous, button));
        return h("li", null,
          h("code", null, v.script_hash.slice(0, 12)), " ",
          h("span", { class: "muted" }, `${time(v.created_at)} by ${v.created_by}`),
          i === 0 ? h("strong", null, " (current)") : null,
          v.summary ? h("span", null, ` — ${v.summary}`) : null, " ",
          button ?? h("span", { class: "muted" }, "(first version)"));
      })));
    },
    (error) => body.replaceChildren(h("p", { class: "error-box", role: "alert" }, (error as Error).message)),
  );
  return section;
}

export const editPage: Page = async (main, match, nav) => {
  const existing = match[1] ? await get<Script>(ws(`scripts/get/p/${match[1]}`)) : null;
  document.title = `${existing ? `Edit ${existing.path}` : "New script"} · Tidemill`;
  const path = h("input", { id: "script-path", value: existing?.path ?? "", placeholder: "f/folder/name", spellcheck: false, class: "mono", required: true });
  const language = h("select", { id: "script-language" },
    h("option", { value: "python3" }, "Python"), h("option", { value: "deno" }, "TypeScript (Deno)"), h("option", { value: "bash" }, "Bash"));
  language.value = existing?.language ?? "python3";
  const summary = h("input", { id: "script-summary", value: existing?.summary ?? "" });
  const description = h("textarea", { id: "script-description", rows: 2, value: existing?.description ?? "" });
  const message = h("div", { role: "alert", class: "error-box", hidden: true });
  const save = h("button", { type: "button", class: "primary" }, "Save");
  const editorHost = h("div", { class: "editor-host" });
  const previewBody = h("div", { class: "preview-body" });
  const previewNote = h("div", { class: "preview-note", role: "status" });

  let lastPreview: Preview | null = existing ? { schema: existing.schema, warnings: existing.warnings, summary: existing.summary } : null;
  const showPreview = (preview: Preview) => {
    previewBody.replaceChildren(
      preview.warnings.length ? h("ul", { class: "warnings" }, preview.warnings.map((w) => h("li", null, w))) : "",
      buildForm(preview.schema).element,
    );
  };
  if (lastPreview) showPreview(lastPreview);

  let timer = 0;
  let sequence = 0;
  const refresh = () => {
    window.clearTimeout(timer);
    timer = window.setTimeout(async () => {
      const mine = ++sequence;
      try {
        const preview = await post<Preview>(ws("scripts/preview_schema"), { language: language.value, content: editor.content() });
        if (mine !== sequence) return;
        lastPreview = preview;
        previewNote.textContent = "";
        previewBody.classList.remove("stale");
        showPreview(preview);
      } catch (error) {
        if (mine !== sequence) return;
        previewNote.textContent = missingRoute(error) ? "Save to see the form." : (error as Error).message;
        previewBody.classList.add("stale");
      }
    }, 250);
  };

  const doSave = async () => {
    message.hidden = true;
    save.disabled = true;
    try {
      await post(ws("scripts/create"), {
        path: path.value.trim(),
        language: language.value,
        content: editor.content(),
        summary: summary.value.trim() || null,
        description: description.value.trim() || null,
      });
      nav(`/scripts/${encodePath(path.value.trim())}`);
    } catch (error) {
      message.textContent = problem(error);
      message.hidden = false;
      if (error instanceof ApiError && error.fieldErrors.some((d) => d.path === "path")) path.focus();
    } finally {
      save.disabled = false;
    }
  };
  save.addEventListener("click", () => void doSave());

  // CodeMirror is most of the bundle's weight: only this page loads it
  const { codeEditor } = await import("../editor");
  const editor = codeEditor(editorHost, {
    content: existing?.content ?? TEMPLATES[language.value],
    language: language.value,
    label: "Script source",
    onChange: refresh,
    onSave: () => void doSave(),
  });
  language.addEventListener("change", () => {
    editor.setLanguage(language.value);
    const current = editor.content();
    if (!existing && Object.values(TEMPLATES).includes(current)) {
      editor.view.dispatch({ changes: { from: 0, to: current.length, insert: TEMPLATES[language.value] } });
    }
    refresh();
  });
  if (!existing) refresh();

  append(main,
    h("div", { class: "page-head" },
      h("h1", { tabindex: -1 }, existing ? `Edit ${existing.path}` : "New script"),
      h("div", { class: "actions" },
        existing ? h("a", { href: `/scripts/${encodePath(existing.path)}`, class: "button" }, "Open") : null,
        save, h("span", { class: "muted kbd-hint" }, "Ctrl+S"))),
    message,
    h("div", { class: "meta-grid" },
      h("div", null, h("label", { for: "script-path" }, "Path"), path),
      h("div", null, h("label", { for: "script-language" }, "Language"), language),
      h("div", null, h("label", { for: "script-summary" }, "Summary"), summary),
      h("div", { class: "wide" }, h("label", { for: "script-description" }, "Description"), description)),
    h("div", { class: "editor-grid" },
      h("section", { "aria-label": "Source" }, editorHost),
      h("section", { class: "card preview", "aria-labelledby": "preview-title" },
        h("h2", { id: "preview-title" }, "Form preview"), previewNote, previewBody)),
    existing ? versions(existing) : null,
  );
  if (!existing) path.focus();
  return () => {
    window.clearTimeout(timer);
    editor.view.destroy();
  };
};
