// roles.js: roles with their weight, quota (guarantees and limits) and
// what is allocated to them, from GET_ROLES and GET_QUOTA, refreshed every
// 5 s while the page is open (roles are not in the event stream).

import { h, table, fmtRes, fmtNum, section, message } from "../ui.js";
import { scalars } from "../model.js";

const quotaText = (m) => (m && Object.keys(m).length ? Object.entries(m).map(([k, v]) => `${k}:${fmtNum(v.value)}`).join(", ") : "–");

export function mount(el, { api, model }) {
  const box = h("div", {}, h("p", { class: "loading" }, "Loading roles…"));
  el.append(h("h1", {}, "Roles"), section("Roles", box));
  const t = table([
    { title: "Role", cell: (r) => r.name, class: "mono", sort: (r) => r.name },
    { title: "Weight", cell: (r) => fmtNum(r.weight ?? 1), sort: (r) => r.weight ?? 1 },
    { title: "Frameworks", cell: (r) => (r.frameworks || []).map((f, i) => [i ? ", " : "", h("a", { href: `#/frameworks/${f.value}` }, model.frameworks.get(f.value)?.name || f.value)]), sort: (r) => (r.frameworks || []).length },
    { title: "Allocated", cell: (r) => fmtRes(scalars(r.resources)), sort: (r) => scalars(r.resources).cpus },
    { title: "Quota guarantee", cell: (r) => quotaText(r.quota?.guarantees) },
    { title: "Quota limit", cell: (r) => quotaText(r.quota?.limits) },
  ], { empty: "No role has frameworks, weights or quota yet.", label: "Roles" });
  let stopped = false;
  (async () => {
    while (!stopped) {
      try {
        const [r, q] = await Promise.all([api.call("GET_ROLES"), api.call("GET_QUOTA")]);
        const quotas = new Map((q.get_quota?.status?.configs || []).map((c) => [c.role, c]));
        const roles = r.get_roles?.roles || [];
        for (const role of roles) role.quota = quotas.get(role.name);
        for (const [name, c] of quotas) if (!roles.some((x) => x.name === name)) roles.push({ name, weight: 1, quota: c });
        t.set(roles);
        box.replaceChildren(t.el);
      } catch (e) {
        box.replaceChildren(message("error", "Roles unavailable", e.message));
      }
      await new Promise((res) => setTimeout(res, 5000));
    }
  })();
  return { destroy() { stopped = true; } };
}
