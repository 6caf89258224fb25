// Package webui is Mezzo's web UI: a few static files (HTML, CSS and ES
// modules, no build step) embedded in the binary and served by every
// leading master at "/" (the page) and under Prefix (its modules and style).
//
// The UI reads only the master's public endpoints: the operator API
// (POST /api/v1: GET_STATE, GET_ROLES, GET_MAINTENANCE_STATUS, ...), its
// SUBSCRIBE event stream, which it reads with a streaming fetch and applies
// event by event to an in-memory model (model.js) instead of re-reading the
// state, /metrics/snapshot for the utilisation charts, and the master's
// /files proxy for sandboxes and logs. Nothing is fetched from elsewhere:
// Handler sends a Content-Security-Policy that allows this origin alone.
//
// The modules, each with a comment saying what it does:
//
//	assets/index.html        the page shell: header, navigation, <main>
//	assets/app.js            start-up: theme, keyboard, stream and router
//	assets/api.js            the HTTP calls and the RecordIO stream reader
//	assets/model.js          the cluster model the events update
//	assets/router.js         hash routes (#/tasks/<id>, ...) to pages
//	assets/ui.js             DOM helpers, formatting, paged tables, charts
//	assets/pages/*.js        one module per page
//
// A standby master does not serve the UI: it redirects "/" to the leader,
// as it does the APIs.
package webui
