// model.js: the UI's picture of the cluster. It is loaded once from the
// SUBSCRIBED event (what GET_STATE holds) and then changed by each event of
// the operator stream, so no page re-reads the whole state. Records are
// kept compact (a few fields per task) so 100,000 tasks fit in little
// memory. Listeners are told of changes at most once per animation frame.

export const TERMINAL = new Set([
  "TASK_FINISHED", "TASK_FAILED", "TASK_KILLED", "TASK_LOST", "TASK_ERROR",
  "TASK_DROPPED", "TASK_GONE", "TASK_GONE_BY_OPERATOR", "TASK_UNKNOWN",
]);

export const STATES = [
  "TASK_STAGING", "TASK_STARTING", "TASK_RUNNING", "TASK_KILLING", "TASK_UNREACHABLE",
  "TASK_FINISHED", "TASK_FAILED", "TASK_KILLED", "TASK_LOST", "TASK_ERROR",
  "TASK_DROPPED", "TASK_GONE", "TASK_GONE_BY_OPERATOR", "TASK_UNKNOWN",
];

const SCALARS = ["cpus", "mem", "disk", "gpus"];

/** scalars sums a Resource list's cpus, mem, disk and gpus. */
export function scalars(resources) {
  const out = { cpus: 0, mem: 0, disk: 0, gpus: 0 };
  for (const r of resources || []) {
    if (r.type === "SCALAR" && r.name in out) out[r.name] += r.scalar?.value || 0;
  }
  return out;
}

function addInto(a, b, sign = 1) {
  for (const k of SCALARS) a[k] = (a[k] || 0) + sign * (b[k] || 0);
}

const id = (x) => x?.value ?? "";

function compactStatus(s) {
  const out = { state: s.state, ts: s.timestamp || 0 };
  if (s.reason) out.reason = s.reason;
  if (s.message) out.message = s.message;
  if (s.source) out.source = s.source;
  if (s.healthy !== undefined) out.healthy = s.healthy;
  if (s.executor_id) out.executor = id(s.executor_id);
  const ip = s.container_status?.network_infos?.[0]?.ip_addresses?.[0]?.ip_address;
  if (ip) out.ip = ip;
  return out;
}

function compactTask(t) {
  const res = scalars(t.resources);
  const task = {
    id: id(t.task_id), name: t.name || "", fw: id(t.framework_id), agent: id(t.agent_id),
    state: t.state, res, statuses: (t.statuses || []).map(compactStatus),
  };
  if (t.executor_id) task.executor = id(t.executor_id);
  if (t.container) task.container = t.container;
  if (t.health_check) task.health = t.health_check;
  if (t.kill_policy) task.kill = t.kill_policy;
  if (t.labels?.labels?.length) task.labels = t.labels.labels;
  return task;
}

function compactAgent(a) {
  const info = a.agent_info || {};
  return {
    id: id(info.id), hostname: info.hostname || "", port: info.port || 5051,
    attributes: (info.attributes || []).map((x) => [x.name, x.text?.value ?? x.scalar?.value ??
      (x.ranges?.range || []).map((r) => `${r.begin}-${r.end}`).join(",") ?? x.set?.item?.join(",")]),
    total: scalars(a.total_resources || info.resources),
    offered: scalars(a.offered_resources),
    active: a.active !== false,
    deactivated: !!a.deactivated,
    draining: a.drain_info ? a.drain_info.state || "DRAINING" : "",
    version: a.version || "",
    registered: a.registered_time?.nanoseconds ? a.registered_time.nanoseconds / 1e9 : 0,
    pid: a.pid || "",
    removed: false,
  };
}

function compactFramework(f, completed) {
  const info = f.framework_info || {};
  return {
    id: id(info.id), name: info.name || "", user: info.user || "",
    roles: info.roles?.length ? info.roles : [info.role || "*"],
    principal: info.principal || "", hostname: info.hostname || "", webui: info.webui_url || "",
    capabilities: (info.capabilities || []).map((c) => c.type),
    checkpoint: !!info.checkpoint, failoverTimeout: info.failover_timeout || 0,
    active: !!f.active, connected: !!f.connected, recovered: !!f.recovered, completed,
    registered: f.registered_time?.nanoseconds ? f.registered_time.nanoseconds / 1e9 : 0,
    offers: (f.offers || []).map((o) => ({ id: id(o.id), agent: id(o.agent_id), hostname: o.hostname, res: scalars(o.resources) })),
    offered: scalars(f.offered_resources),
  };
}

function usedOf(m, key) {
  let u = m.get(key);
  if (!u) m.set(key, (u = { cpus: 0, mem: 0, disk: 0, gpus: 0 }));
  return u;
}

/** Model is the cluster as the stream has told it. */
export class Model {
  constructor() {
    this.reset();
    this.listeners = new Set();
    this.pending = false;
  }

  reset() {
    this.agents = new Map(); // id -> agent (removed ones keep removed: true)
    this.frameworks = new Map(); // id -> framework (completed ones keep completed: true)
    this.tasks = new Map(); // frameworkID + "/" + taskID -> task
    this.byState = Object.fromEntries(STATES.map((s) => [s, 0]));
    this.used = new Map(); // frameworkID -> scalars of its non-terminal tasks
    this.agentUsed = new Map(); // agentID -> scalars of its non-terminal tasks
    this.feed = []; // newest first, at most feedSize
    this.feedSize = 200;
    this.loaded = false;
    this.version = 0; // bumped at every change
  }

  /** onChange registers fn, called (batched) after changes; returns an unsubscribe function. */
  onChange(fn) {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  changed() {
    this.version++;
    if (this.pending) return;
    this.pending = true;
    const flush = () => {
      this.pending = false;
      for (const fn of this.listeners) fn(this);
    };
    if (typeof requestAnimationFrame === "function" && document.visibilityState === "visible") requestAnimationFrame(flush);
    else setTimeout(flush, 50);
  }

  /** load replaces the model with a GET_STATE answer. */
  load(state) {
    this.reset();
    const ag = state.get_agents || {};
    for (const a of [...(ag.agents || [])]) {
      const x = compactAgent(a);
      this.agents.set(x.id, x);
    }
    for (const a of ag.recovered_agents || []) {
      const x = compactAgent({ agent_info: a, active: false });
      x.recovered = true;
      this.agents.set(x.id, x);
    }
    const fw = state.get_frameworks || {};
    for (const f of fw.frameworks || []) this.putFramework(compactFramework(f, false));
    for (const f of fw.completed_frameworks || []) this.putFramework(compactFramework(f, true));
    const ts = state.get_tasks || {};
    for (const list of [ts.tasks, ts.unreachable_tasks, ts.completed_tasks, ts.orphan_tasks]) {
      for (const t of list || []) this.addTask(compactTask(t));
    }
    this.loaded = true;
    this.changed();
  }

  putFramework(f) {
    const old = this.frameworks.get(f.id);
    if (old) f.tasks = old.tasks;
    this.frameworks.set(f.id, f);
  }

  addTask(t) {
    const key = t.fw + "/" + t.id;
    const old = this.tasks.get(key);
    if (old) this.forget(old);
    this.tasks.set(key, t);
    this.count(t, 1);
  }

  forget(t) {
    this.count(t, -1);
  }

  // count adds (sign 1) or takes (-1) t from the per-state counts and, while
  // it is not terminal, from its framework's resources in use.
  count(t, sign) {
    this.byState[t.state] = (this.byState[t.state] || 0) + sign;
    if (!TERMINAL.has(t.state)) {
      addInto(usedOf(this.used, t.fw), t.res, sign);
      addInto(usedOf(this.agentUsed, t.agent), t.res, sign);
    }
  }

  note(type, text, link) {
    this.feed.unshift({ at: Date.now(), type, text, link });
    if (this.feed.length > this.feedSize) this.feed.length = this.feedSize;
  }

  /** apply changes the model by one operator event. */
  apply(ev) {
    switch (ev.type) {
      case "SUBSCRIBED":
        this.load(ev.subscribed?.get_state || {});
        this.note("SUBSCRIBED", "connected to the master's event stream");
        return;
      case "HEARTBEAT":
        return;
      case "TASK_ADDED": {
        const t = compactTask(ev.task_added.task);
        this.addTask(t);
        this.note(ev.type, `task ${t.name || t.id} added (${short(t.state)})`, taskLink(t));
        break;
      }
      case "TASK_UPDATED": {
        const u = ev.task_updated;
        const key = id(u.framework_id) + "/" + id(u.status?.task_id);
        const t = this.tasks.get(key);
        if (!t) break;
        this.count(t, -1);
        t.state = u.state || u.status?.state || t.state;
        if (u.status) {
          const s = compactStatus(u.status);
          const last = t.statuses[t.statuses.length - 1];
          if (!last || last.state !== s.state || last.ts !== s.ts) t.statuses.push(s);
          if (!t.agent && u.status.agent_id) t.agent = id(u.status.agent_id);
        }
        this.count(t, 1);
        this.note(ev.type, `task ${t.name || t.id} is ${short(t.state)}`, taskLink(t));
        break;
      }
      case "FRAMEWORK_ADDED":
      case "FRAMEWORK_UPDATED": {
        const f = compactFramework((ev.framework_added || ev.framework_updated).framework, false);
        this.putFramework(f);
        this.note(ev.type, `framework ${f.name} ${ev.type === "FRAMEWORK_ADDED" ? "added" : f.connected ? "updated" : "disconnected"}`, `#/frameworks/${f.id}`);
        break;
      }
      case "FRAMEWORK_REMOVED": {
        const fid = id(ev.framework_removed.framework_info?.id);
        const f = this.frameworks.get(fid);
        if (f) {
          f.completed = true;
          f.active = f.connected = false;
          f.offers = [];
        }
        this.note(ev.type, `framework ${f?.name || fid} removed`, `#/frameworks/${fid}`);
        break;
      }
      case "AGENT_ADDED": {
        const a = compactAgent(ev.agent_added.agent);
        this.agents.set(a.id, a);
        this.note(ev.type, `agent ${a.hostname} added`, `#/agents/${a.id}`);
        break;
      }
      case "AGENT_REMOVED": {
        const aid = id(ev.agent_removed.agent_id);
        const a = this.agents.get(aid);
        if (a) {
          a.removed = true;
          a.active = false;
        }
        this.note(ev.type, `agent ${a?.hostname || aid} removed (unreachable or gone)`, `#/agents/${aid}`);
        break;
      }
      default:
        this.note(ev.type || "UNKNOWN", "event not shown by this UI");
    }
    this.changed();
  }

  /**
   * refreshAgents takes from a GET_AGENTS answer what no event reports: an
   * agent's draining, deactivation, connection and offered resources. The
   * events stay the source of which agents exist.
   */
  refreshAgents(getAgents) {
    let changed = false;
    for (const a of getAgents?.agents || []) {
      const fresh = compactAgent(a);
      const old = this.agents.get(fresh.id);
      if (!old || old.removed) continue;
      for (const k of ["draining", "deactivated", "active"]) {
        if (old[k] !== fresh[k]) {
          old[k] = fresh[k];
          changed = true;
        }
      }
      old.offered = fresh.offered;
    }
    if (changed) this.changed();
  }

  /** totals sums the registered agents' resources: total, used, offered. */
  totals() {
    const out = { total: {}, used: {}, offered: {} };
    for (const a of this.agents.values()) {
      if (a.removed) continue;
      addInto(out.total, a.total);
      addInto(out.used, this.usedOn(a.id));
      addInto(out.offered, a.offered);
    }
    return out;
  }

  /** usedOn is what the non-terminal tasks on an agent use. */
  usedOn(agentID) {
    return this.agentUsed.get(agentID) || { cpus: 0, mem: 0, disk: 0, gpus: 0 };
  }

  /** agentCounts counts agents: active, inactive (disconnected), draining, removed. */
  agentCounts() {
    const c = { active: 0, inactive: 0, draining: 0, removed: 0 };
    for (const a of this.agents.values()) {
      if (a.removed) c.removed++;
      else if (a.draining || a.deactivated) c.draining++;
      else if (a.active) c.active++;
      else c.inactive++;
    }
    return c;
  }

  /** findTask finds a task by framework and task id, or by task id alone. */
  findTask(fw, tid) {
    if (fw) return this.tasks.get(fw + "/" + tid);
    for (const t of this.tasks.values()) if (t.id === tid) return t;
    return undefined;
  }
}

export function short(state) {
  return (state || "").replace(/^TASK_/, "");
}

export function taskLink(t) {
  return `#/tasks/${encodeURIComponent(t.fw)}/${encodeURIComponent(t.id)}`;
}
