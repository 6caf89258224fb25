package tlsutil

import (
	"crypto/tls"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
)

// Config is what the LIBPROCESS_SSL_* variables say. Mesos also reads
// each under the older SSL_ prefix; so does FromEnv.
type Config struct {
	// Enabled turns TLS on (LIBPROCESS_SSL_ENABLED): listeners speak TLS
	// and clients dial https. Default false; everything below needs it.
	Enabled bool
	// CertFile and KeyFile are the PEM certificate (chain) and private key
	// this process presents, as a server and, when asked, as a client
	// (LIBPROCESS_SSL_CERT_FILE, LIBPROCESS_SSL_KEY_FILE). Both required
	// when Enabled; re-read when they change.
	CertFile, KeyFile string
	// CAFile is a PEM bundle of the certificate authorities trusted to
	// sign peers' certificates (LIBPROCESS_SSL_CA_FILE); CADir a directory
	// of such PEM files (LIBPROCESS_SSL_CA_DIR). Either or both; with
	// neither the system's roots are trusted. Setting one also turns on
	// mutual TLS between masters and agents (see the package doc).
	CAFile, CADir string
	// VerifyServerCert makes clients verify the server's certificate
	// against the CAs and the dialled host name or IP
	// (LIBPROCESS_SSL_VERIFY_SERVER_CERT, legacy LIBPROCESS_SSL_VERIFY_CERT).
	// Default: true when a CA is configured or RequireClientCert is set,
	// false otherwise (Mesos' default is false even with a CA).
	VerifyServerCert bool
	// RequireClientCert makes listeners refuse clients without a
	// certificate signed by the CAs (LIBPROCESS_SSL_REQUIRE_CLIENT_CERT,
	// legacy LIBPROCESS_SSL_REQUIRE_CERT). Default false.
	RequireClientCert bool
	// SupportDowngrade lets listeners take plain HTTP on the TLS port
	// (told apart by the first byte: a TLS handshake starts with 0x16),
	// and clients retry in plain HTTP when the TLS handshake fails
	// (LIBPROCESS_SSL_SUPPORT_DOWNGRADE). Default false.
	SupportDowngrade bool
	// MinVersion and MaxVersion bound the protocol versions
	// (LIBPROCESS_SSL_ENABLE_TLS_V1_0 .. _V1_3); default TLS 1.2 to 1.3.
	MinVersion, MaxVersion uint16
}

// HasCA says whether a CA file or directory is configured.
func (c Config) HasCA() bool { return c.CAFile != "" || c.CADir != "" }

// Validate checks that an enabled Config names a certificate and a key
// and a sane version range.
func (c Config) Validate() error {
	if !c.Enabled {
		return nil
	}
	var errs []error
	if c.CertFile == "" {
		errs = append(errs, errors.New("LIBPROCESS_SSL_CERT_FILE is required when LIBPROCESS_SSL_ENABLED=true (flags: --ssl_cert_file, --ssl_enabled)"))
	}
	if c.KeyFile == "" {
		errs = append(errs, errors.New("LIBPROCESS_SSL_KEY_FILE is required when LIBPROCESS_SSL_ENABLED=true (flags: --ssl_key_file, --ssl_enabled)"))
	}
	if c.MinVersion == 0 || c.MaxVersion == 0 || c.MinVersion > c.MaxVersion {
		errs = append(errs, errors.New("no TLS protocol version is enabled (LIBPROCESS_SSL_ENABLE_TLS_V1_*)"))
	}
	return errors.Join(errs...)
}

// versionVars are the protocol switches, oldest first, with Mesos'
// defaults except TLS 1.3 (Mesos: off, "not supported yet"; Go's TLS 1.3
// is mature, so Mezzo turns it on).
var versionVars = []struct {
	name    string
	version uint16
	def     bool
}{
	{"ENABLE_TLS_V1_0", tls.VersionTLS10, false},
	{"ENABLE_TLS_V1_1", tls.VersionTLS11, false},
	{"ENABLE_TLS_V1_2", tls.VersionTLS12, true},
	{"ENABLE_TLS_V1_3", tls.VersionTLS13, true},
}

// unsupported are libprocess' variables Mezzo cannot honour: setting one
// is an error rather than a silent difference.
var unsupported = []struct{ name, why string }{
	{"ENABLE_SSL_V3", "SSL 3.0 is not implemented by Go's crypto/tls"},
	{"CIPHERS", "Go's crypto/tls chooses the cipher suites of each protocol version itself"},
	{"ECDH_CURVE", "Go's crypto/tls chooses the curves itself"},
	{"VERIFY_DEPTH", "Go's certificate verification has no depth limit to set"},
	{"HOSTNAME_VALIDATION_SCHEME", "Mezzo always validates the dialled host name or IP against the certificate's names when it verifies"},
}

// FromEnv reads the LIBPROCESS_SSL_* (or SSL_*) variables through lookup
// (os.LookupEnv in a process) and returns the Setup they describe: nil
// when TLS is not enabled. Every malformed or unsupported variable is
// reported, by name.
func FromEnv(lookup func(string) (string, bool)) (*Setup, error) {
	cfg, err := ConfigFromEnv(lookup)
	if err != nil {
		return nil, err
	}
	if !cfg.Enabled {
		return nil, nil
	}
	return New(cfg)
}

// ConfigFromEnv reads the LIBPROCESS_SSL_* (or SSL_*) variables through
// lookup into a Config, without loading any file.
func ConfigFromEnv(lookup func(string) (string, bool)) (Config, error) {
	return (*Flags)(nil).Config(lookup)
}

// configFrom reads a Config through get, which returns a setting's value
// by its variable's name without the LIBPROCESS_SSL_ prefix, the name of
// where it came from (a variable or a flag) for errors, and whether it
// is set.
func configFrom(get func(name string) (value, source string, ok bool)) (Config, error) {
	var errs []error
	boolean := func(name string, def bool) (bool, bool) {
		v, full, ok := get(name)
		if !ok {
			return def, false
		}
		switch strings.ToLower(strings.TrimSpace(v)) {
		case "true", "1":
			return true, true
		case "false", "0":
			return false, true
		}
		if strings.HasPrefix(full, "--") {
			// A flag's value was checked when it was parsed.
			return v == "true", true
		}
		errs = append(errs, fmt.Errorf("%s=%q: want true, false, 1 or 0", full, v))
		return def, true
	}
	str := func(name string) string { v, _, _ := get(name); return v }

	var c Config
	c.Enabled, _ = boolean("ENABLED", false)
	c.CertFile, c.KeyFile = str("CERT_FILE"), str("KEY_FILE")
	c.CAFile, c.CADir = str("CA_FILE"), str("CA_DIR")
	c.SupportDowngrade, _ = boolean("SUPPORT_DOWNGRADE", false)
	if v, set := boolean("ENABLE_DOWNGRADE", false); set {
		c.SupportDowngrade = c.SupportDowngrade || v
	}
	require, _ := boolean("REQUIRE_CERT", false)
	requireClient, _ := boolean("REQUIRE_CLIENT_CERT", false)
	c.RequireClientCert = require || requireClient
	verifyDefault := c.HasCA() || c.RequireClientCert
	verify, verifySet := boolean("VERIFY_CERT", verifyDefault)
	verifyServer, verifyServerSet := boolean("VERIFY_SERVER_CERT", verifyDefault)
	switch {
	case verifyServerSet:
		c.VerifyServerCert = verifyServer
	case verifySet:
		c.VerifyServerCert = verify
	default:
		c.VerifyServerCert = verifyDefault
	}
	if c.RequireClientCert {
		// As in Mesos: requiring client certificates implies verifying.
		c.VerifyServerCert = true
	}
	if v, set := boolean("VERIFY_IPADD", false); set && !v {
		errs = append(errs, errors.New("LIBPROCESS_SSL_VERIFY_IPADD=false: Mezzo always checks a certificate's IP addresses when a peer is dialled by IP; unset it"))
	}
	for _, vv := range versionVars {
		on, _ := boolean(vv.name, vv.def)
		if !on {
			continue
		}
		if c.MinVersion == 0 {
			c.MinVersion = vv.version
		} else if c.MaxVersion != vv.version-1 {
			errs = append(errs, fmt.Errorf("LIBPROCESS_SSL_%s: the enabled TLS versions must be consecutive", vv.name))
		}
		c.MaxVersion = vv.version
	}
	for _, u := range unsupported {
		if _, full, ok := get(u.name); ok {
			errs = append(errs, fmt.Errorf("%s is not supported: %s; unset it", full, u.why))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return Config{}, err
	}
	return c, c.Validate()
}

var defaultSetup = sync.OnceValues(func() (*Setup, error) { return FromEnv(os.LookupEnv) })

// Default is the Setup of this process' environment, read once: what
// clients (the CLI, executors, schedulers) use. Nil when TLS is off.
func Default() (*Setup, error) { return defaultSetup() }
