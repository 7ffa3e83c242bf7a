// Runs inside Deno for a TypeScript job: import the script, call main, hand back JSON.
//
// Protocol (see worker/deno_runner.py): one JSON document on stdin,
// {script, display, reply, order, args, dates}; stdout and stderr are the
// job's logs; the reply, {"ok": true, "result": ...} or {"ok": false,
// "error": {name, message, stack}}, goes to the file `reply`, since Deno
// cannot write to an inherited pipe; then the process exits at once, so
// timers or sockets the script left open do not keep the job running.
//
// main's arguments are positional, in `order`; one missing from `args` is
// passed as undefined so that main's own default applies. `dates` says
// where Date values sit in each argument (from the schema's "date-time"
// format), as "date", {items: ...} or {properties: {...}}.

type Shape = "date" | { items: Shape } | { properties: Record<string, Shape> };

interface Spec {
  script: string;
  display: string;
  reply: string;
  order: string[];
  args: Record<string, unknown>;
  dates: Record<string, Shape>;
}

interface JobError {
  name: string;
  message: string;
  stack: string;
}

class InvalidArgument extends Error {
  override name = "InvalidArgument";
}

function revive(value: unknown, shape: Shape, where: string): unknown {
  if (value === null || value === undefined) {
    return value;
  }
  if (shape === "date") {
    const date = typeof value === "string" ? new Date(value) : undefined;
    if (date === undefined || Number.isNaN(date.getTime())) {
      throw new InvalidArgument(`argument '${where}': ${JSON.stringify(value)} is not a date-time`);
    }
    return date;
  }
  if ("items" in shape) {
    return Array.isArray(value)
      ? value.map((item, index) => revive(item, shape.items, `${where}[${index}]`))
      : value;
  }
  if (typeof value !== "object" || Array.isArray(value)) {
    return value;
  }
  const fields = { ...(value as Record<string, unknown>) };
  for (const [key, inner] of Object.entries(shape.properties)) {
    if (Object.hasOwn(fields, key)) {
      fields[key] = revive(fields[key], inner, `${where}.${key}`);
    }
  }
  return fields;
}

function argumentsOf(spec: Spec): unknown[] {
  return spec.order.map((name) => {
    const value = Object.hasOwn(spec.args, name) ? spec.args[name] : undefined;
    const shape = Object.hasOwn(spec.dates, name) ? spec.dates[name] : undefined;
    return shape === undefined ? value : revive(value, shape, name);
  });
}

// The script's error, with the shim's frames dropped and the script named by its path.
function describe(error: unknown, spec: Spec): JobError {
  if (!(error instanceof Error)) {
    return { name: "Error", message: String(error), stack: "" };
  }
  const stack = (error.stack ?? "")
    .split("\n")
    .filter((line) => !line.includes(import.meta.url))
    .join("\n")
    .replaceAll(spec.script, spec.display);
  return { name: error.name, message: error.message, stack };
}

function base64(bytes: Uint8Array): string {
  let binary = "";
  for (let start = 0; start < bytes.length; start += 0x8000) {
    binary += String.fromCharCode(...bytes.subarray(start, start + 0x8000));
  }
  return btoa(binary);
}

// What JSON.stringify cannot encode on its own, in the form a caller would expect.
function toJson(_key: string, value: unknown): unknown {
  if (value instanceof Uint8Array) {
    return base64(value);
  }
  if (value instanceof Map) {
    return Object.fromEntries(value);
  }
  if (value instanceof Set) {
    return [...value];
  }
  if (typeof value === "bigint") {
    return Number.isSafeInteger(Number(value)) ? Number(value) : value.toString();
  }
  return value;
}

async function run(spec: Spec): Promise<unknown> {
  try {
    const module = await import(spec.script);
    if (typeof module.main !== "function") {
      return {
        ok: false,
        error: { name: "NoMain", message: "the script exports no main function", stack: "" },
      };
    }
    return { ok: true, result: await module.main(...argumentsOf(spec)) };
  } catch (error) {
    return { ok: false, error: describe(error, spec) };
  }
}

function encode(reply: unknown): string {
  try {
    return JSON.stringify(reply, toJson);
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    return JSON.stringify({ ok: false, error: { name: "ResultNotJSON", message, stack: "" } });
  }
}

const spec: Spec = JSON.parse(await new Response(Deno.stdin.readable).text());
Deno.writeTextFileSync(spec.reply, encode(await run(spec)));
Deno.exit(0);
