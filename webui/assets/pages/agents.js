// agents.js: the agents list (state, resources used of total, attributes;
// filterable) and an agent's page (its facts, executors with their
// containers' measured usage, and tasks).

import { h, table, badge, fmtRes, fmtNum, fmtMB, fmtBytes, fmtTime, dl, section, message } from "../ui.js";
import { TERMINAL, short, taskLink } from "../model.js";

function agentState(a) {
  if (a.removed) return "removed";
  if (a.draining) return a.draining;
  if (a.deactivated) return "DEACTIVATED";
  return a.active ? "ACTIVE" : "inactive";
}

function stateKey(a) {
  if (a.removed) return "removed";
  if (a.draining || a.deactivated) return "draining";
  return a.active ? "active" : "inactive";
}

const pct = (u, t) => (t ? `${fmtNum(Math.round((u / t) * 100))}%` : "–");

/** list is the agents table. */
export const list = {
  mount(el, { model, query }) {
    const q = h("input", { type: "search", placeholder: "Filter by hostname, id or attribute", "aria-label": "Filter agents", "data-search": "" });
    q.value = query.get("q") || "";
    const state = h("select", { "aria-label": "Agent state" }, ["", "active", "inactive", "draining", "removed"].map((s) => h("option", { value: s }, s || "any state")));
    state.value = query.get("state") || "";
    const t = table([
      { title: "Agent", cell: (a) => h("a", { href: `#/agents/${a.id}` }, `${a.hostname}:${a.port}`), sort: (a) => `${a.hostname}:${a.port}` },
      { title: "State", cell: (a) => badge(agentState(a)), sort: stateKey },
      { title: "CPU", cell: (a) => `${fmtNum(model.usedOn(a.id).cpus)} / ${fmtNum(a.total.cpus)}`, sort: (a) => model.usedOn(a.id).cpus / (a.total.cpus || 1) },
      { title: "Memory", cell: (a) => `${fmtMB(model.usedOn(a.id).mem)} / ${fmtMB(a.total.mem)} (${pct(model.usedOn(a.id).mem, a.total.mem)})`, sort: (a) => model.usedOn(a.id).mem / (a.total.mem || 1) },
      { title: "Disk", cell: (a) => `${fmtMB(model.usedOn(a.id).disk)} / ${fmtMB(a.total.disk)}` },
      { title: "Attributes", cell: (a) => a.attributes.map(([k, v]) => `${k}:${v}`).join("; "), class: "mono" },
      { title: "Registered", cell: (a) => fmtTime(a.registered), sort: (a) => a.registered },
    ], { link: (a) => `#/agents/${a.id}`, empty: "No agent matches.", label: "Agents", pageSize: 100 });
    const redraw = () => {
      const needle = q.value.toLowerCase();
      const rows = [];
      for (const a of model.agents.values()) {
        if (state.value && stateKey(a) !== state.value) continue;
        if (needle && !(a.hostname.toLowerCase().includes(needle) || a.id.toLowerCase().includes(needle) ||
          a.attributes.some(([k, v]) => `${k}:${v}`.toLowerCase().includes(needle)))) continue;
        rows.push(a);
      }
      t.set(rows);
    };
    q.addEventListener("input", redraw);
    state.addEventListener("change", redraw);
    el.append(h("h1", {}, "Agents"), h("div", { class: "filters" }, q, state), t.el);
    let seen = -1;
    return { update(m) { if (m.version !== seen) { seen = m.version; redraw(); } } };
  },
};

// usagePoll is how often an agent's page reads its containers' usage.
const usagePoll = 2000;

/** detail is one agent's page. */
export const detail = {
  mount(el, { model, params, api }) {
    const body = h("div");
    el.append(body);
    let seen = -1;
    // usage: executor key -> {cpus (CPUs used over the last poll), rss,
    // limit}; prev: the cumulative sample before, for the rate.
    let usage = new Map(), prev = new Map(), usageError = "";
    let timer = 0, stopped = false;
    const poll = async () => {
      try {
        const stats = await api.agentStatistics(params.id);
        const next = new Map(), sample = new Map();
        for (const e of stats) {
          const s = e.statistics || {};
          const key = e.framework_id + "/" + e.executor_id;
          const cpu = (s.cpus_user_time_secs || 0) + (s.cpus_system_time_secs || 0);
          sample.set(key, { cpu, at: s.timestamp });
          const p = prev.get(key);
          next.set(key, {
            cpus: p && s.timestamp > p.at ? Math.max(0, (cpu - p.cpu) / (s.timestamp - p.at)) : null,
            rss: s.mem_rss_bytes, limit: s.mem_limit_bytes,
          });
        }
        prev = sample;
        usage = next;
        usageError = "";
      } catch (e) {
        usageError = e.status === 0 ? e.message : `the agent's usage cannot be read: ${e.message}`;
      }
      if (stopped) return;
      seen = -1;
      this_.update(model);
      timer = setTimeout(poll, usagePoll);
    };
    const this_ = {
      destroy() {
        stopped = true;
        clearTimeout(timer);
      },
      update(m) {
        if (m.version === seen) return;
        seen = m.version;
        const a = m.agents.get(params.id);
        if (!a) {
          body.replaceChildren(h("h1", {}, "Agent"), m.loaded ? message("error", "Unknown agent", `The master knows no agent ${params.id}.`) : h("p", { class: "loading" }, "Loading…"));
          return;
        }
        const used = m.usedOn(a.id);
        const tasks = [...m.tasks.values()].filter((t) => t.agent === a.id);
        const executors = new Map();
        for (const t of tasks) {
          if (TERMINAL.has(t.state)) continue;
          const ex = t.executor || t.statuses.at(-1)?.executor || t.id;
          const key = t.fw + "/" + ex;
          const e = executors.get(key) || { id: ex, fw: t.fw, tasks: 0, res: { cpus: 0, mem: 0, disk: 0, gpus: 0 } };
          e.tasks++;
          for (const k in e.res) e.res[k] += t.res[k] || 0;
          executors.set(key, e);
        }
        const tt = table([
          { title: "Task", cell: (t) => h("a", { href: taskLink(t) }, t.name || t.id), sort: (t) => t.name },
          { title: "State", cell: (t) => badge(t.state), sort: (t) => t.state },
          { title: "Framework", cell: (t) => h("a", { href: `#/frameworks/${t.fw}` }, m.frameworks.get(t.fw)?.name || t.fw) },
          { title: "Resources", cell: (t) => fmtRes(t.res) },
        ], { link: taskLink, empty: "No task on this agent.", label: "Tasks on this agent" });
        tt.set(tasks);
        const et = table([
          { title: "Executor", cell: (e) => e.id, class: "mono" },
          { title: "Framework", cell: (e) => m.frameworks.get(e.fw)?.name || e.fw },
          { title: "Tasks", cell: (e) => fmtNum(e.tasks) },
          { title: "Tasks' resources", cell: (e) => fmtRes(e.res) },
          { title: "CPU used", cell: (e) => { const u = usage.get(e.fw + "/" + e.id); return u?.cpus == null ? "–" : fmtNum(Math.round(u.cpus * 100) / 100); } },
          { title: "Memory used", cell: (e) => { const u = usage.get(e.fw + "/" + e.id); return u?.rss == null ? "–" : fmtBytes(u.rss) + (u.limit ? ` of ${fmtBytes(u.limit)}` : ""); } },
        ], { empty: "No executor runs here.", label: "Executors" });
        et.set([...executors.values()]);
        body.replaceChildren(
          h("h1", {}, a.hostname, h("small", {}, a.id)),
          h("div", { class: "grid" },
            section("Agent", dl([
              ["State", badge(agentState(a))], ["Address", `${a.hostname}:${a.port}`], ["Version", a.version],
              ["Registered", fmtTime(a.registered)],
              ["Attributes", a.attributes.length ? a.attributes.map(([k, v]) => `${k}:${v}`).join("; ") : "none"],
            ])),
            section("Resources", dl([
              ["CPU", `${fmtNum(used.cpus)} of ${fmtNum(a.total.cpus)} used (${pct(used.cpus, a.total.cpus)})`],
              ["Memory", `${fmtMB(used.mem)} of ${fmtMB(a.total.mem)} used (${pct(used.mem, a.total.mem)})`],
              ["Disk", `${fmtMB(used.disk)} of ${fmtMB(a.total.disk)} used`],
              a.total.gpus ? ["GPU", `${fmtNum(used.gpus)} of ${fmtNum(a.total.gpus)} used`] : null,
            ]))),
          section("Executors", usageError ? h("p", { class: "loading", "data-usage-error": true }, usageError) : null, et.el),
          section(`Tasks (${tasks.length})`, tt.el),
        );
      },
    };
    poll();
    return this_;
  },
};

export { short };
