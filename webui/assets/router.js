// router.js: hash routes. Every page has a URL (#/tasks/<framework>/<task>,
// #/agents/<id>, ...) so it can be linked and reloaded; the router mounts
// the page module that matches and unmounts the previous one.

/**
 * Router maps patterns like "/agents/:id" to page modules, each exporting
 * mount(el, ctx) that returns {update(model), destroy()}.
 */
export class Router {
  constructor(el, ctx, routes, notFound) {
    this.el = el;
    this.ctx = ctx;
    this.routes = routes.map(([pattern, page]) => ({ parts: pattern.split("/").filter(Boolean), page }));
    this.notFound = notFound;
    this.current = null;
    addEventListener("hashchange", () => this.go());
  }

  /** match finds the page and parameters of a hash path. */
  match(path) {
    const parts = path.split("/").filter(Boolean).map(decodeURIComponent);
    for (const r of this.routes) {
      if (r.parts.length !== parts.length) continue;
      const params = {};
      if (r.parts.every((p, i) => (p.startsWith(":") ? ((params[p.slice(1)] = parts[i]), true) : p === parts[i]))) return { page: r.page, params, top: r.parts[0] || "" };
    }
    return null;
  }

  /** go mounts the page of the current location. */
  go() {
    const [path, query = ""] = (location.hash.slice(1) || "/").split("?");
    const m = this.match(path) || { page: this.notFound, params: { path }, top: "" };
    this.current?.destroy?.();
    this.el.replaceChildren();
    for (const a of document.querySelectorAll("nav a[data-top]")) {
      a.toggleAttribute("aria-current", a.dataset.top === m.top);
    }
    this.current = m.page.mount(this.el, { ...this.ctx, params: m.params, query: new URLSearchParams(query) });
    this.current?.update?.(this.ctx.model);
    this.el.focus({ preventScroll: true });
    scrollTo(0, 0);
  }

  /** update tells the mounted page the model changed. */
  update(model) {
    this.current?.update?.(model);
  }
}
