package tlsutil_test

import (
	"flag"
	"strings"
	"testing"

	"github.com/mezzo-project/mezzo/internal/tlsutil"
)

// parseFlags registers the --ssl_* flags on a fresh flag set and parses
// args into them.
func parseFlags(t *testing.T, args ...string) *tlsutil.Flags {
	t.Helper()
	var f tlsutil.Flags
	fs := flag.NewFlagSet("test", flag.ContinueOnError)
	f.AddFlags(fs)
	if err := fs.Parse(args); err != nil {
		t.Fatal(err)
	}
	return &f
}

// TestFlagsOverrideEnvironment: each --ssl_* flag given decides its
// setting whatever the environment says, under every name of its
// variable; a flag not given leaves the variable in charge.
func TestFlagsOverrideEnvironment(t *testing.T) {
	environ := env(map[string]string{
		"LIBPROCESS_SSL_ENABLED":             "false",
		"LIBPROCESS_SSL_CERT_FILE":           "/env/cert",
		"LIBPROCESS_SSL_KEY_FILE":            "/env/key",
		"LIBPROCESS_SSL_CA_DIR":              "/env/cas",
		"LIBPROCESS_SSL_VERIFY_SERVER_CERT":  "true",
		"LIBPROCESS_SSL_REQUIRE_CLIENT_CERT": "true",
		"SSL_ENABLE_DOWNGRADE":               "true",
	})
	c, err := parseFlags(t, "--ssl_enabled", "--ssl_cert_file=/flag/cert", "--ssl_ca_file=/flag/ca",
		"--ssl_verify_cert=false", "--ssl_require_cert=false", "--ssl_support_downgrade=false").Config(environ)
	if err != nil {
		t.Fatal(err)
	}
	want := tlsutil.Config{Enabled: true, CertFile: "/flag/cert", KeyFile: "/env/key", CAFile: "/flag/ca", CADir: "/env/cas",
		MinVersion: c.MinVersion, MaxVersion: c.MaxVersion}
	if c != want {
		t.Errorf("flags over the environment: %+v\nwant %+v", c, want)
	}

	// Without flags, the environment decides.
	c, err = parseFlags(t).Config(environ)
	if err != nil || c.Enabled || !c.VerifyServerCert || !c.RequireClientCert || !c.SupportDowngrade || c.CertFile != "/env/cert" {
		t.Errorf("the environment alone: %+v, %v", c, err)
	}

	// Flags alone: enabled with a CA, verification follows as for the
	// variables.
	c, err = parseFlags(t, "--ssl_enabled=true", "--ssl_cert_file=c", "--ssl_key_file=k", "--ssl_ca_file=ca").Config(env(nil))
	if err != nil || !c.Enabled || !c.VerifyServerCert || c.RequireClientCert {
		t.Errorf("flags alone: %+v, %v", c, err)
	}

	// A missing key is named by flag and variable.
	_, err = parseFlags(t, "--ssl_enabled", "--ssl_cert_file=c").Config(env(nil))
	if err == nil || !strings.Contains(err.Error(), "--ssl_key_file") {
		t.Errorf("enabled by flag without a key: %v", err)
	}

	// A bad boolean is refused by the flag parser, naming the flag.
	var f tlsutil.Flags
	fs := flag.NewFlagSet("test", flag.ContinueOnError)
	fs.SetOutput(new(strings.Builder))
	f.AddFlags(fs)
	if err := fs.Parse([]string{"--ssl_require_cert=maybe"}); err == nil || !strings.Contains(err.Error(), "ssl_require_cert") {
		t.Errorf("--ssl_require_cert=maybe: %v", err)
	}
}

// TestFlagValues: /flags shows the effective settings under the flags'
// names, also with TLS off.
func TestFlagValues(t *testing.T) {
	var off *tlsutil.Setup
	if v := off.FlagValues(); v["ssl_enabled"] != "false" || len(v) != 4 {
		t.Errorf("TLS off: %v", v)
	}
}
