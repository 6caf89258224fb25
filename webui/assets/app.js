// app.js: start-up. It applies the theme, wires the keyboard, keeps the
// operator event stream open (reconnecting with a back-off, and saying so
// when the master cannot be reached), polls /metrics/snapshot for the
// utilisation figures and GET_AGENTS for agents' draining (no event says
// so), and hands model changes to the router's page.

import * as api from "./api.js";
import { Model } from "./model.js";
import { Router } from "./router.js";
import * as overview from "./pages/overview.js";
import * as agents from "./pages/agents.js";
import * as frameworks from "./pages/frameworks.js";
import * as tasks from "./pages/tasks.js";
import * as task from "./pages/task.js";
import * as roles from "./pages/roles.js";
import * as maintenance from "./pages/maintenance.js";
import { h, message } from "./ui.js";

const model = new Model();
// live holds what is not in the event stream: the master's identity and
// the latest metrics, with a short history for the sparkline.
const live = { master: null, version: "", metrics: null, history: [], connected: false, error: "" };

const notFound = {
  mount(el, ctx) {
    el.append(message("error", "No such page", `Nothing lives at #${ctx.params.path}.`), h("p", {}, h("a", { href: "#/" }, "Back to the overview")));
    return {};
  },
};

const router = new Router(document.getElementById("main"), { model, api, live }, [
  ["/", overview],
  ["/agents", agents.list],
  ["/agents/:id", agents.detail],
  ["/frameworks", frameworks.list],
  ["/frameworks/:id", frameworks.detail],
  ["/tasks", tasks],
  ["/tasks/:fw/:id", task],
  ["/tasks/:id", task],
  ["/roles", roles],
  ["/maintenance", maintenance],
], notFound);

// "mezzo-live" marks (in the page's performance timeline) the first frame
// after the page showed the state of the event stream, "mezzo-subscribe"
// the SUBSCRIBE call and "mezzo-subscribed" the decoded SUBSCRIBED event;
// the benchmarks read them.
model.onChange(() => {
  router.update(model);
  if (model.loaded && !performance.getEntriesByName("mezzo-live").length) {
    requestAnimationFrame(() => performance.mark("mezzo-live"));
  }
});

// Theme: the system's unless the toggle chose, remembered per browser.
const root = document.documentElement;
const saved = localStorage.getItem("mezzo-theme");
if (saved) root.dataset.theme = saved;
document.getElementById("theme").addEventListener("click", () => {
  const dark = root.dataset.theme ? root.dataset.theme === "dark" : matchMedia("(prefers-color-scheme: dark)").matches;
  root.dataset.theme = dark ? "light" : "dark";
  localStorage.setItem("mezzo-theme", root.dataset.theme);
});

// Keyboard: "/" searches, j and k move between rows, Enter opens one.
document.getElementById("search").addEventListener("submit", (e) => {
  e.preventDefault();
  location.hash = `#/tasks?q=${encodeURIComponent(document.getElementById("q").value)}`;
});
addEventListener("keydown", (e) => {
  const typing = e.target.closest?.("input, select, textarea");
  if (e.key === "/" && !typing) {
    e.preventDefault();
    (document.querySelector("main [data-search]") || document.getElementById("q")).focus();
  } else if ((e.key === "j" || e.key === "k") && !typing && !e.ctrlKey && !e.metaKey) {
    const rows = [...document.querySelectorAll("main tbody tr[tabindex]")];
    if (!rows.length) return;
    const i = rows.indexOf(document.activeElement);
    rows[Math.max(0, Math.min(rows.length - 1, i < 0 ? 0 : i + (e.key === "j" ? 1 : -1)))].focus();
  } else if (e.key === "Escape" && typing) {
    e.target.blur();
  }
});

const conn = document.getElementById("conn");
const banner = document.getElementById("banner");
function setConnected(ok, err) {
  live.connected = ok;
  live.error = err || "";
  conn.className = "conn " + (ok ? "live" : "down");
  conn.textContent = ok ? "live" : "disconnected";
  banner.hidden = ok;
  banner.textContent = ok ? "" : `The master cannot be reached (${err}). Retrying; what is shown may be out of date.`;
  router.update(model);
}

// stream keeps the operator event stream open for as long as the page is.
async function stream() {
  let delay = 500;
  for (;;) {
    try {
      // The master's identity is asked beside the stream, not before it.
      Promise.all([api.call("GET_MASTER"), api.call("GET_VERSION")]).then((got) => {
        live.master = got[0].get_master;
        live.version = got[1].get_version?.version_info?.version || "";
        router.update(model);
      }, () => {});
      performance.mark("mezzo-subscribe");
      // A stream silent for two heartbeat intervals (a cut network closes
      // nothing) is given up and opened again.
      const abort = new AbortController();
      let silent = 0, watchdog = 0;
      const arm = () => {
        clearTimeout(watchdog);
        if (silent) watchdog = setTimeout(() => abort.abort(new Error("no heartbeat from the master")), silent);
      };
      try {
        await api.subscribe((ev) => {
          if (ev.type === "SUBSCRIBED") {
            performance.mark("mezzo-subscribed");
            silent = 2000 * (ev.subscribed?.heartbeat_interval_seconds || 15);
            setConnected(true);
            delay = 500;
          }
          arm();
          model.apply(ev);
        }, abort.signal);
      } finally {
        clearTimeout(watchdog);
      }
      setConnected(false, "the event stream ended");
    } catch (e) {
      setConnected(false, e.name === "AbortError" ? "no heartbeat from the master" : e.message);
    }
    if (await leaderElsewhere()) {
      // This master came back as a standby (a master that loses its
      // leadership restarts as one): go to the leader, on the same page.
      location.replace("/master/redirect" + location.hash);
      return;
    }
    await new Promise((r) => setTimeout(r, delay));
    delay = Math.min(delay * 2, 5000);
  }
}

// leaderElsewhere reports whether this master answers but does not lead
// while another does: its /metrics/snapshot says master/elected 0 and its
// /master/redirect redirects (a standby without a leader answers 503).
async function leaderElsewhere() {
  try {
    const m = await (await fetch("/metrics/snapshot", { cache: "no-store" })).json();
    if (m["master/elected"] !== 0) return false;
    const r = await fetch("/master/redirect", { redirect: "manual", cache: "no-store" });
    return r.type === "opaqueredirect";
  } catch {
    return false;
  }
}

// pollMetrics reads /metrics/snapshot every 2 s (a small document).
async function pollMetrics() {
  for (;;) {
    try {
      live.metrics = await api.metrics();
      live.history.push(model.byState.TASK_RUNNING || 0);
      if (live.history.length > 150) live.history.shift();
      router.update(model);
    } catch {
      // The stream reports the master unreachable; nothing to add here.
    }
    await new Promise((r) => setTimeout(r, 2000));
  }
}

// pollAgents reads GET_AGENTS every 15 s while the page is shown, for
// what the event stream does not carry (draining, deactivated, offers).
async function pollAgents() {
  for (;;) {
    await new Promise((r) => setTimeout(r, 15000));
    if (!model.loaded || document.visibilityState !== "visible") continue;
    try {
      model.refreshAgents((await api.call("GET_AGENTS")).get_agents);
    } catch {
      // The stream reports the master unreachable.
    }
  }
}

router.go();
stream();
pollMetrics();
pollAgents();
