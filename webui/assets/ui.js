// ui.js: small DOM helpers shared by the pages: element building, number
// and time formatting, a paged table that stays fast at 100,000 rows (it
// builds only the rows of the page shown), state badges, and charts drawn
// as inline SVG.

/** h builds an element: h("a", {href: "#/"}, "text", child, ...). */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === "class") el.className = v;
    else if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else el.setAttribute(k, v === true ? "" : v);
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children) {
    if (c === undefined || c === null || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else el.append(c instanceof Node ? c : String(c));
  }
}

/** svg builds an SVG element. */
export function svg(tag, attrs = {}, ...children) {
  const el = document.createElementNS("http://www.w3.org/2000/svg", tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, v);
  append(el, children);
  return el;
}

/** fmtMB formats megabytes. */
export function fmtMB(mb) {
  if (!mb) return "0 B";
  if (mb >= 1024 * 1024) return (mb / 1024 / 1024).toFixed(1) + " TB";
  if (mb >= 1024) return (mb / 1024).toFixed(1) + " GB";
  return Math.round(mb) + " MB";
}

/** fmtBytes formats bytes. */
export function fmtBytes(b) {
  if (b < 1024) return `${b} B`;
  if (b < 1024 * 1024) return `${(b / 1024).toFixed(1)} KB`;
  return fmtMB(b / 1024 / 1024);
}

/** fmtNum formats a count or a CPU figure. */
export function fmtNum(x) {
  if (x === undefined || x === null || Number.isNaN(x)) return "–";
  return Number.isInteger(x) ? x.toLocaleString("en") : x.toFixed(2).replace(/\.?0+$/, "");
}

/** fmtTime formats seconds since the epoch as a local date and time. */
export function fmtTime(sec) {
  if (!sec) return "–";
  const d = new Date(sec * 1000);
  return d.toLocaleString("en-GB", { hour12: false });
}

/** fmtDuration formats a number of seconds as "3h 12m". */
export function fmtDuration(sec) {
  sec = Math.max(0, Math.floor(sec));
  const d = Math.floor(sec / 86400), hh = Math.floor((sec % 86400) / 3600), mm = Math.floor((sec % 3600) / 60), ss = sec % 60;
  if (d) return `${d}d ${hh}h`;
  if (hh) return `${hh}h ${mm}m`;
  if (mm) return `${mm}m ${ss}s`;
  return `${ss}s`;
}

/** fmtRes formats scalars as "1.5 CPU · 2.0 GB · ..." */
export function fmtRes(r) {
  const parts = [`${fmtNum(r.cpus || 0)} CPU`, fmtMB(r.mem || 0) + " mem"];
  if (r.disk) parts.push(fmtMB(r.disk) + " disk");
  if (r.gpus) parts.push(`${fmtNum(r.gpus)} GPU`);
  return parts.join(" · ");
}

/** badge shows a task or agent state, coloured by its kind. */
export function badge(text, kind) {
  return h("span", { class: `badge ${kind || kindOf(text)}` }, text.replace(/^TASK_/, ""));
}

function kindOf(state) {
  if (/RUNNING|ACTIVE|FINISHED|connected/.test(state)) return "ok";
  if (/STAGING|STARTING|KILLING|DRAINING|inactive|disconnected|DRAINED|UNREACHABLE/.test(state)) return "warn";
  if (/FAILED|ERROR|LOST|DROPPED|GONE|KILLED|UNKNOWN|removed/.test(state)) return "bad";
  return "";
}

/** message shows an empty or error state in place of content. */
export function message(kind, title, detail) {
  return h("div", { class: `notice ${kind}`, role: kind === "error" ? "alert" : "status" }, h("strong", {}, title), detail ? h("p", {}, detail) : null);
}

/**
 * table is a paged table: columns [{title, cell(row) -> node|string,
 * sort(row) -> value}], rows an array; only the rows of the current page
 * are built. It returns {el, set(rows)}; set keeps the page and sort.
 */
export function table(columns, { pageSize = 50, empty = "Nothing to show.", link, label } = {}) {
  let rows = [];
  let page = 0;
  let sortBy = -1, sortDir = 1;
  const thead = h("thead", {}, h("tr", {}, columns.map((c, i) =>
    h("th", { scope: "col" }, c.sort ? h("button", { class: "sort", onclick: () => { sortDir = sortBy === i ? -sortDir : 1; sortBy = i; draw(); } }, c.title) : c.title))));
  const tbody = h("tbody");
  const info = h("span", { class: "pageinfo" });
  const prev = h("button", { onclick: () => { page--; draw(); }, "aria-label": "previous page" }, "‹ Prev");
  const next = h("button", { onclick: () => { page++; draw(); }, "aria-label": "next page" }, "Next ›");
  const pager = h("div", { class: "pager" }, prev, info, next);
  const el = h("div", { class: "tablewrap" }, h("table", { "aria-label": label || "" }, thead, tbody), pager);

  function draw() {
    let view = rows;
    if (sortBy >= 0) {
      const key = columns[sortBy].sort;
      view = rows.slice().sort((a, b) => { const x = key(a), y = key(b); return (x < y ? -1 : x > y ? 1 : 0) * sortDir; });
    }
    const pages = Math.max(1, Math.ceil(view.length / pageSize));
    page = Math.min(Math.max(0, page), pages - 1);
    const focused = document.activeElement?.closest?.("tr")?.dataset?.i;
    const frag = document.createDocumentFragment();
    const start = page * pageSize;
    for (let i = start; i < Math.min(view.length, start + pageSize); i++) {
      const r = view[i];
      const tr = h("tr", { tabindex: link ? "0" : null, "data-i": String(i - start) }, columns.map((c) => h("td", { class: c.class }, c.cell(r))));
      if (link) {
        const href = link(r);
        tr.dataset.href = href;
        tr.addEventListener("click", (e) => { if (!e.target.closest("a,button")) location.hash = href; });
        tr.addEventListener("keydown", (e) => { if (e.key === "Enter") location.hash = href; });
      }
      frag.append(tr);
    }
    if (view.length === 0) frag.append(h("tr", {}, h("td", { colspan: String(columns.length), class: "empty" }, empty)));
    tbody.replaceChildren(frag);
    if (focused !== undefined) tbody.querySelector(`tr[data-i="${focused}"]`)?.focus();
    info.textContent = view.length ? `${(start + 1).toLocaleString("en")}–${Math.min(view.length, start + pageSize).toLocaleString("en")} of ${view.length.toLocaleString("en")}` : "0 rows";
    pager.hidden = pages <= 1;
    prev.disabled = page === 0;
    next.disabled = page >= pages - 1;
  }

  return {
    el,
    set(r) {
      rows = r;
      draw();
    },
  };
}

/**
 * usageChart draws one horizontal bar per resource split into used,
 * offered and idle, with the figures as text beside it.
 */
export function usageChart(rows) {
  const width = 420, bar = 18, gap = 30, labelW = 60;
  const el = svg("svg", { viewBox: `0 0 ${width + labelW + 10} ${rows.length * gap + 6}`, class: "chart", role: "img",
    "aria-label": rows.map((r) => `${r.name}: ${r.usedText} used, ${r.offeredText} offered, ${r.idleText} idle of ${r.totalText}`).join("; ") });
  rows.forEach((r, i) => {
    const y = i * gap + 4;
    const t = r.total || 1;
    const wUsed = (Math.min(r.used, t) / t) * width;
    const wOff = (Math.min(r.offered, t - Math.min(r.used, t)) / t) * width;
    el.append(
      svg("text", { x: 0, y: y + 13, class: "label" }, r.name),
      svg("rect", { x: labelW, y, width, height: bar, class: "idle", rx: 3 }),
      svg("rect", { x: labelW, y, width: wUsed, height: bar, class: "used", rx: 3 }),
      svg("rect", { x: labelW + wUsed, y, width: wOff, height: bar, class: "offered" }),
      svg("text", { x: labelW + 6, y: y + 13, class: "figure" }, `${r.usedText} used · ${r.offeredText} offered · ${r.idleText} idle / ${r.totalText}`),
    );
  });
  return el;
}

/** sparkline draws a series of numbers as a line with its last value. */
export function sparkline(values, label) {
  const w = 300, hgt = 50;
  const max = Math.max(1, ...values);
  if (values.length === 1) values = [values[0], values[0]];
  const pts = values.map((v, i) => `${values.length > 1 ? (i / (values.length - 1)) * w : 0},${hgt - (v / max) * (hgt - 4) - 2}`).join(" ");
  return svg("svg", { viewBox: `0 0 ${w} ${hgt}`, class: "spark", role: "img", "aria-label": `${label}: ${values.at(-1) ?? 0}` },
    svg("polyline", { points: pts, class: "line" }));
}

/** dl builds a definition list from [term, value] pairs. */
export function dl(pairs) {
  return h("dl", { class: "facts" }, pairs.filter(Boolean).map(([k, v]) => [h("dt", {}, k), h("dd", {}, v ?? "–")]));
}

/** section wraps content under a heading. */
export function section(title, ...content) {
  return h("section", { class: "card" }, h("h2", {}, title), ...content);
}
