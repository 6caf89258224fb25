package auth

import (
	"crypto/subtle"
	"encoding/base64"
	"net/http"
	"strings"
)

// The HTTP authentication realms, by Mesos' names: each groups the
// endpoints one authentication flag protects, and is named in the
// WWW-Authenticate challenge of a refused request.
const (
	// RealmMasterReadonly is the master's read-only endpoints
	// (--authenticate_http_readonly): /state, /metrics/snapshot, ...
	RealmMasterReadonly = "mesos-master-readonly"
	// RealmMasterReadwrite is the master's endpoints that change state,
	// and the operator API /api/v1 (--authenticate_http_readwrite).
	RealmMasterReadwrite = "mesos-master-readwrite"
	// RealmMasterScheduler is the scheduler API /api/v1/scheduler
	// (--authenticate_http_frameworks).
	RealmMasterScheduler = "mesos-master-scheduler"
	// RealmMasterAgent is Mezzo's agent protocol /api/v1/agent
	// (--authenticate_agents). Mesos agents speak the driver protocol,
	// authenticated with CRAM-MD5, and have no such realm.
	RealmMasterAgent = "mezzo-master-agent"
	// RealmAgentReadonly is the agent's read-only endpoints
	// (--authenticate_http_readonly on the agent).
	RealmAgentReadonly = "mesos-agent-readonly"
	// RealmAgentReadwrite is the agent's endpoints that change state, and
	// its operator API /api/v1 (--authenticate_http_readwrite).
	RealmAgentReadwrite = "mesos-agent-readwrite"
	// RealmAgentExecutor is the executor API /api/v1/executor
	// (--authenticate_http_executors), authenticated with Bearer tokens.
	RealmAgentExecutor = "mesos-agent-executor"
)

// Basic authenticates HTTP requests with Basic credentials (RFC 7617),
// as Mesos' "basic" HTTP authenticator: the principal is the user name.
// The zero value accepts nobody.
type Basic struct {
	// Credentials are the accepted principals and secrets.
	Credentials Credentials
}

// Authenticate returns the principal r's Authorization header proves,
// and whether it proves one: a Basic header whose principal is known and
// whose secret matches.
func (b Basic) Authenticate(r *http.Request) (string, bool) {
	principal, secret, ok := BasicCredentials(r)
	if !ok || !b.Credentials.Check(principal, secret) {
		return "", false
	}
	return principal, true
}

// BasicCredentials returns the principal and secret of r's Basic
// Authorization header. As Mesos, a header whose decoded value holds
// more than one ':' is not a credential.
func BasicCredentials(r *http.Request) (principal, secret string, ok bool) {
	scheme, value, found := strings.Cut(r.Header.Get("Authorization"), " ")
	if !found || scheme != "Basic" {
		return "", "", false
	}
	decoded, err := base64.StdEncoding.DecodeString(value)
	if err != nil {
		return "", "", false
	}
	parts := strings.Split(string(decoded), ":")
	if len(parts) != 2 {
		return "", "", false
	}
	return parts[0], parts[1], true
}

// RequireBasic returns a handler that serves next only requests that
// Basic authenticates, with the principal in their context
// (PrincipalFrom); others are answered 401 with the challenge
// `WWW-Authenticate: Basic realm="<realm>"`, as Mesos answers.
func RequireBasic(realm string, b Basic, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		principal, ok := b.Authenticate(r)
		if !ok {
			Unauthorized(w, `Basic realm="`+realm+`"`)
			return
		}
		next.ServeHTTP(w, r.WithContext(WithPrincipal(r.Context(), principal)))
	})
}

// Unauthorized answers 401 with the WWW-Authenticate challenge.
func Unauthorized(w http.ResponseWriter, challenge string) {
	w.Header().Set("WWW-Authenticate", challenge)
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(http.StatusUnauthorized)
	_, _ = w.Write([]byte("401 Unauthorized: authentication required (" + challenge + ")\n"))
}

// constantTimeEqual compares a and b without leaking where they differ.
func constantTimeEqual(a, b string) bool {
	return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1
}
