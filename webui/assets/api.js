// api.js: every request the UI makes, all to the master that served the
// page: the operator API (POST /api/v1, JSON), its SUBSCRIBE event stream
// (RecordIO: "<length>\n<JSON record>" repeated, read from a streaming
// fetch), /metrics/snapshot, and the master's /files proxy for sandboxes.

/** HTTPError is a non-2xx answer; status 0 means the master was unreachable. */
export class HTTPError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

async function request(url, init) {
  let resp;
  try {
    resp = await fetch(url, init);
  } catch (e) {
    throw new HTTPError(0, `master unreachable (${e.message})`);
  }
  if (!resp.ok) {
    const text = (await resp.text().catch(() => "")).trim();
    throw new HTTPError(resp.status, `${resp.status} ${resp.statusText}${text ? ": " + text : ""}`);
  }
  return resp;
}

/** call sends one operator API call, e.g. call("GET_ROLES"), and returns its answer. */
export async function call(type, body = {}) {
  const resp = await request("/api/v1", {
    method: "POST",
    headers: { "Content-Type": "application/json", Accept: "application/json" },
    body: JSON.stringify({ type, ...body }),
  });
  const text = await resp.text();
  return text ? JSON.parse(text) : {};
}

/** metrics returns /metrics/snapshot as an object of numbers. */
export async function metrics() {
  return (await request("/metrics/snapshot", { headers: { Accept: "application/json" } })).json();
}

/**
 * agentStatistics returns an agent's /monitor/statistics (its executors'
 * usage, as Mesos' agent writes it), forwarded by the master.
 */
export async function agentStatistics(agentID) {
  return (await request(`/monitor/statistics?agent_id=${encodeURIComponent(agentID)}`)).json();
}

/** masterState returns /master/state (leader, version, start time). */
export async function masterState() {
  return (await request("/master/state")).json();
}

/**
 * subscribe opens the operator event stream and calls onEvent with every
 * event, decoded, in order. It resolves when the stream ends and rejects
 * when it cannot be opened or breaks; signal aborts it.
 */
export async function subscribe(onEvent, signal) {
  const resp = await request("/api/v1", {
    method: "POST",
    headers: { "Content-Type": "application/json", Accept: "application/json" },
    body: JSON.stringify({ type: "SUBSCRIBE" }),
    signal,
  });
  const reader = new RecordIOReader();
  const body = resp.body.getReader();
  for (;;) {
    const { value, done } = await body.read();
    if (done) return;
    for (const record of reader.push(value)) onEvent(JSON.parse(record));
  }
}

/**
 * RecordIOReader splits a byte stream into RecordIO records. Lengths count
 * bytes, so it works on bytes and decodes each whole record as UTF-8.
 */
export class RecordIOReader {
  constructor() {
    this.chunks = []; // pending bytes, in order
    this.size = 0;
    this.want = -1; // length of the record being read, -1 while reading a header
    this.decoder = new TextDecoder();
  }

  /** push adds bytes and returns the records they complete. */
  push(bytes) {
    this.chunks.push(bytes);
    this.size += bytes.length;
    const out = [];
    for (;;) {
      if (this.want < 0) {
        const nl = this.indexOfNewline();
        if (nl < 0) return out;
        const header = this.decoder.decode(this.take(nl + 1)).trim();
        const n = Number(header);
        if (!Number.isInteger(n) || n < 0) throw new Error(`bad RecordIO header "${header}"`);
        this.want = n;
      }
      if (this.size < this.want) return out;
      out.push(this.decoder.decode(this.take(this.want)));
      this.want = -1;
    }
  }

  indexOfNewline() {
    let base = 0;
    for (const c of this.chunks) {
      const i = c.indexOf(10);
      if (i >= 0) return base + i;
      base += c.length;
    }
    return -1;
  }

  take(n) {
    const out = new Uint8Array(n);
    let got = 0;
    while (got < n) {
      const c = this.chunks[0];
      const k = Math.min(c.length, n - got);
      out.set(c.subarray(0, k), got);
      got += k;
      if (k === c.length) this.chunks.shift();
      else this.chunks[0] = c.subarray(k);
    }
    this.size -= n;
    return out;
  }
}

/** sandboxPath is the files-proxy path of a task's sandbox (see task page). */
export function sandboxPath(agentID, frameworkID, executorID) {
  return `/agents/${agentID}/frameworks/${frameworkID}/executors/${executorID}/runs/latest`;
}

/** browse lists a sandbox directory through the master's files proxy. */
export async function browse(path) {
  return (await request(`/files/browse?path=${encodeURIComponent(path)}`)).json();
}

/**
 * read returns {data, offset} of a file through the master's files proxy;
 * offset -1 asks for the size alone (answered as offset).
 */
export async function read(path, offset, length) {
  const q = `path=${encodeURIComponent(path)}&offset=${offset}` + (length >= 0 ? `&length=${length}` : "");
  return (await request(`/files/read?${q}`)).json();
}

/** downloadURL is the URL that downloads a sandbox file. */
export function downloadURL(path) {
  return `/files/download?path=${encodeURIComponent(path)}`;
}
