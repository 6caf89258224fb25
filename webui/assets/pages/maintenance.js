// maintenance.js: the maintenance schedule (windows of machines and their
// unavailability), the machines draining or down (GET_MAINTENANCE_SCHEDULE
// and GET_MAINTENANCE_STATUS, refreshed every 5 s), and the agents the
// event stream reports as draining or deactivated.

import { h, table, fmtTime, fmtDuration, section, message, badge } from "../ui.js";

const machine = (m) => `${m.hostname || ""}${m.ip ? ` (${m.ip})` : ""}`;
const nanos = (x) => (x?.nanoseconds ? Number(x.nanoseconds) / 1e9 : 0);

export function mount(el, { api, model }) {
  const sched = h("div", {}, h("p", { class: "loading" }, "Loading…"));
  const status = h("div", {}, h("p", { class: "loading" }, "Loading…"));
  const agents = table([
    { title: "Agent", cell: (a) => h("a", { href: `#/agents/${a.id}` }, a.hostname) },
    { title: "State", cell: (a) => badge(a.draining || "DEACTIVATED") },
  ], { link: (a) => `#/agents/${a.id}`, empty: "No agent is draining or deactivated.", label: "Draining agents" });
  el.append(h("h1", {}, "Maintenance"), section("Schedule", sched), section("Machines draining or down", status), section("Draining agents", agents.el));
  const windows = table([
    { title: "Machines", cell: (w) => (w.machine_ids || []).map(machine).join(", ") },
    { title: "Starts", cell: (w) => fmtTime(nanos(w.unavailability?.start)) },
    { title: "Duration", cell: (w) => (w.unavailability?.duration ? fmtDuration(nanos(w.unavailability.duration)) : "indefinite") },
  ], { empty: "No maintenance is scheduled.", label: "Maintenance windows" });
  const machines = table([
    { title: "Machine", cell: (m) => machine(m.id) },
    { title: "Mode", cell: (m) => badge(m.mode) },
    { title: "Inverse offer answers", cell: (m) => (m.statuses || []).map((s) => `${s.framework_id?.value?.slice(-6)}: ${s.status}`).join(", ") || "–" },
  ], { empty: "No machine is draining or down.", label: "Machines in maintenance" });
  let stopped = false;
  (async () => {
    while (!stopped) {
      try {
        const [s, st] = await Promise.all([api.call("GET_MAINTENANCE_SCHEDULE"), api.call("GET_MAINTENANCE_STATUS")]);
        windows.set(s.get_maintenance_schedule?.schedule?.windows || []);
        sched.replaceChildren(windows.el);
        const cs = st.get_maintenance_status?.status || {};
        machines.set([...(cs.draining_machines || []).map((d) => ({ ...d, mode: "DRAINING" })), ...(cs.down_machines || []).map((id) => ({ id, mode: "DOWN" }))]);
        status.replaceChildren(machines.el);
      } catch (e) {
        sched.replaceChildren(message("error", "Maintenance schedule unavailable", e.message));
        status.replaceChildren();
      }
      await new Promise((res) => setTimeout(res, 5000));
    }
  })();
  let seen = -1;
  return {
    destroy() { stopped = true; },
    update(m) {
      if (m.version === seen) return;
      seen = m.version;
      agents.set([...model.agents.values()].filter((a) => !a.removed && (a.draining || a.deactivated)));
    },
  };
}
