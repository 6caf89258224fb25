package agent

import (
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mezzo-project/mezzo/api/v1/codec"
	execpb "github.com/mezzo-project/mezzo/api/v1/executor"
	"github.com/mezzo-project/mezzo/internal/auth"
)

// authAgent is apiAgent with executor and HTTP authentication on; it
// returns the key its executor tokens are signed with.
func authAgent(t *testing.T) (*Agent, *httptest.Server, []byte) {
	dir := t.TempDir()
	key := []byte("agent-secret-key-0123456789")
	keyFile, creds := filepath.Join(dir, "key"), filepath.Join(dir, "creds")
	if err := os.WriteFile(keyFile, key, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(creds, []byte(`{"credentials":[{"principal":"ops","secret":"pw"}]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	m := newFakeMaster(t)
	a := startAgent(t, m, func(c *Config) {
		c.Authentication = Authentication{HTTPExecutors: true, JWTSecretKey: keyFile,
			HTTPReadonly: true, HTTPReadwrite: true, HTTPCredentials: creds}
	})
	a.do(func() { registeringExecutor(t, a, 1) })
	srv := httptest.NewServer(a.Handler())
	t.Cleanup(srv.Close)
	return a, srv, key
}

func TestExecutorTokens(t *testing.T) {
	a, srv, key := authAgent(t)
	var cid string
	var env map[string]string
	a.do(func() {
		ex := a.st.frameworks["F1"].executors["E1"]
		cid = ex.containerID
		env = a.executorEnv(ex, ex.info.GetCommand())
	})
	// The executor's environment carries its token.
	claims, err := auth.VerifyExecutorToken(key, env[auth.ExecutorTokenEnv])
	if err != nil || claims != (auth.ExecutorClaims{FrameworkID: "F1", ExecutorID: "E1", ContainerID: cid}) {
		t.Fatalf("token in the environment: %+v, %v", claims, err)
	}
	url := srv.URL + "/api/v1/executor"
	f := codec.JSON
	sub := call(execpb.Call_SUBSCRIBE, "F1", "E1")
	sub.Subscribe = &execpb.Call_Subscribe{}
	try := func(name string, token string, want int, wantChallenge string) {
		t.Helper()
		hdr := map[string]string{"Accept": f.MediaType()}
		if token != "" {
			hdr["Authorization"] = token
		}
		resp := post(t, url, f, enc(t, f, sub), hdr)
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		resp.Body.Close()
		if resp.StatusCode != want || !strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), wantChallenge) {
			t.Errorf("%s: %d %q %s, want %d %q", name, resp.StatusCode, resp.Header.Get("WWW-Authenticate"), b, want, wantChallenge)
		}
	}
	other := func(c auth.ExecutorClaims, k []byte) string {
		tok, err := auth.IssueExecutorToken(k, c)
		if err != nil {
			t.Fatal(err)
		}
		return "Bearer " + tok
	}
	try("no token", "", 401, `Bearer realm="mesos-agent-executor"`)
	try("basic", "Basic b3BzOnB3", 401, `Bearer realm="mesos-agent-executor", error="invalid_token"`)
	try("another key", other(claims, []byte("not the agent's key")), 401, `Bearer realm="mesos-agent-executor", error="invalid_token"`)
	try("another executor's token", other(auth.ExecutorClaims{FrameworkID: "F1", ExecutorID: "E2", ContainerID: cid}, key), 403, "")
	try("another framework's token", other(auth.ExecutorClaims{FrameworkID: "F2", ExecutorID: "E1", ContainerID: cid}, key), 403, "")
	try("an old container's token", other(auth.ExecutorClaims{FrameworkID: "F1", ExecutorID: "E1", ContainerID: "old"}, key), 403, "")

	// The executor's own token subscribes.
	resp := post(t, url, f, enc(t, f, sub), map[string]string{"Accept": f.MediaType(), "Authorization": "Bearer " + env[auth.ExecutorTokenEnv]})
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("own token: %d", resp.StatusCode)
	}
}

func TestAgentHTTPRealms(t *testing.T) {
	_, srv, _ := authAgent(t)
	for path, realm := range map[string]string{
		"/state": "mesos-agent-readonly", "/slave(1)/state": "mesos-agent-readonly", "/flags": "mesos-agent-readonly",
		"/metrics/snapshot": "mesos-agent-readonly", "/files/debug": "mesos-agent-readonly", "/containers": "mesos-agent-readonly",
		"/api/v1": "mesos-agent-readwrite", "/slave(1)/api/v1": "mesos-agent-readwrite",
	} {
		resp, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 401 || resp.Header.Get("WWW-Authenticate") != `Basic realm="`+realm+`"` {
			t.Errorf("%s: %d %q, want 401 %s", path, resp.StatusCode, resp.Header.Get("WWW-Authenticate"), realm)
		}
	}
	req, _ := http.NewRequest("GET", srv.URL+"/state", nil)
	req.SetBasicAuth("ops", "pw")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("/state with credentials: %d", resp.StatusCode)
	}
	// A browser's cross-site post to the operator API is refused even with
	// its stored credentials.
	req, _ = http.NewRequest("POST", srv.URL+"/api/v1", strings.NewReader(`{"type":"GET_HEALTH"}`))
	req.SetBasicAuth("ops", "pw")
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Origin", "http://evil.example")
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 403 {
		t.Errorf("cross-site operator call: %d, want 403", resp.StatusCode)
	}
	req.Header.Del("Origin")
	req.Body = io.NopCloser(strings.NewReader(`{"type":"GET_HEALTH"}`))
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("operator call with credentials: %d", resp.StatusCode)
	}
	if resp, _ := http.Get(srv.URL + "/health"); resp.StatusCode != 200 {
		t.Errorf("/health: %d", resp.StatusCode)
	}
}

func TestAgentAuthnFlags(t *testing.T) {
	dir := t.TempDir()
	empty := filepath.Join(dir, "empty")
	if err := os.WriteFile(empty, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	for name, tc := range map[string]struct {
		a    Authentication
		want string
	}{
		"executors without key": {Authentication{HTTPExecutors: true}, "--jwt_secret_key"},
		"empty key":             {Authentication{JWTSecretKey: empty}, "is empty"},
		"readonly without file": {Authentication{HTTPReadonly: true}, "require --http_credentials"},
		"bad credential":        {Authentication{Credential: empty}, "--credential"},
		"bad credentials":       {Authentication{HTTPReadonly: true, HTTPCredentials: empty}, empty},
		"authenticator":         {Authentication{HTTPAuthenticators: "jwt"}, "--http_authenticators=jwt"},
	} {
		if _, err := newAuthn(tc.a); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", name, err, tc.want)
		}
	}
	cred := filepath.Join(dir, "cred")
	if err := os.WriteFile(cred, []byte(`{"principal":"agent1","secret":"s"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	n, err := newAuthn(Authentication{Credential: "file://" + cred})
	if err != nil {
		t.Fatal(err)
	}
	req := httptest.NewRequest("POST", "/master/api/v1/agent", nil)
	n.authorize(req)
	if p, s, ok := req.BasicAuth(); !ok || p != "agent1" || s != "s" {
		t.Fatalf("the agent's requests to the master carry %q %q %v", p, s, ok)
	}
}
