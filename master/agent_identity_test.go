package master

import (
	"crypto/tls"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/mezzo-project/mezzo/api/v1/codec"
	"github.com/mezzo-project/mezzo/api/v1/mesos"
	"github.com/mezzo-project/mezzo/api/v1/recordio"
	"github.com/mezzo-project/mezzo/internal/agentproto"
	"github.com/mezzo-project/mezzo/internal/tlsutil"
	"github.com/mezzo-project/mezzo/internal/tlsutil/tlstest"
)

// TestAgentCertificateNamesTheAgent: under mutual TLS, the master
// registers an agent whose verified certificate names its hostname, its
// advertised address or the address it connects from, and refuses one
// whose certificate names none of them with an ERROR event that says
// what the certificate names.
func TestAgentCertificateNamesTheAgent(t *testing.T) {
	dir := t.TempDir()
	ca := tlstest.NewCA(t, dir, "ca")
	mCert, mKey, _ := ca.Issue(t, dir, "master", "127.0.0.1")
	setup := func(cert, key string) *tlsutil.Setup {
		s, err := tlsutil.New(tlsutil.Config{Enabled: true, CertFile: cert, KeyFile: key, CAFile: ca.File,
			VerifyServerCert: true, MinVersion: tls.VersionTLS12, MaxVersion: tls.VersionTLS13})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	cfg := DefaultConfig()
	cfg.Hostname, cfg.IP, cfg.Registry = "localhost", "127.0.0.1", "in_memory"
	cfg.AllocationInterval = 50 * time.Millisecond
	cfg.TLS = setup(mCert, mKey)
	m, err := New(cfg, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(m.Handler())
	srv.TLS = cfg.TLS.ServerConfig()
	srv.StartTLS()
	t.Cleanup(func() {
		_ = m.Close()
		srv.CloseClientConnections()
		srv.Close()
	})

	cases := []struct {
		name, hostname, endpoint string
		certNames                []string
		refusal                  string // "" when registered
	}{
		{"hostname", "agent1.example.org", "10.9.9.1:5051", []string{"agent1.example.org"}, ""},
		{"wildcard hostname", "node4.rack7.example.org", "10.9.9.2:5051", []string{"*.rack7.example.org"}, ""},
		{"advertised address", "agent3", "10.9.9.3:5051", []string{"10.9.9.3"}, ""},
		{"connecting address", "agent4", "10.9.9.4:5051", []string{"127.0.0.1"}, ""},
		{"another agent's names", "agent5.example.org", "10.9.9.5:5051", []string{"agent6.example.org", "10.9.9.6"},
			"certificate \"CN=another agent's names\" (DNS:agent6.example.org, IP:10.9.9.6) names none of agent5.example.org, 10.9.9.5, 127.0.0.1"},
		{"no names", "agent7", "10.9.9.7:5051", nil, "no DNS or IP subject alternative name"},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cert, key, _ := ca.Issue(t, dir, tc.name, tc.certNames...)
			client := setup(cert, key).Client(10 * time.Second)
			defer client.CloseIdleConnections()
			call := &agentproto.AgentCall{Type: agentproto.AgentCall_REGISTER.Enum(), Register: &agentproto.AgentCall_Register{
				AgentInfo: &mesos.AgentInfo{Hostname: proto.String(tc.hostname), Port: proto.Int32(5051),
					Resources: mustResources(t, "cpus:1;mem:128")},
				Endpoint: proto.String(tc.endpoint),
				Version:  proto.String("1.11.1"),
			}}
			req, err := http.NewRequest(http.MethodPost, srv.URL+"/master/api/v1/agent", strings.NewReader(string(jsonBody(t, call))))
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Content-Type", "application/json")
			resp, err := client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			if resp.StatusCode != 200 {
				t.Fatalf("case %d: status %d", i, resp.StatusCode)
			}
			ev := &agentproto.AgentEvent{}
			(&stream{t: t, r: recordio.NewReader(resp.Body, 4<<20), format: codec.JSON}).next(ev)
			switch {
			case tc.refusal == "" && ev.GetType() != agentproto.AgentEvent_REGISTERED:
				t.Fatalf("want REGISTERED, got %v", ev)
			case tc.refusal != "" && (ev.GetType() != agentproto.AgentEvent_ERROR || !strings.Contains(ev.GetError().GetMessage(), tc.refusal)):
				t.Fatalf("want ERROR saying %q, got %v", tc.refusal, ev)
			}
			t.Logf("%v", ev)
		})
	}
}
