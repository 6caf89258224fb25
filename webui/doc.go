// Package webui is Mezzo's web UI: a few static files (HTML, CSS and ES
// modules, no build step) embedded in the binary and served by every
// leading master at "/" (the page) and under Prefix (its modules and style).
//
// # Data
//
//	master                                   browser
//	POST /api/v1 SUBSCRIBE  --RecordIO-->  api.js  --events-->  model.js
//	  (SUBSCRIBED = GET_STATE, then         (stream reader)     (compact records,
//	   TASK_*, AGENT_*, FRAMEWORK_*)                             counts, usage)
//	/metrics/snapshot (2 s) ----------------------------------+      |
//	GET_AGENTS (15 s: draining, deactivated)                   |  at most once
//	GET_FRAMEWORKS / GET_ROLES / GET_QUOTA /                   |  a frame
//	  GET_MAINTENANCE_* (5 s, while their page is open)        v      v
//	/files/browse, /files/read (the master's proxy) ----->  router.js -> pages/*.js
//
// The page loads the cluster once from the SUBSCRIBED event and then
// applies each event to the model in place; it never re-reads the whole
// state, and a page changes within a frame of an event. A stream silent
// for two heartbeat intervals is reopened, and the page says when the
// master cannot be reached. Tables build only the rows of the page shown,
// so 100,000 tasks stay responsive. Nothing is fetched from elsewhere:
// Handler sends a Content-Security-Policy that allows this origin alone.
//
// # Files
//
//	assets/index.html        the page shell: header, navigation, <main>
//	assets/app.js            start-up: theme, keyboard, stream, polls, router
//	assets/api.js            the HTTP calls and the RecordIO stream reader
//	assets/model.js          the cluster model the events update
//	assets/router.js         hash routes (#/tasks/<framework>/<task>, ...) to pages
//	assets/ui.js             DOM helpers, formatting, paged tables, SVG charts
//	assets/pages/*.js        one module per page: overview, agents (list and
//	                         one agent), frameworks (list and one), tasks,
//	                         task (status history, sandbox, live log), roles,
//	                         maintenance
//
// The page marks "mezzo-subscribe", "mezzo-subscribed" and "mezzo-live"
// (the first frame showing the stream's state) in its performance
// timeline; BenchmarkWebUI in e2e reads them. The modules are tested in
// headless chromium (browser_test.go here, e2e/webui_test.go against real
// masters and agents).
//
// A standby master does not serve the UI: it redirects "/" and Prefix to
// the leader, as it does the APIs.
package webui
