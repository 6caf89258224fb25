package master

import (
	"encoding/base64"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/mezzo-project/mezzo/api/v1/codec"
	"github.com/mezzo-project/mezzo/api/v1/mesos"
	"github.com/mezzo-project/mezzo/api/v1/recordio"
	schedpb "github.com/mezzo-project/mezzo/api/v1/scheduler"
	"github.com/mezzo-project/mezzo/internal/agentproto"
)

// authMaster starts a master with every authentication flag on and the
// principals alice, bob and agent.
func authMaster(t *testing.T) *httptest.Server {
	t.Helper()
	creds := filepath.Join(t.TempDir(), "credentials")
	if err := os.WriteFile(creds, []byte("alice s-alice\nbob s-bob\nagent s-agent\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := DefaultConfig()
	cfg.Hostname, cfg.IP, cfg.Registry = "localhost", "127.0.0.1", "in_memory"
	cfg.AllocationInterval = 50 * time.Millisecond
	cfg.Authentication = Authentication{Frameworks: true, Agents: true, HTTPReadonly: true, HTTPReadwrite: true,
		HTTPFrameworks: true, HTTPFrameworkAuthenticators: "basic", Credentials: creds,
		Authenticators: "crammd5", HTTPAuthenticators: "basic"}
	m, err := New(cfg, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(m.Handler())
	t.Cleanup(func() {
		_ = m.Close()
		srv.CloseClientConnections()
		srv.Close()
	})
	return srv
}

func basic(principal, secret string) map[string]string {
	return map[string]string{"Authorization": "Basic " + base64.StdEncoding.EncodeToString([]byte(principal+":"+secret))}
}

func with(h map[string]string, kv ...string) map[string]string {
	out := map[string]string{}
	for k, v := range h {
		out[k] = v
	}
	for i := 0; i+1 < len(kv); i += 2 {
		out[kv[i]] = kv[i+1]
	}
	return out
}

func get(t *testing.T, url string, header map[string]string) *http.Response {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp
}

func TestAuthnRealms(t *testing.T) {
	srv := authMaster(t)
	for _, tc := range []struct{ path, realm string }{
		{"/master/state", "mesos-master-readonly"},
		{"/state", "mesos-master-readonly"},
		{"/metrics/snapshot", "mesos-master-readonly"},
		{"/master/flags", "mesos-master-readonly"},
		{"/files/browse?path=/master/log", "mesos-master-readonly"},
		{"/master/api/v1", "mesos-master-readwrite"},
		{"/master/teardown", "mesos-master-readwrite"},
		{"/master/quota", "mesos-master-readwrite"},
		{"/master/weights", "mesos-master-readwrite"},
		{"/master/api/v1/scheduler", "mesos-master-scheduler"},
		{"/master/api/v1/agent", "mezzo-master-agent"},
	} {
		resp := get(t, srv.URL+tc.path, nil)
		if resp.StatusCode != 401 || resp.Header.Get("WWW-Authenticate") != `Basic realm="`+tc.realm+`"` {
			t.Errorf("%s without credentials: %d %q, want 401 realm %s", tc.path, resp.StatusCode, resp.Header.Get("WWW-Authenticate"), tc.realm)
		}
		if resp := get(t, srv.URL+tc.path, basic("alice", "wrong")); resp.StatusCode != 401 {
			t.Errorf("%s with a wrong secret: %d", tc.path, resp.StatusCode)
		}
	}
	if resp := get(t, srv.URL+"/master/state", basic("alice", "s-alice")); resp.StatusCode != 200 {
		t.Errorf("/master/state with credentials: %d", resp.StatusCode)
	}
	if resp := get(t, srv.URL+"/", nil); resp.StatusCode != 401 || resp.Header.Get("WWW-Authenticate") != `Basic realm="mesos-master-readonly"` {
		t.Errorf("the web UI's page: %d, want 401 so the browser asks for credentials", resp.StatusCode)
	}
	for _, p := range []string{"/health", "/master/health", "/version"} {
		if resp := get(t, srv.URL+p, nil); resp.StatusCode == 401 {
			t.Errorf("%s is not protected by Mesos but answered 401", p)
		}
	}
	// A cross-site form post is refused even with the browser's stored
	// credentials; a same-site one goes through.
	form := "application/x-www-form-urlencoded"
	resp := post(t, srv.URL+"/master/teardown", form, []byte("frameworkID=x"), with(basic("alice", "s-alice"), "Origin", "http://evil.example"))
	resp.Body.Close()
	if resp.StatusCode != 403 {
		t.Errorf("cross-site teardown: %d, want 403", resp.StatusCode)
	}
	resp = post(t, srv.URL+"/master/teardown", form, []byte("frameworkID=x"), with(basic("alice", "s-alice"), "Origin", srv.URL))
	resp.Body.Close()
	if resp.StatusCode == 403 || resp.StatusCode == 401 {
		t.Errorf("same-site teardown: %d", resp.StatusCode)
	}
}

func TestAuthnFrameworkPrincipal(t *testing.T) {
	srv := authMaster(t)
	url := srv.URL + "/api/v1/scheduler"
	subscribe := func(info *mesos.FrameworkInfo, header map[string]string) *http.Response {
		call := &schedpb.Call{Type: schedpb.Call_SUBSCRIBE.Enum(), FrameworkId: info.Id, Subscribe: &schedpb.Call_Subscribe{FrameworkInfo: info}}
		resp := post(t, url, "application/json", jsonBody(t, call), with(header, "Accept", "application/json"))
		t.Cleanup(func() { resp.Body.Close() })
		return resp
	}
	refused := func(resp *http.Response, want string) {
		t.Helper()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 400 || !strings.Contains(string(b), want) {
			t.Fatalf("got %d %s, want 400 %q", resp.StatusCode, b, want)
		}
	}
	info := func(principal string) *mesos.FrameworkInfo {
		i := &mesos.FrameworkInfo{User: proto.String("u"), Name: proto.String("f")}
		if principal != "" {
			i.Principal = proto.String(principal)
		}
		return i
	}
	refused(subscribe(info("bob"), basic("alice", "s-alice")), "does not match principal 'bob'")
	refused(subscribe(info(""), basic("alice", "s-alice")), "Authenticated principal 'alice'")
	if resp := subscribe(info("alice"), nil); resp.StatusCode != 401 {
		t.Fatalf("unauthenticated SUBSCRIBE: %d", resp.StatusCode)
	}

	resp := subscribe(info("alice"), basic("alice", "s-alice"))
	if resp.StatusCode != 200 {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("alice's SUBSCRIBE: %d %s", resp.StatusCode, b)
	}
	s := &stream{t: t, resp: resp, r: recordio.NewReader(resp.Body, 4<<20), format: codec.JSON, id: resp.Header.Get("Mesos-Stream-Id")}
	ev := &schedpb.Event{}
	s.next(ev)
	fid := ev.GetSubscribed().GetFrameworkId()
	if fid.GetValue() == "" {
		t.Fatalf("alice got %v", ev)
	}

	// bob, authenticated, tries to take over alice's framework: as
	// himself (the principal would change) and as alice (the principal
	// is not his).
	stolen := info("bob")
	stolen.Id = fid
	second := subscribe(stolen, basic("bob", "s-bob"))
	if second.StatusCode == 200 {
		bs := &stream{t: t, resp: second, r: recordio.NewReader(second.Body, 4<<20), format: codec.JSON}
		got := &schedpb.Event{}
		bs.next(got)
		if got.GetType() != schedpb.Event_ERROR || !strings.Contains(got.GetError().GetMessage(), "Changing framework's principal is not allowed") {
			t.Fatalf("bob's failover to alice's framework: %v", got)
		}
	} else {
		t.Fatalf("bob's failover: %d", second.StatusCode)
	}
	asAlice := info("alice")
	asAlice.Id = fid
	refused(subscribe(asAlice, basic("bob", "s-bob")), "Authenticated principal 'bob' does not match principal 'alice'")

	// bob's calls on alice's framework are refused before the stream id
	// is looked at.
	revive := &schedpb.Call{Type: schedpb.Call_REVIVE.Enum(), FrameworkId: fid}
	r2 := post(t, url, "application/json", jsonBody(t, revive), with(basic("bob", "s-bob"), "Mesos-Stream-Id", s.id))
	defer r2.Body.Close()
	refused(r2, "Authenticated principal 'bob' does not match principal 'alice'")
	// alice's own call goes through.
	r3 := post(t, url, "application/json", jsonBody(t, revive), with(basic("alice", "s-alice"), "Mesos-Stream-Id", s.id))
	r3.Body.Close()
	if r3.StatusCode != 202 {
		t.Fatalf("alice's REVIVE: %d", r3.StatusCode)
	}
}

func TestAuthnAgents(t *testing.T) {
	srv := authMaster(t)
	reg := func(id string) *agentproto.AgentCall {
		c := &agentproto.AgentCall{Type: agentproto.AgentCall_REGISTER.Enum(), Register: &agentproto.AgentCall_Register{
			AgentInfo: &mesos.AgentInfo{Hostname: proto.String("localhost"), Port: proto.Int32(5051), Resources: mustResources(t, "cpus:2;mem:1024")},
			Endpoint:  proto.String("127.0.0.1:5051"),
			Version:   proto.String("1.11.1"),
		}}
		if id != "" {
			c.Register.AgentInfo.Id = &mesos.AgentID{Value: proto.String(id)}
		}
		return c
	}
	url := srv.URL + "/master/api/v1/agent"
	resp := post(t, url, "application/json", jsonBody(t, reg("")), nil)
	resp.Body.Close()
	if resp.StatusCode != 401 {
		t.Fatalf("agent without credentials: %d", resp.StatusCode)
	}
	resp = post(t, url, "application/json", jsonBody(t, reg("")), basic("agent", "s-agent"))
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("agent with credentials: %d", resp.StatusCode)
	}
	as := &stream{t: t, r: recordio.NewReader(resp.Body, 4<<20), format: codec.JSON}
	ev := &agentproto.AgentEvent{}
	as.next(ev)
	id := ev.GetRegistered().GetAgentId().GetValue()
	if id == "" {
		t.Fatalf("agent got %v", ev)
	}
	// Another principal claims the connected agent's id.
	imp := post(t, url, "application/json", jsonBody(t, reg(id)), basic("bob", "s-bob"))
	b, _ := io.ReadAll(imp.Body)
	imp.Body.Close()
	if imp.StatusCode != 403 || !strings.Contains(string(b), "connected from another host or principal") {
		t.Fatalf("impostor agent: %d %s", imp.StatusCode, b)
	}
}

func TestAuthnBadConfig(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.json")
	if err := os.WriteFile(bad, []byte(`{"credentials": [{"principal": "a"}]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	for name, tc := range map[string]struct {
		a    Authentication
		want string
	}{
		"bad file":         {Authentication{HTTPReadonly: true, Credentials: bad}, bad},
		"missing file":     {Authentication{HTTPReadonly: true, Credentials: filepath.Join(dir, "none")}, "--credentials"},
		"no credentials":   {Authentication{Agents: true}, "--authenticate_agents requires --credentials"},
		"http authn":       {Authentication{HTTPAuthenticators: "jwt"}, "--http_authenticators=jwt"},
		"authenticators":   {Authentication{Authenticators: "kerberos"}, "--authenticators=kerberos"},
		"http frameworks":  {Authentication{HTTPFrameworks: true, Credentials: bad}, "requires --http_framework_authenticators"},
		"framework authn":  {Authentication{HTTPFrameworkAuthenticators: "custom"}, "--http_framework_authenticators=custom"},
		"http credentials": {Authentication{HTTPReadonly: true, HTTPCredentials: bad}, "--http_credentials"},
	} {
		cfg := DefaultConfig()
		cfg.Registry = "in_memory"
		cfg.Authentication = tc.a
		m, err := New(cfg, testLogger(t))
		if err == nil {
			m.Close()
			t.Errorf("%s: accepted", name)
			continue
		}
		if !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", name, err, tc.want)
		}
	}
}
