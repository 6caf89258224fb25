package master

import (
	"context"
	"fmt"
	"net/http"
	"strings"

	"github.com/mezzo-project/mezzo/internal/auth"
)

// authn authenticates the master's HTTP requests by realm, as
// Config.Authentication asks (see docs/security.md).
type authn struct {
	cfg Authentication
	// http checks the HTTP realms (readonly, readwrite, scheduler);
	// agents checks agents on the agent protocol.
	http, agents auth.Basic
}

// newAuthn reads the credentials files the flags name. A file that
// cannot be read or parsed is an error naming the flag and the file.
func newAuthn(a Authentication) (*authn, error) {
	n := &authn{cfg: a}
	if a.Credentials != "" {
		cs, err := auth.ReadCredentials(strings.TrimPrefix(a.Credentials, "file://"))
		if err != nil {
			return nil, fmt.Errorf("--credentials: %w", err)
		}
		n.http.Credentials, n.agents.Credentials = cs, cs
	}
	if a.HTTPCredentials != "" {
		cs, err := auth.ReadCredentials(strings.TrimPrefix(a.HTTPCredentials, "file://"))
		if err != nil {
			return nil, fmt.Errorf("--http_credentials: %w", err)
		}
		n.http.Credentials = cs
	}
	return n, nil
}

// frameworkCredentials are the principals drivers authenticate as
// with CRAM-MD5: --credentials.
func (n *authn) frameworkCredentials() auth.Credentials { return n.agents.Credentials }

// required reports whether requests in realm must authenticate.
func (n *authn) required(realm string) bool {
	switch realm {
	case auth.RealmMasterReadonly:
		return n.cfg.HTTPReadonly
	case auth.RealmMasterReadwrite:
		return n.cfg.HTTPReadwrite
	case auth.RealmMasterScheduler:
		return n.cfg.HTTPFrameworks || n.cfg.Frameworks
	case auth.RealmMasterAgent:
		return n.cfg.Agents
	}
	return false
}

// uiRealm is the realm of the web UI's page and files: the read-only
// realm when it is protected, else the read-write one, else none. Mesos
// serves its UI to anyone; Mezzo protects it once the endpoints it reads
// are, so that opening the page makes the browser ask for credentials
// and send them with every request the UI makes (all same-origin).
func (n *authn) uiRealm() string {
	switch {
	case n.cfg.HTTPReadonly:
		return auth.RealmMasterReadonly
	case n.cfg.HTTPReadwrite:
		return auth.RealmMasterReadwrite
	}
	return ""
}

// guard returns h behind realm's authentication: HTTP Basic when the
// realm's flag is on (401 with Mesos' challenge otherwise), and, for the
// endpoints that change state once any authentication is on, a refusal
// of cross-site browser requests (a browser attaches its stored
// credentials to a form another site posts).
func (n *authn) guard(realm string, h http.Handler) http.Handler {
	if realm == "" {
		return h
	}
	if n.required(realm) {
		b := n.http
		if realm == auth.RealmMasterAgent {
			b = n.agents
		}
		next := h
		h = auth.RequireBasic(realm, b, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			// Requests the master makes to agents on this one's behalf
			// (files, statistics) carry the same credentials.
			ctx := context.WithValue(r.Context(), forwardedAuthKey{}, r.Header.Get("Authorization"))
			next.ServeHTTP(w, r.WithContext(ctx))
		}))
	}
	if realm == auth.RealmMasterReadwrite && n.cfg.enabled() {
		next := h
		h = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if auth.CrossSite(r) {
				http.Error(w, "Cross-site request refused: the Origin/Referer does not match the Host "+r.Host, http.StatusForbidden)
				return
			}
			next.ServeHTTP(w, r)
		})
	}
	return h
}

type forwardedAuthKey struct{}

// forwardAuth sets on req, a request to an agent made for an
// authenticated request whose context is ctx, that request's
// Authorization header: the agents' own --authenticate_http_readonly
// and --authenticate_http_readwrite then see the operator's credentials.
func forwardAuth(ctx context.Context, req *http.Request) {
	if v, _ := ctx.Value(forwardedAuthKey{}).(string); v != "" {
		req.Header.Set("Authorization", v)
	}
}

// realmOf is the authentication realm of a master path (as routes
// registers it, with or without the /master prefix), by Mesos' routes;
// "" for the endpoints Mesos never authenticates (/health, /redirect,
// /version, the web UI's files, driver messages).
func realmOf(path string) string {
	p := strings.TrimPrefix(path, "/master")
	switch {
	case p == "/api/v1/scheduler":
		return auth.RealmMasterScheduler
	case p == "/api/v1/agent":
		return auth.RealmMasterAgent
	case readonlyPaths[p]:
		return auth.RealmMasterReadonly
	case readwritePaths[p], strings.HasPrefix(p, "/debug/pprof"):
		return auth.RealmMasterReadwrite
	}
	return ""
}

// readonlyPaths are the master's endpoints in realm mesos-master-readonly.
var readonlyPaths = map[string]bool{
	"/state": true, "/state.json": true, "/state-summary": true, "/slaves": true, "/frameworks": true,
	"/tasks": true, "/roles": true, "/roles.json": true, "/flags": true, "/maintenance/status": true,
	"/metrics/snapshot": true, "/metrics": true, "/files/browse": true, "/files/read": true,
	"/files/download": true, "/files/debug": true, "/monitor/statistics": true,
}

// readwritePaths are the master's endpoints in realm mesos-master-readwrite.
var readwritePaths = map[string]bool{
	"/api/v1": true, "/teardown": true, "/kill": true, "/reserve": true, "/unreserve": true,
	"/create-volumes": true, "/destroy-volumes": true, "/weights": true, "/quota": true,
	"/maintenance/schedule": true, "/machine/down": true, "/machine/up": true,
	"/logging/toggle": true, "/profiler/start": true, "/profiler/stop": true,
}
