// The JSON API, with the signed-in token; a 401 sends the user back to sign in.

const TOKEN_KEY = "tidemill.token";
const USER_KEY = "tidemill.user";

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details: unknown,
  ) {
    super(message);
  }

  /** Field problems of a 422, as `{path, message}`. */
  get fieldErrors(): { path: string; message: string }[] {
    return Array.isArray(this.details)
      ? this.details.filter((d) => d && typeof d === "object" && "message" in d)
      : [];
  }
}

export function token(): string | null {
  return localStorage.getItem(TOKEN_KEY);
}

export function username(): string {
  return localStorage.getItem(USER_KEY) ?? "";
}

export function signOut(): void {
  localStorage.removeItem(TOKEN_KEY);
  localStorage.removeItem(USER_KEY);
}

export function workspace(): string {
  return "main";
}

/** `/api/w/<workspace>/<rest>` */
export function ws(rest: string): string {
  return `/api/w/${workspace()}/${rest}`;
}

/** Script paths go into URLs segment by segment, slashes kept. */
export function encodePath(path: string): string {
  return path.split("/").map(encodeURIComponent).join("/");
}

let onUnauthorized: () => void = () => {};
export function setUnauthorizedHandler(handler: () => void): void {
  onUnauthorized = handler;
}

export async function request<T = unknown>(
  method: string,
  url: string,
  body?: unknown,
): Promise<T> {
  const headers: Record<string, string> = { Accept: "application/json" };
  const current = token();
  if (current) headers.Authorization = `Bearer ${current}`;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const response = await fetch(url, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const type = response.headers.get("content-type") ?? "";
  const payload: unknown = type.includes("json") ? await response.json() : await response.text();
  if (!response.ok) {
    const error =
      payload && typeof payload === "object" && "error" in payload
        ? (payload as { error: { code: string; message: string; details: unknown } }).error
        : { code: "http_error", message: String(payload) || response.statusText, details: null };
    if (response.status === 401 && url !== "/api/auth/login") onUnauthorized();
    throw new ApiError(response.status, error.code, error.message, error.details);
  }
  return payload as T;
}

export const get = <T = unknown>(url: string) => request<T>("GET", url);
export const post = <T = unknown>(url: string, body?: unknown) => request<T>("POST", url, body);
export const del = <T = unknown>(url: string) => request<T>("DELETE", url);

export async function signIn(name: string, password: string): Promise<void> {
  const issued = await post<string>("/api/auth/login", { username: name, password });
  localStorage.setItem(TOKEN_KEY, issued);
  localStorage.setItem(USER_KEY, name);
}

/** Whether a route exists on this server (pages for APIs still to come say so). */
export function missingRoute(error: unknown): boolean {
  return error instanceof ApiError && (error.status === 404 || error.status === 405);
}

// ---- shapes ------------------------------------------------------------------------------

export interface JsonSchema {
  type?: string | string[];
  properties?: Record<string, JsonSchema>;
  required?: string[];
  order?: string[];
  enum?: unknown[];
  items?: JsonSchema;
  prefixItems?: JsonSchema[];
  anyOf?: JsonSchema[];
  oneOf?: JsonSchema[];
  format?: string;
  contentEncoding?: string;
  default?: unknown;
  description?: string;
  title?: string;
  minimum?: number;
  maximum?: number;
  minLength?: number;
  maxLength?: number;
  pattern?: string;
  additionalProperties?: boolean | JsonSchema;
  $ref?: string;
  $defs?: Record<string, JsonSchema>;
}

export interface Script {
  path: string;
  hash: string;
  language: string;
  content: string;
  summary: string;
  description: string;
  schema: JsonSchema;
  result_schema: JsonSchema | null;
  warnings: string[];
  created_by: string;
  created_at: string;
}

export interface ScriptHead {
  path: string;
  hash: string;
  language: string;
  summary: string;
  created_by: string;
  created_at: string;
}

export interface Job {
  id: string;
  type: "QueuedJob" | "CompletedJob";
  script_path: string;
  // null for a preview (unsaved code) and for a flow
  script_hash: string | null;
  language: string;
  args: Record<string, unknown>;
  status: "queued" | "running" | "success" | "failure" | "canceled";
  running: boolean;
  canceled: boolean;
  canceled_by: string | null;
  canceled_reason: string | null;
  created_by: string;
  created_at: string;
  started_at: string | null;
  scheduled_for: string | null;
  completed_at?: string | null;
  duration_ms?: number | null;
  success?: boolean;
  result?: unknown;
  worker: string | null;
  attempts: number;
  max_attempts: number;
  tag: string;
  schedule_path: string | null;
  /** `script`, `preview`, `flow`, ... */
  job_kind?: string;
  /** The flow job this one is a step, iteration or branch of. */
  parent_job?: string | null;
}

export interface Update {
  status: Job["status"];
  running: boolean;
  completed: boolean;
  new_logs: string;
  log_offset: number;
  job?: Job;
}

export interface FlowHead {
  path: string;
  version_id: number;
  summary: string;
  description: string;
  edited_by: string;
  edited_at: string;
}

/** A flow version as `flows/get` answers it: the OpenFlow document plus who saved it. */
export interface Flow extends FlowHead {
  schema: JsonSchema | null;
  value: { modules: unknown[]; failure_module?: unknown };
}
