package tlsutil

import (
	"flag"
	"fmt"
	"strconv"
)

// Flags are the command-line flags that set what the LIBPROCESS_SSL_*
// variables set (Mezzo's; Mesos takes these settings from the
// environment only). A flag given on the command line overrides its
// variable; one not given leaves the variable in charge. Register them
// with AddFlags, then build the Setup with Setup.
type Flags struct {
	values []*flagValue
}

// flagValue is one flag: its value and whether it was given.
type flagValue struct {
	name    string   // flag name, "ssl_enabled"
	vars    []string // the variables it stands for, without the LIBPROCESS_SSL_ prefix
	boolean bool
	value   string
	set     bool
}

func (v *flagValue) String() string {
	if v == nil {
		return ""
	}
	return v.value
}

func (v *flagValue) Set(s string) error {
	if v.boolean {
		b, err := strconv.ParseBool(s)
		if err != nil {
			return fmt.Errorf("want true or false")
		}
		s = strconv.FormatBool(b)
	}
	v.value, v.set = s, true
	return nil
}

func (v *flagValue) IsBoolFlag() bool { return v.boolean }

// Type names the value's kind in command-line help.
func (v *flagValue) Type() string {
	if v.boolean {
		return "bool"
	}
	return "string"
}

// flagSpecs are the flags, by the variable each overrides. The legacy
// and alternative names of a variable (VERIFY_SERVER_CERT,
// REQUIRE_CLIENT_CERT, ENABLE_DOWNGRADE) are overridden with it.
var flagSpecs = []struct {
	name    string
	vars    []string
	boolean bool
	usage   string
}{
	{"ssl_enabled", []string{"ENABLED"}, true, "Speak TLS: listeners take TLS and clients dial https (LIBPROCESS_SSL_ENABLED)."},
	{"ssl_cert_file", []string{"CERT_FILE"}, false, "PEM certificate (chain) this process presents, as a server and as a client (LIBPROCESS_SSL_CERT_FILE)."},
	{"ssl_key_file", []string{"KEY_FILE"}, false, "PEM private key of --ssl_cert_file (LIBPROCESS_SSL_KEY_FILE)."},
	{"ssl_ca_file", []string{"CA_FILE"}, false, "PEM file of the CAs trusted to sign peers' certificates; also turns on mutual TLS between masters and agents (LIBPROCESS_SSL_CA_FILE)."},
	{"ssl_ca_dir", []string{"CA_DIR"}, false, "Directory of PEM files of trusted CAs (LIBPROCESS_SSL_CA_DIR)."},
	{"ssl_verify_cert", []string{"VERIFY_CERT", "VERIFY_SERVER_CERT"}, true, "Clients verify the server's certificate against the CAs and the dialled host (LIBPROCESS_SSL_VERIFY_CERT; default: true with a CA)."},
	{"ssl_require_cert", []string{"REQUIRE_CERT", "REQUIRE_CLIENT_CERT"}, true, "Listeners refuse clients without a certificate the CAs signed; implies --ssl_verify_cert (LIBPROCESS_SSL_REQUIRE_CERT)."},
	{"ssl_support_downgrade", []string{"SUPPORT_DOWNGRADE", "ENABLE_DOWNGRADE"}, true, "Listeners also take plain HTTP on their port, and clients retry in plain HTTP when the TLS handshake fails (LIBPROCESS_SSL_SUPPORT_DOWNGRADE)."},
}

// AddFlags registers the --ssl_* flags on fs, bound to f.
func (f *Flags) AddFlags(fs *flag.FlagSet) {
	if f.values == nil {
		for _, s := range flagSpecs {
			f.values = append(f.values, &flagValue{name: s.name, vars: s.vars, boolean: s.boolean})
		}
	}
	for i, s := range flagSpecs {
		fs.Var(f.values[i], s.name, s.usage)
	}
}

// Given reports whether any --ssl_* flag was set.
func (f *Flags) Given() bool {
	for _, v := range f.values {
		if v.set {
			return true
		}
	}
	return false
}

// Config is the TLS configuration of the flags given, over the
// variables lookup finds (os.LookupEnv in a process). Errors name the
// flag or the variable that is wrong.
func (f *Flags) Config(lookup func(string) (string, bool)) (Config, error) {
	return configFrom(func(name string) (string, string, bool) {
		if f != nil {
			for _, v := range f.values {
				for _, n := range v.vars {
					if n == name && v.set {
						return v.value, "--" + v.name, true
					}
				}
			}
		}
		for _, prefix := range []string{"LIBPROCESS_SSL_", "SSL_"} {
			if v, ok := lookup(prefix + name); ok {
				return v, prefix + name, true
			}
		}
		return "", "LIBPROCESS_SSL_" + name, false
	})
}

// Setup is the Setup of Config: nil when TLS is off.
func (f *Flags) Setup(lookup func(string) (string, bool)) (*Setup, error) {
	cfg, err := f.Config(lookup)
	if err != nil {
		return nil, err
	}
	if !cfg.Enabled {
		return nil, nil
	}
	return New(cfg)
}

// FlagValues are s's effective settings under the --ssl_* flags' names,
// as /flags shows them: whether they came from a flag or a variable.
func (s *Setup) FlagValues() map[string]string {
	c := s.Config()
	out := map[string]string{
		"ssl_enabled":           strconv.FormatBool(c.Enabled),
		"ssl_verify_cert":       strconv.FormatBool(c.VerifyServerCert),
		"ssl_require_cert":      strconv.FormatBool(c.RequireClientCert),
		"ssl_support_downgrade": strconv.FormatBool(c.SupportDowngrade),
	}
	for name, v := range map[string]string{"ssl_cert_file": c.CertFile, "ssl_key_file": c.KeyFile, "ssl_ca_file": c.CAFile, "ssl_ca_dir": c.CADir} {
		if v != "" {
			out[name] = v
		}
	}
	return out
}
