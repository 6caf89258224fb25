// overview.js: the cluster at a glance: the leading master, agents by
// state, frameworks, tasks by state, CPU/memory/disk/GPU used vs offered vs
// idle, running tasks over time, and the latest events.

import { h, section, dl, usageChart, sparkline, fmtNum, fmtMB, fmtDuration, fmtTime, message } from "../ui.js";
import { STATES, short } from "../model.js";

export function mount(el, { live }) {
  const head = h("div");
  const body = h("div");
  el.append(h("h1", {}, "Overview"), head, body);
  return {
    update(model) {
      if (!model.loaded) {
        body.replaceChildren(live.error ? message("error", "The master cannot be reached", live.error) : h("p", { class: "loading" }, "Connecting to the master…"));
        return;
      }
      body.replaceChildren(render(model, live));
    },
  };
}

function stat(n, label, href, id) {
  return h("a", { class: "stat", href, "data-stat": id }, h("b", {}, fmtNum(n)), h("span", {}, label));
}

function render(model, live) {
  const m = live.metrics || {};
  const info = live.master?.master_info || {};
  const ac = model.agentCounts();
  let fwActive = 0, fwInactive = 0, fwCompleted = 0;
  for (const f of model.frameworks.values()) {
    if (f.completed) fwCompleted++;
    else if (f.active) fwActive++;
    else fwInactive++;
  }
  const unreachable = m["master/slaves_unreachable"];
  const leader = section("Master", dl([
    ["Leader", info.hostname ? `${info.hostname}:${info.port}` : "–"],
    ["Version", live.version || info.version || "–"],
    ["Started", fmtTime(live.master?.start_time)],
    ["Uptime", m["master/uptime_secs"] !== undefined ? fmtDuration(m["master/uptime_secs"]) : live.master?.start_time ? fmtDuration(Date.now() / 1000 - live.master.start_time) : "–"],
    ["Elected", fmtTime(live.master?.elected_time)],
    ["Id", h("span", { class: "mono" }, info.id || "–")],
  ]));
  const agents = section("Agents", h("div", { class: "stats" },
    stat(ac.active, "active", "#/agents?state=active", "agents-active"),
    stat(ac.inactive, "disconnected", "#/agents?state=inactive", "agents-inactive"),
    stat(unreachable ?? ac.removed, "unreachable", "#/agents?state=removed", "agents-unreachable"),
    stat(ac.draining, "draining", "#/agents?state=draining", "agents-draining"),
  ));
  const fws = section("Frameworks", h("div", { class: "stats" },
    stat(fwActive, "active", "#/frameworks", "frameworks-active"),
    stat(fwInactive, "inactive", "#/frameworks", "frameworks-inactive"),
    stat(fwCompleted, "completed", "#/frameworks", "frameworks-completed"),
  ));
  const tasks = section("Tasks", h("div", { class: "stats" },
    STATES.filter((s) => model.byState[s] || ["TASK_STAGING", "TASK_RUNNING", "TASK_FINISHED", "TASK_FAILED"].includes(s))
      .map((s) => stat(model.byState[s] || 0, short(s).toLowerCase(), `#/tasks?state=${s}`, `tasks-${short(s).toLowerCase()}`))));

  // Total and used follow the events (the registered agents, the tasks
  // not yet terminal); offered is the allocator's offered-or-allocated
  // less what is allocated, from the last metrics poll.
  const tot = model.totals();
  const rows = [];
  for (const [k, name, fmt] of [["cpus", "CPU", fmtNum], ["mem", "Memory", fmtMB], ["disk", "Disk", fmtMB], ["gpus", "GPU", fmtNum]]) {
    const total = tot.total[k] || 0;
    if (k === "gpus" && !total) continue;
    const used = Math.min(total, tot.used[k] || 0);
    const oa = m[`allocator/mesos/resources/${k}/offered_or_allocated`];
    const offered = Math.min(total - used, oa !== undefined ? Math.max(0, oa - (m[`master/${k}_used`] ?? used)) : tot.offered[k] || 0);
    const idle = Math.max(0, total - used - offered);
    rows.push({ name, total, used, offered, totalText: fmt(total), usedText: fmt(used), offeredText: fmt(offered), idleText: fmt(idle) });
  }
  const usage = section("Resources",
    rows.length && rows[0].total ? usageChart(rows) : message("empty", "No resources yet", "No agent is registered."),
    h("div", { class: "legend" }, h("span", {}, h("i", { class: "used" }), "used"), h("span", {}, h("i", { class: "offered" }), "offered"), h("span", {}, h("i", { class: "idle" }), "idle")));
  const running = section(`Running tasks: ${fmtNum(model.byState.TASK_RUNNING || 0)}`,
    sparkline([...live.history, model.byState.TASK_RUNNING || 0], "running tasks over the last 5 minutes"),
    h("p", { class: "meta" }, "over the last 5 minutes"));
  const feed = section("Recent events",
    model.feed.length ? h("ul", { class: "feed", "aria-live": "polite" }, model.feed.slice(0, 50).map((e) =>
      h("li", {}, h("time", {}, new Date(e.at).toLocaleTimeString("en-GB", { hour12: false })), h("span", { class: "type" }, e.type),
        e.link ? h("a", { href: e.link }, e.text) : h("span", {}, e.text)))) : message("empty", "No events yet"));
  return h("div", {}, h("div", { class: "grid" }, leader, h("div", {}, agents, fws)), tasks, h("div", { class: "grid" }, usage, running), feed);
}
