// A script's input schema (JSON Schema 2020-12) as a form: a labelled field per parameter.
//
// The kinds: enum -> select, boolean -> checkbox, integer/number -> numeric input,
// date/date-time -> pickers, arrays -> rows with add/remove, objects with properties ->
// fieldsets, anything else (dicts, unions, recursive types) -> a JSON text box.
// Values are checked here before submit; the server's 422 details land on the same fields.
import type { JsonSchema } from "./api";
import { h, uid } from "./dom";

const OMIT = Symbol("omit");
type Value = unknown;

interface Field {
  root: HTMLElement;
  /** The value, `OMIT` when an optional field is left empty; messages go on the field. */
  read(report: boolean): Value;
  focus(): void;
  showError(message: string): void;
  /** A child for a server error path segment (property name or array index). */
  child(segment: string): Field | undefined;
}

interface Options {
  name: string;
  required: boolean;
  /** Array items: no label of their own, always present. */
  item?: boolean;
  initial?: unknown;
  path: string;
}

export interface Form {
  element: HTMLElement;
  /** The arguments, or null after marking every invalid field (the first gets focus).
   * With `report` false nothing is marked: what is valid so far, e.g. for a curl line. */
  values(report?: boolean): Record<string, unknown> | null;
  /** Put a 422's `{path, message}` details on their fields; returns what matched no field. */
  showErrors(details: { path: string; message: string }[]): string[];
  clearErrors(): void;
}

/** Unwrap `anyOf [T, {type: null}]`. */
function unwrap(schema: JsonSchema): { schema: JsonSchema; nullable: boolean } {
  const options = schema.anyOf ?? schema.oneOf;
  if (options && options.length === 2) {
    const rest = options.filter((o) => o.type !== "null");
    if (rest.length === 1) {
      const inner = { ...rest[0] };
      if (schema.description && !inner.description) inner.description = schema.description;
      if ("default" in schema) inner.default = schema.default;
      return { schema: inner, nullable: true };
    }
  }
  return { schema, nullable: false };
}

function typeOf(schema: JsonSchema): string | undefined {
  return Array.isArray(schema.type) ? schema.type.find((t) => t !== "null") : schema.type;
}

type Kind = "enum" | "boolean" | "tristate" | "number" | "date" | "datetime" | "string" | "list" | "object" | "json";

function kindOf(schema: JsonSchema, nullable: boolean): Kind {
  if (schema.$ref) return "json";
  if (Array.isArray(schema.enum) && schema.enum.length > 0) return "enum";
  switch (typeOf(schema)) {
    case "boolean":
      return nullable && !("default" in schema) ? "tristate" : "boolean";
    case "integer":
    case "number":
      return "number";
    case "string":
      if (schema.format === "date") return "date";
      if (schema.format === "date-time") return "datetime";
      return "string";
    case "array":
      return schema.items && !schema.prefixItems && kindOf(unwrap(schema.items).schema, false) !== "json"
        ? "list"
        : "json";
    case "object":
      return schema.properties && Object.keys(schema.properties).length > 0 ? "object" : "json";
    default:
      return "json";
  }
}

function typeHint(schema: JsonSchema, kind: Kind): string {
  if (kind === "list") return `list of ${typeHint(unwrap(schema.items!).schema, kindOf(unwrap(schema.items!).schema, false))}`;
  if (kind === "enum") return "one of";
  if (kind === "json") return typeOf(schema) ?? "JSON";
  if (schema.contentEncoding === "base64") return "base64";
  return schema.format ?? typeOf(schema) ?? "";
}

/** The block every field shares: label, required mark, help, error line. */
function frame(opts: Options, schema: JsonSchema, kind: Kind, inputId: string) {
  const helpId = uid("help");
  const errorId = uid("err");
  const hintId = uid("hint");
  const error = h("div", { class: "field-error", id: errorId, role: "alert", hidden: true });
  const help = schema.description ? h("div", { class: "help", id: helpId }, schema.description) : null;
  const describedBy = [opts.item ? "" : hintId, help ? helpId : "", errorId].filter(Boolean).join(" ");
  // the label is the parameter's name alone; the type and the required mark sit beside it
  const label = opts.item
    ? null
    : h(
        "div",
        { class: "field-label" },
        h("label", { for: inputId, class: "name", id: `${inputId}-label` }, opts.name),
        opts.required ? h("span", { class: "req", "aria-hidden": "true", title: "required" }, "*") : null,
        h("span", { class: "hint", id: hintId }, typeHint(schema, kind)),
      );
  return {
    label,
    help,
    error,
    describedBy,
    show(message: string, control?: HTMLElement) {
      showMessage(error, message);
      control?.setAttribute("aria-invalid", message ? "true" : "false");
    },
  };
}

/** Show a field's message; a fixed one keeps its line until the next submit (`clearErrors`),
 * so fixing a field (its change fires on blur, as the user clicks Run) moves nothing under
 * the pointer and the click lands. */
function showMessage(error: HTMLElement, message: string): void {
  if (message) {
    error.textContent = message;
    error.hidden = false;
    error.classList.remove("fixed");
  } else if (!error.hidden) {
    error.textContent = "\u00a0";
    error.classList.add("fixed");
  }
}

function initialOf(opts: Options, schema: JsonSchema): unknown {
  return opts.initial !== undefined ? opts.initial : schema.default;
}

function pad(n: number): string {
  return String(n).padStart(2, "0");
}

/** An ISO date-time as the local time a datetime-local input shows. */
function toLocalInput(value: unknown): string {
  if (typeof value !== "string" || !value) return "";
  const d = new Date(value);
  if (Number.isNaN(d.getTime())) return "";
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

function inputField(schema: JsonSchema, kind: Kind, opts: Options): Field {
  const id = uid();
  const f = frame(opts, schema, kind, id);
  const initial = initialOf(opts, schema);
  let control: HTMLInputElement | HTMLTextAreaElement | HTMLSelectElement;
  const common = { id, name: opts.path, "aria-describedby": f.describedBy, "aria-required": opts.required ? "true" : undefined };
  const ariaLabel = opts.item ? `${opts.name}` : undefined;

  if (kind === "enum" || kind === "tristate") {
    const values = kind === "enum" ? schema.enum! : [true, false];
    const select = h("select", { ...common, "aria-label": ariaLabel });
    if (!opts.required || initial === undefined) select.append(h("option", { value: "" }, opts.required ? "— choose —" : "— none —"));
    values.forEach((v, i) => select.append(h("option", { value: String(i) }, typeof v === "string" ? v : JSON.stringify(v))));
    const at = values.findIndex((v) => JSON.stringify(v) === JSON.stringify(initial));
    select.value = at >= 0 ? String(at) : "";
    control = select;
  } else if (kind === "boolean") {
    const box = h("input", { ...common, type: "checkbox", "aria-label": ariaLabel });
    box.checked = initial === true;
    control = box;
  } else if (kind === "json") {
    const area = h("textarea", { ...common, rows: 3, spellcheck: false, class: "mono", "aria-label": ariaLabel });
    area.value = initial === undefined ? "" : JSON.stringify(initial, null, 2);
    control = area;
  } else {
    const type = { number: "number", date: "date", datetime: "datetime-local" }[kind as string] ?? "text";
    const integer = typeOf(schema) === "integer";
    const input = h("input", {
      ...common,
      type,
      step: kind === "number" ? (integer ? "1" : "any") : kind === "datetime" ? "1" : undefined,
      inputmode: kind === "number" ? (integer ? "numeric" : "decimal") : undefined,
      autocomplete: "off",
      "aria-label": ariaLabel,
    });
    if (kind === "datetime") input.value = toLocalInput(initial);
    else if (initial !== undefined && initial !== null) input.value = String(initial);
    control = input;
  }

  const read = (report: boolean): Value => {
    const message = (text: string): Value => {
      if (report) f.show(text, control);
      return OMIT;
    };
    if (report) f.show("", control);
    if (kind === "boolean") return (control as HTMLInputElement).checked;
    const raw = control.value;
    if (kind === "enum" || kind === "tristate") {
      if (raw === "") return opts.required ? message("Choose a value.") : OMIT;
      const values = kind === "enum" ? schema.enum! : [true, false];
      return values[Number(raw)];
    }
    if (raw.trim() === "" && !(kind === "string" && opts.item)) {
      if (kind === "number" && (control as HTMLInputElement).validity?.badInput) return message("Enter a number.");
      return opts.required ? message("Required.") : OMIT;
    }
    switch (kind) {
      case "number": {
        const n = Number(raw);
        if (!Number.isFinite(n)) return message("Enter a number.");
        if (typeOf(schema) === "integer" && !Number.isInteger(n)) return message("Enter a whole number (an integer).");
        if (schema.minimum !== undefined && n < schema.minimum) return message(`Must be at least ${schema.minimum}.`);
        if (schema.maximum !== undefined && n > schema.maximum) return message(`Must be at most ${schema.maximum}.`);
        return n;
      }
      case "datetime": {
        const d = new Date(raw);
        return Number.isNaN(d.getTime()) ? message("Enter a date and time.") : d.toISOString();
      }
      case "json":
        try {
          return JSON.parse(raw);
        } catch (e) {
          return message(`Not valid JSON: ${(e as Error).message}`);
        }
      default:
        if (schema.minLength !== undefined && raw.length < schema.minLength) return message(`At least ${schema.minLength} characters.`);
        if (schema.maxLength !== undefined && raw.length > schema.maxLength) return message(`At most ${schema.maxLength} characters.`);
        if (schema.pattern && !new RegExp(schema.pattern, "u").test(raw)) return message(`Must match ${schema.pattern}.`);
        return raw;
    }
  };
  control.addEventListener("change", () => read(true));

  const root =
    kind === "boolean" && !opts.item
      ? h("div", { class: "field field-check" }, h("div", { class: "check-row" }, control, f.label), f.help, f.error)
      : h("div", { class: `field field-${kind}` }, f.label, f.help, control, f.error);
  return {
    root,
    read,
    focus: () => control.focus(),
    showError: (m) => f.show(m, control),
    child: () => undefined,
  };
}

function listField(schema: JsonSchema, opts: Options): Field {
  const id = uid();
  const f = frame(opts, schema, "list", id);
  const items = unwrap(schema.items!);
  const rows = h("ol", { class: "rows", id, "aria-describedby": f.describedBy });
  const fields: Field[] = [];
  const addButton = h("button", { type: "button", class: "small" }, `Add ${opts.name} item`);

  const renumber = () => {
    fields.forEach((field, i) => {
      const remove = field.root.parentElement!.querySelector<HTMLButtonElement>(":scope > .remove");
      remove?.setAttribute("aria-label", `Remove ${opts.name} item ${i + 1}`);
    });
  };
  const add = (initial?: unknown, focus = false) => {
    const field = build(items.schema, items.nullable, {
      name: `${opts.name} item`,
      required: !items.nullable,
      item: true,
      initial,
      path: `${opts.path}.${fields.length}`,
    });
    const row = h("li", { class: "row" }, field.root);
    const remove = h("button", {
      type: "button",
      class: "remove small",
      onclick: () => {
        const at = fields.indexOf(field);
        fields.splice(at, 1);
        row.remove();
        renumber();
        (fields[at] ?? fields[at - 1])?.focus() ?? addButton.focus();
      },
    }, "Remove");
    row.append(remove);
    rows.append(row);
    fields.push(field);
    renumber();
    if (focus) field.focus();
  };
  addButton.addEventListener("click", () => add(undefined, true));
  const initial = initialOf(opts, schema);
  if (Array.isArray(initial)) initial.forEach((v) => add(v));

  const root = h("div", { class: "field field-list", role: "group", "aria-labelledby": `${id}-legend` },
    h("div", { class: "field-label" },
      h("span", { class: "name", id: `${id}-legend` }, opts.name),
      opts.required ? h("span", { class: "req", "aria-hidden": "true" }, "*") : null,
      h("span", { class: "hint" }, typeHint(schema, "list"))),
    f.help, rows, addButton, f.error);
  return {
    root,
    read(report) {
      if (report) f.show("");
      const values = fields.map((field) => field.read(report));
      if (values.includes(OMIT)) return OMIT;
      if (values.length === 0 && !opts.required && !Array.isArray(initial)) return OMIT;
      return values;
    },
    focus: () => (fields[0] ?? { focus: () => addButton.focus() }).focus(),
    showError: (m) => f.show(m),
    child: (segment) => fields[Number(segment)],
  };
}

function objectField(schema: JsonSchema, opts: Options): Field {
  const { element, fields, errorBox } = fieldset(schema, opts);
  return {
    root: element,
    read(report) {
      if (report) errorBox.show("");
      const value: Record<string, unknown> = {};
      let bad = false;
      for (const [name, field] of fields) {
        const v = field.read(report);
        if (v === OMIT) bad ||= isRequired(schema, name) || fieldHasError(field);
        else value[name] = v;
      }
      if (bad) return OMIT;
      if (Object.keys(value).length === 0 && !opts.required) return OMIT;
      return value;
    },
    focus: () => fields.values().next().value?.focus(),
    showError: (m) => errorBox.show(m),
    child: (segment) => fields.get(segment),
  };
}

function isRequired(schema: JsonSchema, name: string): boolean {
  return (schema.required ?? []).includes(name);
}

function fieldHasError(field: Field): boolean {
  return field.root.querySelector(".field-error:not([hidden]):not(.fixed)") !== null;
}

function order(schema: JsonSchema): string[] {
  const names = Object.keys(schema.properties ?? {});
  const declared = (schema.order ?? []).filter((n) => names.includes(n));
  return [...declared, ...names.filter((n) => !declared.includes(n))];
}

function fieldset(schema: JsonSchema, opts: Options) {
  const initial = initialOf(opts, schema);
  const given = initial && typeof initial === "object" ? (initial as Record<string, unknown>) : {};
  const fields = new Map<string, Field>();
  const errorId = uid("err");
  const error = h("div", { class: "field-error", id: errorId, role: "alert", hidden: true });
  const nameId = uid("name");
  const element = h("fieldset", { class: "field field-object", "aria-labelledby": nameId },
    h("legend", null, h("span", { class: "name", id: nameId }, opts.name),
      opts.required ? h("span", { class: "req", "aria-hidden": "true" }, "*") : null,
      h("span", { class: "hint" }, "object")),
    schema.description ? h("div", { class: "help" }, schema.description) : null);
  for (const name of order(schema)) {
    const { schema: child, nullable } = unwrap(schema.properties![name]);
    const field = build(child, nullable, {
      name,
      required: isRequired(schema, name) && !nullable,
      initial: given[name],
      path: `${opts.path}.${name}`,
    });
    fields.set(name, field);
    element.append(field.root);
  }
  element.append(error);
  return {
    element,
    fields,
    errorBox: {
      show(message: string) {
        showMessage(error, message);
      },
    },
  };
}

function build(schema: JsonSchema, nullable: boolean, opts: Options): Field {
  const kind = kindOf(schema, nullable);
  if (kind === "list") return listField(schema, opts);
  if (kind === "object") return objectField(schema, opts);
  return inputField(schema, kind, opts);
}

/** The form for a script's input schema; `initial` (e.g. a past run's args) beats defaults. */
export function buildForm(schema: JsonSchema, initial: Record<string, unknown> = {}): Form {
  const element = h("div", { class: "schema-form" });
  const fields = new Map<string, Field>();
  const names = order(schema);
  if (names.length === 0) element.append(h("p", { class: "muted" }, "This script takes no arguments."));
  for (const name of names) {
    const { schema: prop, nullable } = unwrap(schema.properties![name]);
    const field = build(prop, nullable, {
      name,
      required: isRequired(schema, name) && !nullable,
      initial: initial[name],
      path: name,
    });
    fields.set(name, field);
    element.append(field.root);
  }
  const clearErrors = () => {
    element.querySelectorAll<HTMLElement>(".field-error").forEach((e) => {
      e.hidden = true;
      e.textContent = "";
      e.classList.remove("fixed");
    });
    element.querySelectorAll("[aria-invalid=true]").forEach((e) => e.setAttribute("aria-invalid", "false"));
  };
  return {
    element,
    clearErrors,
    values(report = true) {
      const values: Record<string, unknown> = {};
      let ok = true;
      for (const [name, field] of fields) {
        const v = field.read(report);
        if (v === OMIT) ok &&= !(isRequired(schema, name) && !unwrap(schema.properties![name]).nullable) && !fieldHasError(field);
        else values[name] = v;
      }
      if (!ok && report) {
        element.querySelector<HTMLElement>("[aria-invalid=true]")?.focus();
        return null;
      }
      return values;
    },
    showErrors(details) {
      const unmatched: string[] = [];
      let first: HTMLElement | null = null;
      for (const { path, message } of details) {
        const segments = path.split(".").filter(Boolean);
        let field = fields.get(segments[0] ?? "");
        for (const segment of segments.slice(1)) field = field?.child(segment) ?? field;
        if (field) {
          field.showError(message);
          first ??= field.root;
        } else {
          unmatched.push(path ? `${path}: ${message}` : message);
        }
      }
      first?.querySelector<HTMLElement>("input, select, textarea, button")?.focus();
      return unmatched;
    },
  };
}
