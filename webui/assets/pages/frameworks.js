// frameworks.js: the frameworks list (active and completed) and a
// framework's page: its roles, dominant share, tasks and outstanding offers
// (offers are not in the event stream: the page asks GET_FRAMEWORKS for
// them while it is open).

import { h, table, badge, fmtRes, fmtNum, fmtTime, dl, section, message } from "../ui.js";
import { TERMINAL, taskLink } from "../model.js";

/** dominantShare is the largest share of the cluster's resources used. */
function dominantShare(used, total) {
  let best = 0, name = "";
  for (const k of ["cpus", "mem", "disk", "gpus"]) {
    if (total[k] && used[k] / total[k] > best) {
      best = used[k] / total[k];
      name = k;
    }
  }
  return { share: best, name };
}

function fwState(f) {
  if (f.completed) return "completed";
  if (!f.connected) return "disconnected";
  return f.active ? "ACTIVE" : "inactive";
}

export const list = {
  mount(el, { model }) {
    const mk = (label) => table([
      { title: "Name", cell: (f) => h("a", { href: `#/frameworks/${f.id}` }, f.name || f.id), sort: (f) => f.name },
      { title: "State", cell: (f) => badge(fwState(f)), sort: fwState },
      { title: "Roles", cell: (f) => f.roles.join(", ") },
      { title: "User", cell: (f) => f.user },
      { title: "Active tasks", cell: (f) => fmtNum(f.running || 0), sort: (f) => f.running || 0 },
      { title: "Resources in use", cell: (f) => fmtRes(model.used.get(f.id) || {}) },
      { title: "Dominant share", cell: (f) => `${(dominantShare(model.used.get(f.id) || {}, model.totals().total).share * 100).toFixed(1)}%` },
      { title: "Registered", cell: (f) => fmtTime(f.registered), sort: (f) => f.registered },
    ], { link: (f) => `#/frameworks/${f.id}`, empty: `No ${label} framework.`, label: `${label} frameworks` });
    const active = mk("active"), completed = mk("completed");
    el.append(h("h1", {}, "Frameworks"), section("Active", active.el), section("Completed", completed.el));
    let seen = -1;
    return {
      update(m) {
        if (m.version === seen) return;
        seen = m.version;
        const running = new Map();
        for (const t of m.tasks.values()) if (!TERMINAL.has(t.state)) running.set(t.fw, (running.get(t.fw) || 0) + 1);
        const all = [...m.frameworks.values()];
        for (const f of all) f.running = running.get(f.id) || 0;
        active.set(all.filter((f) => !f.completed));
        completed.set(all.filter((f) => f.completed));
      },
    };
  },
};

export const detail = {
  mount(el, { model, params, api }) {
    const body = h("div");
    const offersBox = h("div", {}, h("p", { class: "loading" }, "Loading offers…"));
    el.append(body);
    let offers = null, offerErr = "";
    let stopped = false;
    const poll = async () => {
      while (!stopped) {
        try {
          const r = await api.call("GET_FRAMEWORKS");
          const f = (r.get_frameworks?.frameworks || []).find((x) => x.framework_info?.id?.value === params.id);
          offers = f?.offers || [];
          offerErr = "";
        } catch (e) {
          offerErr = e.message;
        }
        drawOffers();
        await new Promise((r) => setTimeout(r, 5000));
      }
    };
    const ot = table([
      { title: "Offer", cell: (o) => o.id?.value, class: "mono" },
      { title: "Agent", cell: (o) => h("a", { href: `#/agents/${o.agent_id?.value}` }, o.hostname) },
      { title: "Resources", cell: (o) => fmtRes(Object.fromEntries((o.resources || []).filter((r) => r.type === "SCALAR").map((r) => [r.name, r.scalar.value]))) },
    ], { empty: "No outstanding offer.", label: "Outstanding offers" });
    function drawOffers() {
      if (offerErr) offersBox.replaceChildren(message("error", "Offers unavailable", offerErr));
      else if (offers) {
        ot.set(offers);
        offersBox.replaceChildren(ot.el);
      }
    }
    const tt = table([
      { title: "Task", cell: (t) => h("a", { href: taskLink(t) }, t.name || t.id), sort: (t) => t.name },
      { title: "State", cell: (t) => badge(t.state), sort: (t) => t.state },
      { title: "Agent", cell: (t) => h("a", { href: `#/agents/${t.agent}` }, model.agents.get(t.agent)?.hostname || t.agent) },
      { title: "Resources", cell: (t) => fmtRes(t.res) },
      { title: "Updated", cell: (t) => fmtTime(t.statuses.at(-1)?.ts), sort: (t) => t.statuses.at(-1)?.ts || 0 },
    ], { link: taskLink, empty: "This framework has no task.", label: "Tasks of this framework" });
    poll();
    let seen = -1;
    return {
      destroy() { stopped = true; },
      update(m) {
        if (m.version === seen) return;
        seen = m.version;
        const f = m.frameworks.get(params.id);
        if (!f) {
          body.replaceChildren(h("h1", {}, "Framework"), m.loaded ? message("error", "Unknown framework", `The master knows no framework ${params.id}.`) : h("p", { class: "loading" }, "Loading…"));
          return;
        }
        const used = m.used.get(f.id) || {};
        const ds = dominantShare(used, m.totals().total);
        tt.set([...m.tasks.values()].filter((t) => t.fw === f.id));
        body.replaceChildren(
          h("h1", {}, f.name || f.id, h("small", {}, f.id)),
          h("div", { class: "grid" },
            section("Framework", dl([
              ["State", badge(fwState(f))], ["Roles", f.roles.join(", ")], ["User", f.user], ["Principal", f.principal || "–"],
              ["Hostname", f.hostname || "–"], ["Web UI", f.webui ? h("a", { href: f.webui, rel: "noopener" }, f.webui) : "–"],
              ["Registered", fmtTime(f.registered)], ["Checkpoint", f.checkpoint ? "yes" : "no"],
              ["Failover timeout", `${fmtNum(f.failoverTimeout)} s`], ["Capabilities", f.capabilities.join(", ") || "–"],
            ])),
            section("Allocation", dl([
              ["In use", fmtRes(used)],
              ["Dominant share", `${(ds.share * 100).toFixed(1)}%${ds.name ? ` (${ds.name})` : ""}`],
            ]))),
          section("Outstanding offers", offersBox),
          section("Tasks", tt.el),
        );
      },
    };
  },
};
