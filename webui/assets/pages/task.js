// task.js: one task's page: its status history (states, reasons,
// messages, health), resources, container and health check, a browser of
// its sandbox and a log viewer that follows stdout or stderr as they grow.
// Files are read through the master's /files proxy, so this works where
// the browser cannot reach the agents; the viewer says so when the agent
// cannot be reached and keeps trying.

import { h, table, badge, fmtRes, fmtTime, fmtBytes, dl, section, message } from "../ui.js";
import { TERMINAL } from "../model.js";

const CHUNK = 64 * 1024; // bytes read per request
const KEEP = 1 << 20; // characters of a log kept on the page

export function mount(el, { model, params, api }) {
  const body = h("div");
  const files = h("div");
  const viewer = logViewer(api);
  el.append(body, section("Logs", viewer.el), section("Sandbox", files));
  let base = null; // the task's sandbox directory, once found
  let dir = null; // the directory the browser shows
  let seen = -1;

  async function findSandbox(t) {
    const exec = t.executor || t.statuses.findLast((s) => s.executor)?.executor || t.id;
    const root = api.sandboxPath(t.agent, t.fw, exec);
    // A task of a task group (or of an executor running several) has a
    // sandbox of its own under the executor's: tasks/<task id>.
    if (t.executor) {
      try {
        await api.browse(`${root}/tasks/${t.id}`);
        return `${root}/tasks/${t.id}`;
      } catch {
        // Not there: the executor's sandbox is the task's.
      }
    }
    return root;
  }

  async function showDir(path) {
    dir = path;
    files.replaceChildren(h("p", { class: "loading" }, "Listing…"));
    let entries;
    try {
      entries = await api.browse(path);
    } catch (e) {
      const title = e.status === 404 && /not registered/i.test(e.message) ? "The agent of this task is not registered with the master"
        : e.status === 404 ? "No such directory" : "The sandbox cannot be listed";
      files.replaceChildren(message("error", title, `${path}: ${e.message}`),
        h("button", { onclick: () => showDir(path) }, "Retry"));
      return;
    }
    if (dir !== path) return;
    const rel = path.slice(base.length) || "/";
    const crumbs = [h("a", { href: "", onclick: (e) => { e.preventDefault(); showDir(base); } }, "sandbox")];
    let acc = base;
    for (const part of rel.split("/").filter(Boolean)) {
      acc += "/" + part;
      const target = acc;
      crumbs.push(" / ", h("a", { href: "", onclick: (e) => { e.preventDefault(); showDir(target); } }, part));
    }
    const t = table([
      { title: "Name", cell: (f) => {
        const name = f.path.split("/").pop();
        const isDir = f.mode?.startsWith("d");
        return h("a", { href: "", onclick: (e) => { e.preventDefault(); isDir ? showDir(f.path) : viewer.open(f.path); } }, name + (isDir ? "/" : ""));
      }, sort: (f) => f.path },
      { title: "Size", cell: (f) => fmtBytes(f.size || 0), sort: (f) => f.size },
      { title: "Modified", cell: (f) => fmtTime(f.mtime), sort: (f) => f.mtime },
      { title: "Mode", cell: (f) => f.mode, class: "mono" },
      { title: "", cell: (f) => (f.mode?.startsWith("d") ? "" : h("a", { href: api.downloadURL(f.path), download: "" }, "download")) },
    ], { empty: "This directory is empty.", label: "Sandbox files" });
    t.set(entries);
    files.replaceChildren(h("div", { class: "crumbs" }, crumbs), t.el);
  }

  return {
    destroy() { viewer.stop(); },
    update(m) {
      if (m.version === seen) return;
      seen = m.version;
      const t = m.findTask(params.fw, params.id);
      if (!t) {
        body.replaceChildren(h("h1", {}, "Task"), m.loaded ? message("error", "Unknown task", `The master knows no task ${params.id}.`) : h("p", { class: "loading" }, "Loading…"));
        return;
      }
      body.replaceChildren(render(m, t));
      if (!base && t.agent) {
        base = "pending";
        findSandbox(t).then((p) => {
          base = p;
          viewer.start(p);
          showDir(p);
        });
      }
    },
  };
}

function render(m, t) {
  const fw = m.frameworks.get(t.fw);
  const agent = m.agents.get(t.agent);
  const last = t.statuses.at(-1);
  const history = t.statuses.length ? h("ol", { class: "status-list", "aria-label": "Status history" }, t.statuses.map((s) =>
    h("li", { "data-state": s.state }, badge(s.state), " ", h("span", { class: "meta" }, fmtTime(s.ts)),
      s.reason ? [" ", h("span", { class: "mono" }, s.reason)] : null,
      s.source ? [" ", h("span", { class: "meta" }, s.source.replace(/^SOURCE_/, "from ").toLowerCase())] : null,
      s.healthy !== undefined ? [" ", badge(s.healthy ? "healthy" : "unhealthy", s.healthy ? "ok" : "bad")] : null,
      s.message ? h("div", {}, s.message) : null))) : message("empty", "No status yet", "The task has not reported a status.");
  const c = t.container;
  const container = c ? dl([
    ["Type", c.type || "MESOS"],
    c.docker ? ["Image", c.docker.image] : c.mesos?.image ? ["Image", c.mesos.image.docker?.name || c.mesos.image.appc?.name] : null,
    c.volumes?.length ? ["Volumes", c.volumes.map((v) => `${v.host_path || v.source?.type || ""}:${v.container_path} (${v.mode || "RW"})`).join("; ")] : null,
    c.network_infos?.length ? ["Networks", c.network_infos.map((n) => n.name || "default").join(", ")] : null,
  ]) : h("p", { class: "meta" }, "No ContainerInfo: the agent's default container.");
  const hc = t.health;
  const health = hc ? dl([
    ["Type", hc.type || (hc.command ? "COMMAND" : hc.http ? "HTTP" : hc.tcp ? "TCP" : "–")],
    hc.command ? ["Command", h("span", { class: "mono" }, hc.command.value || "")] : null,
    hc.http ? ["HTTP", `${hc.http.scheme || "http"}://:${hc.http.port}${hc.http.path || "/"}`] : null,
    hc.tcp ? ["TCP port", hc.tcp.port] : null,
    ["Interval", `${hc.interval_seconds ?? 10} s`], ["Grace period", `${hc.grace_period_seconds ?? 10} s`],
    ["Last result", last?.healthy === undefined ? "none yet" : last.healthy ? "healthy" : "unhealthy"],
  ]) : h("p", { class: "meta" }, "No health check.");
  return h("div", {},
    h("h1", {}, t.name || t.id, t.name && t.name !== t.id ? h("small", {}, t.id) : null, " ", badge(t.state)),
    h("div", { class: "grid" },
      section("Task", dl([
        ["State", badge(t.state)],
        ["Framework", h("a", { href: `#/frameworks/${t.fw}` }, fw?.name || t.fw)],
        ["Agent", t.agent ? h("a", { href: `#/agents/${t.agent}` }, agent?.hostname || t.agent) : "not yet placed"],
        ["Executor", t.executor || t.statuses.findLast((x) => x.executor)?.executor || "–"],
        ["Resources", fmtRes(t.res)],
        last?.ip ? ["IP address", last.ip] : null,
        ["Completed", TERMINAL.has(t.state) ? "yes" : "no"],
        t.labels ? ["Labels", t.labels.map((l) => `${l.key}=${l.value ?? ""}`).join(", ")] : null,
      ])),
      section("Status history", history)),
    h("div", { class: "grid" }, section("Container", container), section("Health check", health)),
  );
}

/**
 * logViewer shows a sandbox file and follows it: every second it asks the
 * file's size (offset -1) and reads what was added.
 */
function logViewer(api) {
  const pre = h("pre", { class: "log", tabindex: "0", "aria-label": "Log output", "aria-live": "off" });
  const state = h("div", { "aria-live": "polite" });
  const name = h("span", { class: "mono" });
  const follow = h("input", { type: "checkbox", checked: true, id: "follow" });
  const buttons = {};
  for (const f of ["stdout", "stderr"]) buttons[f] = h("button", { type: "button", "aria-pressed": "false", onclick: () => v.open(`${dir}/${f}`) }, f);
  const el = h("div", {}, h("div", { class: "tabs" }, buttons.stdout, buttons.stderr, name,
    h("label", {}, follow, " follow")), state, pre);
  let dir = null, path = null, pos = 0, timer = 0, gen = 0, stopped = false;

  async function tick(myGen) {
    if (stopped || myGen !== gen) return;
    try {
      const size = (await api.read(path, -1)).offset;
      if (size < pos) {
        pre.textContent = "";
        pos = 0;
      }
      if (pos === 0 && size > CHUNK && !pre.textContent) pos = size - CHUNK;
      while (size > pos && myGen === gen) {
        const r = await api.read(path, pos, Math.min(CHUNK, size - pos));
        if (myGen !== gen) return;
        if (!r.data) break;
        const atBottom = pre.scrollTop + pre.clientHeight >= pre.scrollHeight - 4;
        pre.append(r.data);
        if (pre.textContent.length > KEEP) pre.textContent = pre.textContent.slice(-KEEP);
        pos = r.offset + new TextEncoder().encode(r.data).length;
        if (atBottom && follow.checked) pre.scrollTop = pre.scrollHeight;
      }
      state.replaceChildren();
      if (!pre.textContent) state.replaceChildren(message("empty", `${path.split("/").pop()} is empty`, "Lines will show here as the task writes them."));
    } catch (e) {
      const file = path.split("/").pop();
      if (e.status === 404 && /not registered/i.test(e.message)) {
        state.replaceChildren(message("error", "The agent of this task is not registered with the master", `It is unreachable or gone, so ${file} cannot be read (${e.message.trim()}). Checking again every second.`));
      } else if (e.status === 404) {
        state.replaceChildren(message("empty", `${file} does not exist yet`, "The task may not have started; checking again."));
      } else if (e.status === 0) {
        state.replaceChildren(message("error", "The master cannot be reached", `${e.message}. Retrying every second.`));
      } else {
        state.replaceChildren(message("error", "The agent cannot be reached for this log", `${e.message.trim()}. Retrying every second.`));
      }
    }
    if (myGen === gen && !stopped && follow.checked) timer = setTimeout(() => tick(myGen), 1000);
  }

  follow.addEventListener("change", () => { if (follow.checked && path) { clearTimeout(timer); tick(gen); } });

  const v = {
    el,
    /** start shows the sandbox dir's stdout. */
    start(d) {
      dir = d;
      v.open(`${d}/stdout`);
    },
    /** open shows and follows one file. */
    open(p) {
      clearTimeout(timer);
      gen++;
      path = p;
      pos = 0;
      pre.textContent = "";
      name.textContent = p.slice(dir.length + 1);
      for (const [f, b] of Object.entries(buttons)) b.setAttribute("aria-pressed", String(p === `${dir}/${f}`));
      tick(gen);
    },
    stop() {
      stopped = true;
      clearTimeout(timer);
    },
  };
  return v;
}
