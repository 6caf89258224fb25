package master

import (
	"crypto/hmac"
	"crypto/md5"
	"encoding/hex"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	"github.com/mezzo-project/mezzo/internal/libprocess"
)

// libmesosAuthenticatee plays the part of libmesos' CRAM-MD5
// authenticatee (src/authentication/cram_md5/authenticatee.cpp over Cyrus
// SASL's CRAM-MD5 client): a libprocess process of its own,
// "crammd5-authenticatee(1)", beside the scheduler driver's process,
// that sends and receives the exchange's messages as raw bytes.
type libmesosAuthenticatee struct {
	pid    libprocess.UPID
	driver string // the scheduler driver's pid, which it authenticates
	sender *libprocess.Sender
	inbox  chan libprocess.Message
}

func newLibmesosAuthenticatee(t *testing.T) *libmesosAuthenticatee {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	a := &libmesosAuthenticatee{
		pid:    libprocess.UPID{ID: "crammd5-authenticatee(1)", Host: "127.0.0.1", Port: port},
		driver: fmt.Sprintf("scheduler-7c3e2d0a-5b1f-4d8e-9a6c-2f4b8e1d0c93@127.0.0.1:%d", port),
		inbox:  make(chan libprocess.Message, 16),
	}
	rc := &libprocess.Receiver{ID: a.pid.ID, Handlers: map[string]func(libprocess.Message){}}
	for _, name := range []string{"AuthenticationMechanismsMessage", "AuthenticationStepMessage",
		"AuthenticationCompletedMessage", "AuthenticationFailedMessage", "AuthenticationErrorMessage"} {
		rc.Handlers["mesos.internal."+name] = func(m libprocess.Message) { a.inbox <- m }
	}
	srv := &http.Server{Handler: rc, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	a.sender = libprocess.NewSender(libprocess.Config{Self: a.pid, RedialInterval: time.Millisecond})
	t.Cleanup(func() {
		_ = srv.Close()
		a.sender.Close()
	})
	return a
}

func (a *libmesosAuthenticatee) send(t *testing.T, to libprocess.UPID, name string, body []byte) {
	t.Helper()
	if err := a.sender.Send(to, "mesos.internal."+name, body); err != nil {
		t.Fatalf("send %s: %v", name, err)
	}
}

func (a *libmesosAuthenticatee) next(t *testing.T, want string) libprocess.Message {
	t.Helper()
	select {
	case m := <-a.inbox:
		if m.Name != "mesos.internal."+want {
			t.Fatalf("got %s %q, want %s", m.Name, m.Body, want)
		}
		return m
	case <-time.After(10 * time.Second):
		t.Fatalf("no %s within 10s", want)
		return libprocess.Message{}
	}
}

// field1 is a message of one length-delimited field 1 of data, as
// protobuf serializes it (tag 0x0a, varint length, bytes).
func field1(data string) []byte {
	b := []byte{0x0a}
	n := len(data)
	for n >= 0x80 {
		b = append(b, byte(n)|0x80)
		n >>= 7
	}
	return append(append(b, byte(n)), data...)
}

// TestCRAMMD5AsLibmesos replays, byte for byte, the messages a libmesos
// scheduler driver's CRAM-MD5 authenticatee sends, and checks the
// master's answers byte for byte: the mechanisms "CRAM-MD5"; a step
// holding an RFC 2195 challenge; completion for the response Cyrus SASL
// computes ("<principal> <lower-case hex HMAC-MD5(secret, challenge)>",
// the principal being everything before the last space), failure for a
// wrong secret. On completion the driver's pid, not the authenticatee's,
// is authenticated.
func TestCRAMMD5AsLibmesos(t *testing.T) {
	creds := filepath.Join(t.TempDir(), "credentials.json")
	if err := os.WriteFile(creds, []byte(`{"credentials": [{"principal": "alice", "secret": "s-alice"},
		{"principal": "data team", "secret": "s-team"}]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cfg := DefaultConfig()
	cfg.Hostname, cfg.IP, cfg.Port, cfg.Registry = "localhost", "127.0.0.1", ln.Addr().(*net.TCPAddr).Port, "in_memory"
	cfg.Authentication = Authentication{Frameworks: true, Credentials: creds, Authenticators: "crammd5", HTTPAuthenticators: "basic"}
	m, err := New(cfg, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(m.Handler())
	srv.Listener.Close()
	srv.Listener = ln
	srv.Start()
	t.Cleanup(func() {
		_ = m.Close()
		srv.CloseClientConnections()
		srv.Close()
	})
	master := libprocess.UPID{ID: "master", Host: "127.0.0.1", Port: cfg.Port}
	challengeForm := regexp.MustCompile(`^<[0-9a-f]+\.[0-9]+@localhost>$`)

	for _, tc := range []struct {
		principal, secret string
		ok                bool
	}{
		{"alice", "s-alice", true},
		{"data team", "s-team", true},
		{"alice", "s-wrong", false},
	} {
		t.Run(tc.principal+"/"+tc.secret, func(t *testing.T) {
			a := newLibmesosAuthenticatee(t)
			// AuthenticateMessage{pid: the driver's pid}, to the master.
			a.send(t, master, "AuthenticateMessage", field1(a.driver))
			mech := a.next(t, "AuthenticationMechanismsMessage")
			if want := "\x0a\x08CRAM-MD5"; string(mech.Body) != want {
				t.Fatalf("mechanisms body %q, want %q", mech.Body, want)
			}
			// Cyrus' client starts CRAM-MD5 with no initial response, and
			// the authenticatee sets the data field anyway: empty.
			a.send(t, mech.From, "AuthenticationStartMessage", []byte("\x0a\x08CRAM-MD5\x12\x00"))
			step := a.next(t, "AuthenticationStepMessage")
			if len(step.Body) < 2 || step.Body[0] != 0x0a || int(step.Body[1]) != len(step.Body)-2 {
				t.Fatalf("step body %q is not one field 1", step.Body)
			}
			challenge := string(step.Body[2:])
			if !challengeForm.MatchString(challenge) {
				t.Fatalf("challenge %q is not of RFC 2195's form", challenge)
			}
			mac := hmac.New(md5.New, []byte(tc.secret))
			mac.Write([]byte(challenge))
			a.send(t, step.From, "AuthenticationStepMessage", field1(tc.principal+" "+hex.EncodeToString(mac.Sum(nil))))
			if !tc.ok {
				if failed := a.next(t, "AuthenticationFailedMessage"); len(failed.Body) != 0 {
					t.Fatalf("failed body %q", failed.Body)
				}
				if _, ok := m.v0.auth.principal(a.driver); ok {
					t.Fatal("a failed exchange authenticated the driver")
				}
				return
			}
			if done := a.next(t, "AuthenticationCompletedMessage"); len(done.Body) != 0 {
				t.Fatalf("completed body %q", done.Body)
			}
			if p, ok := m.v0.auth.principal(a.driver); !ok || p != tc.principal {
				t.Fatalf("the driver is authenticated as %q (%v), want %q", p, ok, tc.principal)
			}
			if _, ok := m.v0.auth.principal(a.pid.String()); ok {
				t.Fatal("the authenticatee's own pid was authenticated")
			}
		})
	}
}
