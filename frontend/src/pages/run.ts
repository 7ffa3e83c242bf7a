// One run: its arguments, facts, live logs and result, with Cancel and Re-run.
import { type Job, encodePath, get, post, ws } from "../api";
import { duration, h, statusBadge, time } from "../dom";
import { jsonTree } from "../result";
import type { Page } from "../router";
import { runView } from "../runview";

export const runPage: Page = async (main, match, nav) => {
  const id = match[1];
  document.title = `Run ${id.slice(0, 8)} · Tidemill`;
  const job = await get<Job>(ws(`jobs_u/get/${id}`));
  // a flow run is shown on its flow's page (its graph, coloured); a loop iteration or a
  // branch (a flow job with a parent) has no page of its own
  const flow = job.job_kind === "flow";
  const flowPage = flow && !job.parent_job ? `/flows/${encodePath(job.script_path)}?run=${id}` : null;
  const facts = h("dl", { class: "facts" });
  const renderFacts = (j: Job) => {
    const rows: [string, Node | string][] = [
      ["Status", statusBadge(j.status)],
      flow
        ? ["Flow", flowPage ? h("a", { href: flowPage, class: "mono" }, j.script_path) : h("span", { class: "mono" }, j.script_path)]
        : ["Script", h("a", { href: `/scripts/${encodePath(j.script_path)}`, class: "mono" }, j.script_path)],
      ["Version", j.script_hash ? h("code", null, j.script_hash.slice(0, 12)) : "not saved (preview)"],
      ...(j.parent_job ? [["Part of", h("a", { href: `/runs/${j.parent_job}`, class: "mono" }, j.parent_job.slice(0, 8))] as [string, Node]] : []),
      ["Created", `${time(j.created_at)} by ${j.created_by}`],
      ["Started", time(j.started_at) || "not yet"],
      ["Completed", time(j.completed_at) || "not yet"],
      ["Duration", duration(j.duration_ms) || "—"],
      ["Worker", j.worker ?? "—"],
      ["Attempts", `${j.attempts} of ${j.max_attempts}`],
      ["Tag", j.tag],
    ];
    if (j.schedule_path) rows.push(["Schedule", j.schedule_path]);
    if (j.canceled_by) rows.push(["Canceled", `by ${j.canceled_by}${j.canceled_reason ? `: ${j.canceled_reason}` : ""}`]);
    facts.replaceChildren(...rows.flatMap(([k, v]) => [h("dt", null, k), h("dd", null, v)]));
  };
  renderFacts(job);
  const view = runView(id, renderFacts);
  const rerunError = h("p", { class: "error-box", role: "alert", hidden: true });
  const rerun = h("button", {
    type: "button",
    class: "primary",
    onclick: async () => {
      try {
        nav(`/runs/${await post<string>(ws(`jobs/run/h/${job.script_hash}`), job.args)}`);
      } catch (error) {
        rerunError.textContent = (error as Error).message;
        rerunError.hidden = false;
      }
    },
    // a preview's code was never saved: there is no version to run again
    hidden: !job.script_hash || flow,
  }, "Re-run");
  main.append(
    h("div", { class: "page-head" },
      h("h1", { tabindex: -1 }, "Run ", h("span", { class: "mono" }, id.slice(0, 8))),
      h("div", { class: "actions" }, rerun,
        flowPage ? h("a", { href: flowPage, class: "button" }, "Open on the flow's graph") : null,
        flow ? null : h("a", { href: `/scripts/${encodePath(job.script_path)}?args=${id}`, class: "button" }, "Edit arguments"))),
    rerunError,
    h("div", { class: "script-grid" },
      h("div", { class: "col" }, view.element),
      h("div", { class: "col" },
        h("section", { class: "card", "aria-labelledby": "args" }, h("h2", { id: "args" }, "Arguments"), h("div", { class: "json-tree" }, jsonTree(job.args))),
        h("section", { class: "card", "aria-labelledby": "facts" }, h("h2", { id: "facts" }, "Details"), facts))),
  );
  return () => view.close();
};
