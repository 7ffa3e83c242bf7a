// CodeMirror 6 with the script language's highlighting (or YAML, for flows), and a
// read-only diff view.
import { javascript } from "@codemirror/lang-javascript";
import { python } from "@codemirror/lang-python";
import { yaml } from "@codemirror/lang-yaml";
import { StreamLanguage } from "@codemirror/language";
import { shell } from "@codemirror/legacy-modes/mode/shell";
import { unifiedMergeView } from "@codemirror/merge";
import { Compartment, EditorState, type Extension } from "@codemirror/state";
import { EditorView, keymap } from "@codemirror/view";
import { basicSetup } from "codemirror";

function languageSupport(language: string): Extension {
  switch (language) {
    case "python3":
      return python();
    case "deno":
      return javascript({ typescript: true });
    case "bash":
      return StreamLanguage.define(shell);
    case "yaml":
      return yaml();
    default:
      return [];
  }
}

export interface CodeEditor {
  view: EditorView;
  content(): string;
  setLanguage(language: string): void;
}

export function codeEditor(
  parent: HTMLElement,
  options: { content: string; language: string; onChange(content: string): void; onSave(): void; label: string },
): CodeEditor {
  const language = new Compartment();
  const view = new EditorView({
    parent,
    state: EditorState.create({
      doc: options.content,
      extensions: [
        keymap.of([{ key: "Mod-s", preventDefault: true, run: () => (options.onSave(), true) }]),
        basicSetup,
        language.of(languageSupport(options.language)),
        EditorView.contentAttributes.of({ "aria-label": options.label }),
        EditorView.updateListener.of((update) => {
          if (update.docChanged) options.onChange(update.state.doc.toString());
        }),
      ],
    }),
  });
  return {
    view,
    content: () => view.state.doc.toString(),
    setLanguage: (name) => view.dispatch({ effects: language.reconfigure(languageSupport(name)) }),
  };
}

/** `content` with the changes from `previous` marked inline (read-only). */
export function diffView(parent: HTMLElement, previous: string, content: string, languageName: string): EditorView {
  return new EditorView({
    parent,
    state: EditorState.create({
      doc: content,
      extensions: [
        basicSetup,
        languageSupport(languageName),
        EditorState.readOnly.of(true),
        EditorView.editable.of(false),
        unifiedMergeView({ original: previous, mergeControls: false, gutter: true, collapseUnchanged: { margin: 3, minSize: 4 } }),
      ],
    }),
  });
}
