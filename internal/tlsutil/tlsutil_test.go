package tlsutil_test

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mezzo-project/mezzo/internal/tlsutil"
	"github.com/mezzo-project/mezzo/internal/tlsutil/tlstest"
)

// pki is a CA with a server and a client certificate in a temp dir.
type pki struct {
	dir             string
	ca              *tlstest.CA
	srvCert, srvKey string
	cliCert, cliKey string
	srvSerial       int64
}

func newPKI(t *testing.T) *pki {
	dir := t.TempDir()
	p := &pki{dir: dir, ca: tlstest.NewCA(t, dir, "ca")}
	p.srvCert, p.srvKey, p.srvSerial = p.ca.Issue(t, dir, "server", "127.0.0.1", "localhost")
	p.cliCert, p.cliKey, _ = p.ca.Issue(t, dir, "client")
	return p
}

func env(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

func mustSetup(t *testing.T, vars map[string]string) *tlsutil.Setup {
	t.Helper()
	s, err := tlsutil.FromEnv(env(vars))
	if err != nil {
		t.Fatal(err)
	}
	if s == nil {
		t.Fatal("TLS not enabled")
	}
	return s
}

// serve runs an HTTP server answering the client certificate's name (or
// "anonymous") and the scheme on s's listener; it returns the address.
func serve(t *testing.T, s *tlsutil.Setup) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := tlsutil.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		who := "anonymous"
		if tlsutil.PeerVerified(r) {
			who = r.TLS.PeerCertificates[0].Subject.CommonName
		}
		scheme := "http"
		if r.TLS != nil {
			scheme = "https"
		}
		fmt.Fprintf(w, "%s %s", scheme, who)
	}), tlsutil.ServerOptions{})
	go srv.Serve(s.Listen(tlsutil.LimitListener(ln, 0)))
	t.Cleanup(func() { srv.Close() })
	return ln.Addr().String()
}

func get(t *testing.T, c *http.Client, url string) (string, error) {
	t.Helper()
	resp, err := c.Get(url)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return string(b), err
}

func TestConfigFromEnvNamesEveryProblem(t *testing.T) {
	_, err := tlsutil.ConfigFromEnv(env(map[string]string{
		"LIBPROCESS_SSL_ENABLED":   "yes",
		"LIBPROCESS_SSL_CIPHERS":   "AES128-SHA",
		"SSL_VERIFY_DEPTH":         "4",
		"LIBPROCESS_SSL_CERT_FILE": "/x",
	}))
	if err == nil {
		t.Fatal("accepted a bad environment")
	}
	for _, want := range []string{`LIBPROCESS_SSL_ENABLED="yes"`, "LIBPROCESS_SSL_CIPHERS is not supported", "SSL_VERIFY_DEPTH is not supported"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
	_, err = tlsutil.ConfigFromEnv(env(map[string]string{"LIBPROCESS_SSL_ENABLED": "true"}))
	if err == nil || !strings.Contains(err.Error(), "LIBPROCESS_SSL_CERT_FILE is required") {
		t.Errorf("enabled without a certificate: %v", err)
	}
	_, err = tlsutil.ConfigFromEnv(env(map[string]string{"LIBPROCESS_SSL_ENABLED": "1", "LIBPROCESS_SSL_CERT_FILE": "c", "LIBPROCESS_SSL_KEY_FILE": "k",
		"LIBPROCESS_SSL_ENABLE_TLS_V1_0": "true", "LIBPROCESS_SSL_ENABLE_TLS_V1_2": "false", "LIBPROCESS_SSL_ENABLE_TLS_V1_3": "false"}))
	if err != nil {
		t.Errorf("TLS 1.0 only: %v", err)
	}
	_, err = tlsutil.ConfigFromEnv(env(map[string]string{"LIBPROCESS_SSL_ENABLED": "1", "LIBPROCESS_SSL_CERT_FILE": "c", "LIBPROCESS_SSL_KEY_FILE": "k",
		"LIBPROCESS_SSL_ENABLE_TLS_V1_0": "true"}))
	if err == nil || !strings.Contains(err.Error(), "consecutive") {
		t.Errorf("TLS 1.0 and 1.2: %v", err)
	}
	c, err := tlsutil.ConfigFromEnv(env(map[string]string{"LIBPROCESS_SSL_ENABLED": "false"}))
	if err != nil || c.Enabled {
		t.Errorf("disabled: %+v, %v", c, err)
	}
	if _, err := tlsutil.FromEnv(env(map[string]string{"LIBPROCESS_SSL_ENABLED": "1", "LIBPROCESS_SSL_CERT_FILE": "/nonexistent/c", "LIBPROCESS_SSL_KEY_FILE": "/nonexistent/k"})); err == nil || !strings.Contains(err.Error(), "LIBPROCESS_SSL_CERT_FILE=/nonexistent/c") {
		t.Errorf("missing files: %v", err)
	}
}

// TestReloadCertificate replaces the server's certificate and key files:
// the next handshake presents the new certificate, with no restart.
func TestReloadCertificate(t *testing.T) {
	p := newPKI(t)
	s := mustSetup(t, map[string]string{
		"LIBPROCESS_SSL_ENABLED": "true", "LIBPROCESS_SSL_CERT_FILE": p.srvCert, "LIBPROCESS_SSL_KEY_FILE": p.srvKey,
		"LIBPROCESS_SSL_CA_FILE": p.ca.File,
	})
	addr := serve(t, s)
	serialOf := func() int64 {
		t.Helper()
		conn, err := tls.Dial("tcp", addr, &tls.Config{InsecureSkipVerify: true})
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		return conn.ConnectionState().PeerCertificates[0].SerialNumber.Int64()
	}
	if got := serialOf(); got != p.srvSerial {
		t.Fatalf("serial %d, want %d", got, p.srvSerial)
	}
	_, _, second := p.ca.Issue(t, p.dir, "server", "127.0.0.1")
	if got := serialOf(); got != second {
		t.Fatalf("after the files were replaced: serial %d, want %d", got, second)
	}
	// Rotations while handshakes run: every handshake succeeds with one
	// of the certificates issued.
	var wg sync.WaitGroup
	stop := make(chan struct{})
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			p.ca.Issue(t, p.dir, "server", "127.0.0.1")
		}
	}()
	for range 50 {
		conn, err := tls.Dial("tcp", addr, &tls.Config{InsecureSkipVerify: true})
		if err != nil {
			t.Errorf("handshake during rotation: %v", err)
			break
		}
		conn.Close()
	}
	close(stop)
	wg.Wait()
	_, _, last := p.ca.Issue(t, p.dir, "server", "127.0.0.1")
	if got := serialOf(); got != last {
		t.Fatalf("after the rotations: serial %d, want %d", got, last)
	}
}

// TestDowngrade serves plain HTTP and TLS on one port when
// SUPPORT_DOWNGRADE, and TLS only without it.
func TestDowngrade(t *testing.T) {
	p := newPKI(t)
	vars := map[string]string{
		"LIBPROCESS_SSL_ENABLED": "true", "LIBPROCESS_SSL_CERT_FILE": p.srvCert, "LIBPROCESS_SSL_KEY_FILE": p.srvKey,
		"LIBPROCESS_SSL_CA_FILE": p.ca.File, "LIBPROCESS_SSL_SUPPORT_DOWNGRADE": "true",
	}
	s := mustSetup(t, vars)
	addr := serve(t, s)
	plain := &http.Client{Timeout: 5 * time.Second}
	if got, err := get(t, plain, "http://"+addr+"/"); err != nil || got != "http anonymous" {
		t.Fatalf("plain HTTP with downgrade: %q, %v", got, err)
	}
	if got, err := get(t, s.Client(5*time.Second), "https://"+addr+"/"); err != nil || got != "https client" && got != "https server" {
		t.Fatalf("TLS with downgrade: %q, %v", got, err)
	}
	// A client with downgrade falls back to plain HTTP against a plain
	// server.
	plainLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	plainSrv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "plain server") })}
	go plainSrv.Serve(plainLn)
	defer plainSrv.Close()
	if got, err := get(t, s.Client(5*time.Second), "https://"+plainLn.Addr().String()+"/"); err != nil || got != "plain server" {
		t.Fatalf("downgrading client against a plain server: %q, %v", got, err)
	}

	delete(vars, "LIBPROCESS_SSL_SUPPORT_DOWNGRADE")
	strict := mustSetup(t, vars)
	addr = serve(t, strict)
	if got, err := get(t, plain, "http://"+addr+"/"); err == nil && !strings.Contains(got, "HTTP request to an HTTPS server") {
		t.Fatalf("plain HTTP without downgrade answered %q", got)
	}
	if got, err := get(t, strict.Client(5*time.Second), "https://"+addr+"/"); err != nil || !strings.HasPrefix(got, "https ") {
		t.Fatalf("TLS without downgrade: %q, %v", got, err)
	}
	if _, err := get(t, strict.Client(5*time.Second), "https://"+plainLn.Addr().String()+"/"); err == nil {
		t.Fatal("a client without downgrade spoke plain HTTP")
	}
}

// TestVerifyAndRequire: client certificates are verified when presented
// and a CA is set, required with REQUIRE_CERT; servers are verified by
// clients that have a CA.
func TestVerifyAndRequire(t *testing.T) {
	p := newPKI(t)
	other := tlstest.NewCA(t, p.dir, "other")
	rogueCert, rogueKey, _ := other.Issue(t, p.dir, "rogue", "127.0.0.1")
	base := func(extra ...string) map[string]string {
		m := map[string]string{"LIBPROCESS_SSL_ENABLED": "true", "LIBPROCESS_SSL_CERT_FILE": p.srvCert, "LIBPROCESS_SSL_KEY_FILE": p.srvKey, "LIBPROCESS_SSL_CA_FILE": p.ca.File}
		for i := 0; i+1 < len(extra); i += 2 {
			m[extra[i]] = extra[i+1]
		}
		return m
	}
	client := func(cert, key, ca string) *http.Client {
		m := map[string]string{"LIBPROCESS_SSL_ENABLED": "true", "LIBPROCESS_SSL_CERT_FILE": cert, "LIBPROCESS_SSL_KEY_FILE": key}
		if ca != "" {
			m["LIBPROCESS_SSL_CA_FILE"] = ca
		}
		return mustSetup(t, m).Client(5 * time.Second)
	}
	noCert := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}

	// CA set, no REQUIRE_CERT: verified clients are known, clients
	// without a certificate are anonymous, untrusted certificates fail.
	addr := "https://" + serve(t, mustSetup(t, base())) + "/"
	if got, err := get(t, client(p.cliCert, p.cliKey, p.ca.File), addr); err != nil || got != "https client" {
		t.Errorf("trusted client: %q, %v", got, err)
	}
	if got, err := get(t, noCert, addr); err != nil || got != "https anonymous" {
		t.Errorf("client without a certificate: %q, %v", got, err)
	}
	if got, err := get(t, client(rogueCert, rogueKey, p.ca.File), addr); err == nil {
		t.Errorf("untrusted client certificate accepted: %q", got)
	}

	// REQUIRE_CERT: no certificate, no connection.
	addr = "https://" + serve(t, mustSetup(t, base("LIBPROCESS_SSL_REQUIRE_CERT", "true"))) + "/"
	if got, err := get(t, noCert, addr); err == nil {
		t.Errorf("REQUIRE_CERT let a client without a certificate in: %q", got)
	}
	if got, err := get(t, client(p.cliCert, p.cliKey, p.ca.File), addr); err != nil || got != "https client" {
		t.Errorf("REQUIRE_CERT, trusted client: %q, %v", got, err)
	}

	// A client verifying against its CA refuses a server the CA did not
	// sign, and one whose certificate does not name the dialled host.
	rogueSrv := map[string]string{"LIBPROCESS_SSL_ENABLED": "true", "LIBPROCESS_SSL_CERT_FILE": rogueCert, "LIBPROCESS_SSL_KEY_FILE": rogueKey}
	addr = "https://" + serve(t, mustSetup(t, rogueSrv)) + "/"
	if _, err := get(t, client(p.cliCert, p.cliKey, p.ca.File), addr); err == nil || !strings.Contains(err.Error(), "verify the certificate") {
		t.Errorf("client accepted a server signed by another CA: %v", err)
	}
	unverified := map[string]string{"LIBPROCESS_SSL_ENABLED": "true", "LIBPROCESS_SSL_CERT_FILE": p.cliCert, "LIBPROCESS_SSL_KEY_FILE": p.cliKey}
	if _, err := get(t, mustSetup(t, unverified).Client(5*time.Second), addr); err != nil {
		t.Errorf("without a CA or VERIFY_CERT the client does not verify (as Mesos): %v", err)
	}
	// The client certificate names no host: signed by the right CA, it
	// still fails the host check.
	nameless := serve(t, mustSetup(t, map[string]string{"LIBPROCESS_SSL_ENABLED": "true", "LIBPROCESS_SSL_CERT_FILE": p.cliCert, "LIBPROCESS_SSL_KEY_FILE": p.cliKey}))
	if _, err := get(t, client(p.cliCert, p.cliKey, p.ca.File), "https://"+nameless+"/"); err == nil || !strings.Contains(err.Error(), "127.0.0.1") {
		t.Errorf("client accepted a certificate that does not name 127.0.0.1: %v", err)
	}
}

// TestSlowClientsAreCut: connections that never finish their headers
// are closed within the header timeout, and a body that trickles is cut
// at the body timeout; a streaming response is not cut.
func TestSlowClientsAreCut(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	bodyErr := make(chan error, 1)
	srv := tlsutil.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/body":
			_, err := io.ReadAll(r.Body)
			bodyErr <- err
		case "/stream":
			if _, err := io.ReadAll(r.Body); err != nil {
				t.Errorf("stream body: %v", err)
			}
			for i := range 4 {
				fmt.Fprintf(w, "event %d\n", i)
				w.(http.Flusher).Flush()
				time.Sleep(400 * time.Millisecond)
			}
		}
	}), tlsutil.ServerOptions{HeaderTimeout: time.Second, BodyTimeout: time.Second})
	go srv.Serve(tlsutil.LimitListener(ln, 1000))
	defer srv.Close()
	addr := ln.Addr().String()

	const n = 500
	start := time.Now()
	var wg sync.WaitGroup
	closed := make(chan time.Duration, n)
	for range n {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer c.Close()
			io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\n") // never ends the headers
			_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
			_, err := io.Copy(io.Discard, c)
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				closed <- -1
				return
			}
			closed <- time.Since(start)
		}()
	}
	wg.Wait()
	close(closed)
	for d := range closed {
		if d < 0 || d > 5*time.Second {
			t.Fatalf("a slow-header connection was still open after %v", d)
		}
	}

	// A body that stops half-way is cut at the body timeout.
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	io.WriteString(c, "POST /body HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nhalf")
	select {
	case err := <-bodyErr:
		if err == nil {
			t.Fatal("a 100-byte body of 4 bytes was read to its end")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("a trickling body was not cut within 5 s")
	}

	// A streaming answer outlives the body timeout.
	c2, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	io.WriteString(c2, "POST /stream HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}")
	resp, err := http.ReadResponse(bufio.NewReader(c2), nil)
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(resp.Body)
	if err != nil || strings.Count(string(b), "event") != 4 {
		t.Fatalf("stream cut: %q, %v", b, err)
	}
}

// TestDowngradeListenerClose: closing a downgrade listener with silent
// connections pending returns at once.
func TestDowngradeListenerClose(t *testing.T) {
	p := newPKI(t)
	s := mustSetup(t, map[string]string{"LIBPROCESS_SSL_ENABLED": "true", "LIBPROCESS_SSL_CERT_FILE": p.srvCert, "LIBPROCESS_SSL_KEY_FILE": p.srvKey, "LIBPROCESS_SSL_SUPPORT_DOWNGRADE": "true"})
	raw, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln := s.Listen(raw)
	for range 10 {
		c, err := net.Dial("tcp", raw.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	done := make(chan struct{})
	go func() { ln.Close(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
		t.Fatal("Close waited for silent connections")
	}
	if _, err := ln.Accept(); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("Accept after Close: %v", err)
	}
}

// TestEnvRoundTrip: the variables a Setup passes to executors describe
// the same settings.
func TestEnvRoundTrip(t *testing.T) {
	p := newPKI(t)
	s := mustSetup(t, map[string]string{
		"LIBPROCESS_SSL_ENABLED": "true", "LIBPROCESS_SSL_CERT_FILE": p.srvCert, "LIBPROCESS_SSL_KEY_FILE": p.srvKey,
		"LIBPROCESS_SSL_CA_FILE": p.ca.File, "LIBPROCESS_SSL_SUPPORT_DOWNGRADE": "1", "SSL_REQUIRE_CERT": "true",
		"LIBPROCESS_SSL_ENABLE_TLS_V1_3": "false",
	})
	vars := map[string]string{}
	for _, kv := range s.Env() {
		k, v, _ := strings.Cut(kv, "=")
		vars[k] = v
	}
	again, err := tlsutil.ConfigFromEnv(env(vars))
	if err != nil {
		t.Fatal(err)
	}
	if again != s.Config() {
		t.Fatalf("round trip:\n got %+v\nwant %+v", again, s.Config())
	}
	if c := s.Config(); c.MaxVersion != tls.VersionTLS12 || !c.RequireClientCert || !c.VerifyServerCert || !c.SupportDowngrade {
		t.Fatalf("settings %+v", c)
	}
	var none *tlsutil.Setup
	if none.Env() != nil || none.Scheme() != "http" || none.MutualTLS() {
		t.Fatal("a nil Setup is not plain HTTP")
	}
}
