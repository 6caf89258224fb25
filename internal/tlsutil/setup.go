package tlsutil

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"
)

// Setup is a process' TLS: its settings plus the certificate, key and CA
// pool, re-read when their files change. Safe for concurrent use. A nil
// *Setup is plain HTTP.
type Setup struct {
	cfg   Config
	log   *slog.Logger
	cert  *reloading[*tls.Certificate]
	roots *reloading[*x509.CertPool]
}

// New loads cfg's certificate, key and CAs and returns its Setup; nil
// when cfg is not enabled. The files must be readable now; later changes
// are picked up by new handshakes.
func New(cfg Config) (*Setup, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if !cfg.Enabled {
		return nil, nil
	}
	s := &Setup{cfg: cfg, log: slog.New(slog.DiscardHandler)}
	s.cert = &reloading[*tls.Certificate]{
		what:  "certificate",
		files: func() ([]string, error) { return []string{cfg.CertFile, cfg.KeyFile}, nil },
		load: func() (*tls.Certificate, error) {
			c, err := tls.LoadX509KeyPair(cfg.CertFile, cfg.KeyFile)
			if err != nil {
				return nil, fmt.Errorf("LIBPROCESS_SSL_CERT_FILE=%s, LIBPROCESS_SSL_KEY_FILE=%s (--ssl_cert_file, --ssl_key_file): %w", cfg.CertFile, cfg.KeyFile, err)
			}
			return &c, nil
		},
	}
	s.roots = &reloading[*x509.CertPool]{what: "CA certificates", files: cfg.caFiles, load: cfg.loadRoots}
	if _, err := s.cert.get(s.log); err != nil {
		return nil, err
	}
	if _, err := s.roots.get(s.log); err != nil {
		return nil, err
	}
	return s, nil
}

// WithLogger returns s logging reloads and downgrades to log.
func (s *Setup) WithLogger(log *slog.Logger) *Setup {
	if s == nil || log == nil {
		return s
	}
	c := *s
	c.log = log
	return &c
}

// Config returns s's settings; the zero Config for a nil Setup.
func (s *Setup) Config() Config {
	if s == nil {
		return Config{}
	}
	return s.cfg
}

// Scheme is the URL scheme of s's peers: "https", or "http" for nil.
func (s *Setup) Scheme() string {
	if s == nil {
		return "http"
	}
	return "https"
}

// MutualTLS says whether masters and agents authenticate each other:
// TLS with a configured CA (see the package doc).
func (s *Setup) MutualTLS() bool { return s != nil && s.cfg.HasCA() }

// PeerVerified says whether r came over TLS from a client that presented
// a certificate the configured CAs verified.
func PeerVerified(r *http.Request) bool {
	return r.TLS != nil && len(r.TLS.VerifiedChains) > 0
}

// ServerConfig is the tls.Config of s's listeners: the current
// certificate, HTTP/1.1 only, and client certificates asked for and
// verified when a CA is configured, required when RequireClientCert.
func (s *Setup) ServerConfig() *tls.Config {
	auth := tls.NoClientCert
	switch {
	case s.cfg.RequireClientCert:
		auth = tls.RequireAndVerifyClientCert
	case s.cfg.HasCA():
		auth = tls.VerifyClientCertIfGiven
	}
	base := &tls.Config{MinVersion: s.cfg.MinVersion, MaxVersion: s.cfg.MaxVersion, NextProtos: []string{"http/1.1"}}
	base.GetConfigForClient = func(*tls.ClientHelloInfo) (*tls.Config, error) {
		cert, err := s.cert.get(s.log)
		if err != nil {
			return nil, err
		}
		roots, err := s.roots.get(s.log)
		if err != nil {
			return nil, err
		}
		return &tls.Config{
			Certificates: []tls.Certificate{*cert},
			ClientCAs:    roots,
			ClientAuth:   auth,
			MinVersion:   s.cfg.MinVersion,
			MaxVersion:   s.cfg.MaxVersion,
			NextProtos:   []string{"http/1.1"},
		}, nil
	}
	return base
}

// ClientConfig is the tls.Config for dialling host (a name or an IP):
// it presents s's current certificate when asked and, when
// VerifyServerCert, verifies the server's against the current CAs and
// host. (The check runs in VerifyConnection so that a replaced CA file
// is seen by the next handshake.)
func (s *Setup) ClientConfig(host string) *tls.Config {
	return &tls.Config{
		ServerName: host,
		MinVersion: s.cfg.MinVersion,
		MaxVersion: s.cfg.MaxVersion,
		NextProtos: []string{"http/1.1"},
		GetClientCertificate: func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
			return s.cert.get(s.log)
		},
		InsecureSkipVerify: true, // verified below, against the CAs of the moment
		VerifyConnection: func(cs tls.ConnectionState) error {
			if !s.cfg.VerifyServerCert {
				return nil
			}
			if len(cs.PeerCertificates) == 0 {
				return fmt.Errorf("%s presented no certificate", host)
			}
			roots, err := s.roots.get(s.log)
			if err != nil {
				return err
			}
			inter := x509.NewCertPool()
			for _, c := range cs.PeerCertificates[1:] {
				inter.AddCert(c)
			}
			_, err = cs.PeerCertificates[0].Verify(x509.VerifyOptions{
				DNSName:       host,
				Roots:         roots,
				Intermediates: inter,
				KeyUsages:     []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
			})
			if err != nil {
				return fmt.Errorf("verify the certificate of %s: %w", host, err)
			}
			return nil
		},
	}
}

// DialFunc opens a plain connection.
type DialFunc func(ctx context.Context, network, addr string) (net.Conn, error)

// DialTLS opens a TLS connection to addr over a connection dial opens
// and completes the handshake. When the handshake fails and
// SupportDowngrade is set, it dials again and returns the plain
// connection, as libprocess does.
func (s *Setup) DialTLS(ctx context.Context, network, addr string, dial DialFunc) (net.Conn, error) {
	raw, err := dial(ctx, network, addr)
	if err != nil {
		return nil, err
	}
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		raw.Close()
		return nil, fmt.Errorf("dial %s: %w", addr, err)
	}
	tc := tls.Client(raw, s.ClientConfig(host))
	herr := tc.HandshakeContext(ctx)
	if herr == nil {
		return tc, nil
	}
	raw.Close()
	if !s.cfg.SupportDowngrade || ctx.Err() != nil {
		return nil, fmt.Errorf("TLS handshake with %s: %w", addr, herr)
	}
	s.log.Warn("TLS handshake failed; downgrading to plain HTTP (LIBPROCESS_SSL_SUPPORT_DOWNGRADE)", "peer", addr, "err", herr)
	return dial(ctx, network, addr)
}

// Configure makes t dial https URLs with s (see DialTLS), over t's
// DialContext (or a 30 s dialer), and speak HTTP/1.1 only. A nil s
// leaves t as it is. It returns t.
func (s *Setup) Configure(t *http.Transport) *http.Transport {
	if s == nil {
		return t
	}
	dial := t.DialContext
	if dial == nil {
		dial = (&net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}).DialContext
	}
	t.DialTLSContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		return s.DialTLS(ctx, network, addr, dial)
	}
	t.ForceAttemptHTTP2 = false
	t.TLSNextProto = map[string]func(string, *tls.Conn) http.RoundTripper{}
	return t
}

// Transport is a clone of http.DefaultTransport configured with s.
func (s *Setup) Transport() *http.Transport {
	return s.Configure(http.DefaultTransport.(*http.Transport).Clone())
}

// Client is an http.Client over Transport with the given timeout (0: none).
func (s *Setup) Client(timeout time.Duration) *http.Client {
	return &http.Client{Transport: s.Transport(), Timeout: timeout}
}

// Env is the environment a child process (an executor) needs to speak
// TLS as this one does: the LIBPROCESS_SSL_* variables of s's settings
// ("KEY=value"). Nil for a nil s.
func (s *Setup) Env() []string {
	if s == nil {
		return nil
	}
	c := s.cfg
	b := func(v bool) string {
		if v {
			return "true"
		}
		return "false"
	}
	env := []string{
		"LIBPROCESS_SSL_ENABLED=true",
		"LIBPROCESS_SSL_CERT_FILE=" + c.CertFile,
		"LIBPROCESS_SSL_KEY_FILE=" + c.KeyFile,
		"LIBPROCESS_SSL_VERIFY_CERT=" + b(c.VerifyServerCert),
		"LIBPROCESS_SSL_REQUIRE_CERT=" + b(c.RequireClientCert),
		"LIBPROCESS_SSL_SUPPORT_DOWNGRADE=" + b(c.SupportDowngrade),
	}
	if c.CAFile != "" {
		env = append(env, "LIBPROCESS_SSL_CA_FILE="+c.CAFile)
	}
	if c.CADir != "" {
		env = append(env, "LIBPROCESS_SSL_CA_DIR="+c.CADir)
	}
	for _, vv := range versionVars {
		env = append(env, "LIBPROCESS_SSL_"+vv.name+"="+b(vv.version >= c.MinVersion && vv.version <= c.MaxVersion))
	}
	return env
}

// caFiles lists the files the CA pool is read from.
func (c Config) caFiles() ([]string, error) {
	var files []string
	if c.CAFile != "" {
		files = append(files, c.CAFile)
	}
	if c.CADir != "" {
		entries, err := os.ReadDir(c.CADir)
		if err != nil {
			return nil, fmt.Errorf("LIBPROCESS_SSL_CA_DIR=%s (--ssl_ca_dir): %w", c.CADir, err)
		}
		for _, e := range entries {
			if e.Type().IsRegular() || e.Type()&os.ModeSymlink != 0 {
				files = append(files, filepath.Join(c.CADir, e.Name()))
			}
		}
	}
	return files, nil
}

// loadRoots reads the CA pool: the system's roots when no CA is set.
func (c Config) loadRoots() (*x509.CertPool, error) {
	if !c.HasCA() {
		pool, err := x509.SystemCertPool()
		if err != nil {
			return nil, fmt.Errorf("the system's CA certificates: %w", err)
		}
		return pool, nil
	}
	pool := x509.NewCertPool()
	n := 0
	if c.CAFile != "" {
		b, err := os.ReadFile(c.CAFile)
		if err != nil {
			return nil, fmt.Errorf("LIBPROCESS_SSL_CA_FILE (--ssl_ca_file): %w", err)
		}
		if !pool.AppendCertsFromPEM(b) {
			return nil, fmt.Errorf("LIBPROCESS_SSL_CA_FILE=%s (--ssl_ca_file) holds no PEM certificate", c.CAFile)
		}
		n++
	}
	if c.CADir != "" {
		files, err := c.caFiles()
		if err != nil {
			return nil, err
		}
		for _, f := range files {
			if f == c.CAFile {
				continue
			}
			b, err := os.ReadFile(f)
			if err != nil {
				return nil, fmt.Errorf("LIBPROCESS_SSL_CA_DIR (--ssl_ca_dir): %w", err)
			}
			if blk, _ := pem.Decode(b); blk != nil && pool.AppendCertsFromPEM(b) {
				n++
			}
		}
	}
	if n == 0 {
		return nil, fmt.Errorf("LIBPROCESS_SSL_CA_DIR=%s (--ssl_ca_dir) holds no PEM certificate", c.CADir)
	}
	return pool, nil
}

// fileStamp is what tells a changed file: its size and modification time.
type fileStamp struct {
	path string
	size int64
	mod  int64 // nanoseconds since the epoch
}

// reloading is a value read from files, read again when one of them
// changes. A failed reload keeps the previous value (a file being
// replaced may be caught half-written) and is retried next time.
type reloading[T any] struct {
	what  string
	files func() ([]string, error)
	load  func() (T, error)

	mu     sync.Mutex
	stamps []fileStamp
	cur    T
	have   bool
}

// get returns the current value, reloaded first when a file changed.
func (r *reloading[T]) get(log *slog.Logger) (T, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	stamps, serr := r.stamp()
	if r.have && serr == nil && slices.Equal(stamps, r.stamps) {
		return r.cur, nil
	}
	v, err := r.load()
	if serr != nil {
		stamps = nil // not known: read again next time
	}
	if err != nil {
		if r.have {
			log.Warn("cannot reload the TLS "+r.what+"; keeping the previous one", "err", err)
			return r.cur, nil
		}
		var zero T
		return zero, err
	}
	if r.have {
		log.Info("reloaded the TLS " + r.what)
	}
	r.cur, r.stamps, r.have = v, stamps, true
	return v, nil
}

func (r *reloading[T]) stamp() ([]fileStamp, error) {
	files, err := r.files()
	if err != nil {
		return nil, err
	}
	var out []fileStamp
	var errs []error
	for _, f := range files {
		fi, err := os.Stat(f)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		out = append(out, fileStamp{path: f, size: fi.Size(), mod: fi.ModTime().UnixNano()})
	}
	return out, errors.Join(errs...)
}
