package agent

import (
	"errors"
	"flag"
	"fmt"
	"net/http"
	"strings"

	"github.com/mezzo-project/mezzo/internal/auth"
)

// Authentication holds the agent's authentication flags, Mesos' names and
// defaults: all off, so an agent started without them serves anyone who
// reaches it (see docs/security.md).
type Authentication struct {
	// Credential is --credential: the path (or file:///path) of the
	// agent's own principal and secret, JSON {"principal": .., "secret":
	// ..} or one "principal secret" line. The agent presents it to the
	// master with HTTP Basic (needed when the master runs with
	// --authenticate_agents). Default: none.
	Credential string
	// HTTPReadonly is --authenticate_http_readonly (default false): the
	// read-only endpoints (realm mesos-agent-readonly: /state, /flags,
	// /metrics/snapshot, /files/*, ...) need HTTP Basic.
	HTTPReadonly bool
	// HTTPReadwrite is --authenticate_http_readwrite (default false): the
	// operator API /api/v1 and /logging/toggle (realm
	// mesos-agent-readwrite) need HTTP Basic.
	HTTPReadwrite bool
	// HTTPExecutors is --authenticate_http_executors (default false): the
	// executor API needs the Bearer token the agent gave the executor,
	// and the token's framework, executor and container must be the
	// call's. Requires JWTSecretKey.
	HTTPExecutors bool
	// HTTPCredentials is --http_credentials: the file of principals and
	// secrets the HTTP realms accept (the format of the master's
	// --credentials). Required by HTTPReadonly and HTTPReadwrite.
	HTTPCredentials string
	// HTTPAuthenticators is --http_authenticators (default basic; only
	// basic is implemented; the executor realm always uses the tokens).
	HTTPAuthenticators string
	// JWTSecretKey is --jwt_secret_key (also taken as
	// --executor_secret_key): the file of the key that signs executor
	// tokens. When set, every executor gets a token in
	// MESOS_EXECUTOR_AUTHENTICATION_TOKEN.
	JWTSecretKey string
}

// addFlags registers the authentication flags on fs.
func (au *Authentication) addFlags(fs *flag.FlagSet) {
	d := *au
	fs.StringVar(&au.Credential, "credential", d.Credential, "Path of the agent's credential for the master: JSON {\"principal\":..,\"secret\":..} or one \"principal secret\" line.")
	fs.BoolVar(&au.HTTPReadonly, "authenticate_http_readonly", d.HTTPReadonly, "Read-only HTTP endpoints need HTTP Basic authentication (--http_credentials).")
	fs.BoolVar(&au.HTTPReadwrite, "authenticate_http_readwrite", d.HTTPReadwrite, "The operator API and other HTTP endpoints that change state need HTTP Basic authentication (--http_credentials).")
	fs.BoolVar(&au.HTTPExecutors, "authenticate_http_executors", d.HTTPExecutors, "The executor API needs the executor's token (signed with --jwt_secret_key).")
	fs.StringVar(&au.HTTPCredentials, "http_credentials", d.HTTPCredentials, "Path of the credentials file of the HTTP endpoints: JSON {\"credentials\":[...]} or \"principal secret\" lines.")
	fs.StringVar(&au.HTTPAuthenticators, "http_authenticators", d.HTTPAuthenticators, "HTTP authenticator: basic (the only one).")
	fs.StringVar(&au.JWTSecretKey, "jwt_secret_key", d.JWTSecretKey, "Path of the file holding the key that signs executors' tokens (MESOS_EXECUTOR_AUTHENTICATION_TOKEN).")
	fs.StringVar(&au.JWTSecretKey, "executor_secret_key", d.JWTSecretKey, "Same as --jwt_secret_key.")
}

// authn is what the agent loaded from its Authentication flags.
type authn struct {
	cfg Authentication
	// credential is the agent's own (nil without --credential).
	credential *auth.Credential
	http       auth.Basic
	// key signs and checks executor tokens (nil without a key file).
	key []byte
}

// newAuthn checks the flags and reads the files they name; errors name
// the flag and the file.
func newAuthn(a Authentication) (*authn, error) {
	n := &authn{cfg: a}
	var errs []error
	if a.HTTPAuthenticators != "" && a.HTTPAuthenticators != "basic" {
		errs = append(errs, fmt.Errorf("--http_authenticators=%s: only basic is supported", a.HTTPAuthenticators))
	}
	if (a.HTTPReadonly || a.HTTPReadwrite) && a.HTTPCredentials == "" {
		errs = append(errs, errors.New("--authenticate_http_readonly and --authenticate_http_readwrite require --http_credentials"))
	}
	if a.HTTPExecutors && a.JWTSecretKey == "" {
		errs = append(errs, errors.New("--jwt_secret_key (or --executor_secret_key) must be given with --authenticate_http_executors"))
	}
	if a.Credential != "" {
		c, err := auth.ReadCredential(strings.TrimPrefix(a.Credential, "file://"))
		if err != nil {
			errs = append(errs, fmt.Errorf("--credential: %w", err))
		} else {
			n.credential = &c
		}
	}
	if a.HTTPCredentials != "" {
		cs, err := auth.ReadCredentials(strings.TrimPrefix(a.HTTPCredentials, "file://"))
		if err != nil {
			errs = append(errs, fmt.Errorf("--http_credentials: %w", err))
		}
		n.http.Credentials = cs
	}
	if a.JWTSecretKey != "" {
		key, err := auth.ReadSecretKey(a.JWTSecretKey)
		if err != nil {
			errs = append(errs, fmt.Errorf("--jwt_secret_key: %w", err))
		}
		n.key = key
	}
	return n, errors.Join(errs...)
}

// authorize adds the agent's credential to a request to the master.
func (n *authn) authorize(req *http.Request) {
	if n != nil && n.credential != nil {
		req.SetBasicAuth(n.credential.Principal, n.credential.Secret)
	}
}

// guard puts the agent's HTTP handler behind the realms Mesos' agent
// protects; the executor API checks its tokens itself (serveExecutor).
func (n *authn) guard(h http.Handler) http.Handler {
	if !n.cfg.HTTPReadonly && !n.cfg.HTTPReadwrite {
		return h
	}
	ro := auth.RequireBasic(auth.RealmAgentReadonly, n.http, h)
	rw := auth.RequireBasic(auth.RealmAgentReadwrite, n.http, h)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := strings.TrimPrefix(r.URL.Path, "/slave(1)")
		switch {
		case n.cfg.HTTPReadonly && agentReadonly(p):
			ro.ServeHTTP(w, r)
		case n.cfg.HTTPReadwrite && agentReadwrite(p):
			if auth.CrossSite(r) {
				http.Error(w, "Cross-site request refused: the Origin/Referer does not match the Host "+r.Host, http.StatusForbidden)
				return
			}
			rw.ServeHTTP(w, r)
		default:
			h.ServeHTTP(w, r)
		}
	})
}

// agentReadonly reports whether path is in realm mesos-agent-readonly.
func agentReadonly(p string) bool {
	switch strings.TrimSuffix(p, "/") {
	case "/state", "/state.json", "/flags", "/monitor/statistics", "/monitor/statistics.json",
		"/containers", "/metrics/snapshot", "/metrics", "/files/browse", "/files/read", "/files/download", "/files/debug":
		return true
	}
	return false
}

// agentReadwrite reports whether path is in realm mesos-agent-readwrite.
func agentReadwrite(p string) bool {
	switch strings.TrimSuffix(p, "/") {
	case "/api/v1", "/logging/toggle", "/profiler/start", "/profiler/stop":
		return true
	}
	return strings.HasPrefix(p, "/debug/pprof")
}

// executorToken returns the token for an executor's container, "" when
// the agent has no key.
func (n *authn) executorToken(fwID, exID, containerID string) (string, error) {
	if n == nil || n.key == nil {
		return "", nil
	}
	return auth.IssueExecutorToken(n.key, auth.ExecutorClaims{FrameworkID: fwID, ExecutorID: exID, ContainerID: containerID})
}
