// tasks.js: all tasks, active and completed, filterable by state,
// framework and agent and searchable by name or id. Filtering walks the
// model's tasks (fast even at 100,000); the table builds only the rows of
// the page shown; redraws are spaced at least 300 ms apart under a burst
// of events. Filters are kept in the URL so a filtered view can be linked.

import { h, table, badge, fmtRes, fmtTime } from "../ui.js";
import { STATES, TERMINAL, short, taskLink } from "../model.js";

export function mount(el, { model, query }) {
  const q = h("input", { type: "search", placeholder: "Search name or id", "aria-label": "Search tasks by name or id", "data-search": "" });
  const state = h("select", { "aria-label": "Task state" },
    h("option", { value: "" }, "any state"), h("option", { value: "active" }, "active"), h("option", { value: "completed" }, "completed"),
    STATES.map((s) => h("option", { value: s }, short(s).toLowerCase())));
  const fw = h("select", { "aria-label": "Framework" }, h("option", { value: "" }, "any framework"));
  const agent = h("input", { type: "search", placeholder: "Agent hostname or id", "aria-label": "Filter by agent" });
  q.value = query.get("q") || "";
  state.value = query.get("state") || "";
  agent.value = query.get("agent") || "";
  const wantFw = query.get("framework") || "";
  let appliedFw = false;
  const count = h("span", { class: "pageinfo", "aria-live": "polite" });
  const t = table([
    { title: "Task", cell: (x) => h("a", { href: taskLink(x) }, x.name || x.id), sort: (x) => x.name },
    { title: "Id", cell: (x) => x.id, class: "mono", sort: (x) => x.id },
    { title: "State", cell: (x) => badge(x.state), sort: (x) => x.state },
    { title: "Framework", cell: (x) => model.frameworks.get(x.fw)?.name || x.fw, sort: (x) => x.fw },
    { title: "Agent", cell: (x) => model.agents.get(x.agent)?.hostname || x.agent, sort: (x) => x.agent },
    { title: "Resources", cell: (x) => fmtRes(x.res) },
    { title: "Updated", cell: (x) => fmtTime(x.statuses.at(-1)?.ts), sort: (x) => x.statuses.at(-1)?.ts || 0 },
  ], { link: taskLink, empty: "No task matches.", label: "Tasks", pageSize: 100 });

  function keepInURL() {
    const p = new URLSearchParams();
    if (q.value) p.set("q", q.value);
    if (state.value) p.set("state", state.value);
    if (fw.value) p.set("framework", fw.value);
    if (agent.value) p.set("agent", agent.value);
    const s = p.toString();
    history.replaceState(null, "", `#/tasks${s ? "?" + s : ""}`);
  }

  function redraw() {
    const needle = q.value.trim().toLowerCase();
    const st = state.value, f = fw.value;
    const ag = agent.value.trim().toLowerCase();
    const rows = [];
    for (const x of model.tasks.values()) {
      if (st === "active" ? TERMINAL.has(x.state) : st === "completed" ? !TERMINAL.has(x.state) : st && x.state !== st) continue;
      if (f && x.fw !== f) continue;
      if (ag && !(x.agent.toLowerCase().includes(ag) || (model.agents.get(x.agent)?.hostname || "").toLowerCase().includes(ag))) continue;
      if (needle && !(x.name.toLowerCase().includes(needle) || x.id.toLowerCase().includes(needle))) continue;
      rows.push(x);
    }
    t.set(rows);
    count.textContent = `${rows.length.toLocaleString("en")} of ${model.tasks.size.toLocaleString("en")} tasks`;
  }

  function fillFrameworks() {
    const have = new Set([...fw.options].map((o) => o.value));
    for (const f of model.frameworks.values()) {
      if (!have.has(f.id)) fw.append(h("option", { value: f.id }, f.name ? `${f.name} (${f.id.slice(-6)})` : f.id));
    }
    if (wantFw && !appliedFw && model.frameworks.has(wantFw)) {
      fw.value = wantFw;
      appliedFw = true;
    }
  }

  for (const c of [q, agent]) c.addEventListener("input", () => { keepInURL(); redraw(); });
  for (const c of [state, fw]) c.addEventListener("change", () => { keepInURL(); redraw(); });
  el.append(h("h1", {}, "Tasks"), h("div", { class: "filters" }, q, state, fw, agent, count), t.el);

  let seen = -1, last = 0, timer = 0;
  return {
    destroy() { clearTimeout(timer); },
    update(m) {
      if (m.version === seen || timer) return;
      const wait = Math.max(0, last + 300 - performance.now());
      timer = setTimeout(() => {
        timer = 0;
        seen = m.version;
        last = performance.now();
        fillFrameworks();
        redraw();
      }, wait);
    },
  };
}
