// The "Last run" column of the scripts and flows lists, from `jobs/last_runs`.
import { type Job, get, ws } from "./api";
import { h, statusBadge, time } from "./dom";

/** A script's or a flow's newest job (a script and a flow may share a path). */
export interface LastRun {
  script_path: string;
  is_flow: boolean;
  id: string;
  status: Job["status"];
  created_at: string;
}

/** Each script's (or, with `flows`, each flow's) newest job, by path: one request. */
export async function lastRuns(flows: boolean): Promise<Map<string, LastRun>> {
  const runs = await get<LastRun[]>(ws("jobs/last_runs"));
  return new Map(runs.filter((run) => run.is_flow === flows).map((run) => [run.script_path, run]));
}

/** The cell: the run's status and when, linked to `href(run)`; "never" when it never ran. */
export function lastRunCell(run: LastRun | undefined, href: (run: LastRun) => string): HTMLElement {
  return h("td", null, run
    ? [statusBadge(run.status), " ", h("a", { href: href(run), class: "muted" }, time(run.created_at))]
    : h("span", { class: "muted" }, "never"));
}
