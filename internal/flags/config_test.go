package flags

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// configFlags is a flag set like a daemon's: a few flags of each kind and
// --config.
type configFlags struct {
	fs      *flag.FlagSet
	port    *int
	ip      *string
	workDir *string
	strict  *bool
	timeout time.Duration
	env     *string
}

func newConfigFlags() *configFlags {
	c := &configFlags{fs: flag.NewFlagSet("master", flag.ContinueOnError)}
	c.port = c.fs.Int("port", 5050, "")
	c.ip = c.fs.String("ip", "", "")
	c.workDir = c.fs.String("work_dir", "", "")
	c.strict = c.fs.Bool("registry_strict", true, "")
	DurationVar(c.fs, &c.timeout, "offer_timeout", 0, "")
	c.env = c.fs.String("executor_environment_variables", "", "")
	ConfigVar(c.fs)
	return c
}

func writeConfig(t *testing.T, name, text string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestConfigPrecedence(t *testing.T) {
	path := writeConfig(t, "master.yaml", `# a master's configuration
port: 6050
ip: 10.0.0.1
work_dir: /var/lib/from-file
registry_strict: false
offer_timeout: 2mins
executor_environment_variables: {PATH: /bin, LANG: C}
`)
	t.Setenv("MEZZO_IP", "10.0.0.2")
	t.Setenv("MEZZO_WORK_DIR", "/var/lib/from-env")
	c := newConfigFlags()
	if err := Parse(c.fs, []string{"--config=" + path, "--work_dir=/var/lib/from-flag"}, "executor_environment_variables"); err != nil {
		t.Fatal(err)
	}
	// flag > env > file > default
	if *c.workDir != "/var/lib/from-flag" || *c.ip != "10.0.0.2" || *c.port != 6050 || *c.strict || c.timeout != 2*time.Minute {
		t.Errorf("work_dir %q ip %q port %d strict %v timeout %v", *c.workDir, *c.ip, *c.port, *c.strict, c.timeout)
	}
	if *c.env != `{"LANG":"C","PATH":"/bin"}` {
		t.Errorf("a mapping should reach its flag as JSON, got %q", *c.env)
	}

	// Without the file every flag keeps its default (or the environment).
	c = newConfigFlags()
	if err := Parse(c.fs, nil); err != nil {
		t.Fatal(err)
	}
	if *c.port != 5050 || !*c.strict || *c.ip != "10.0.0.2" {
		t.Errorf("port %d strict %v ip %q", *c.port, *c.strict, *c.ip)
	}
}

func TestConfigFromEnvironmentAndJSON(t *testing.T) {
	path := writeConfig(t, "agent.json", `{"port": 7051, "offer_timeout": "30secs", "registry_strict": true}`)
	t.Setenv("MEZZO_CONFIG", path)
	c := newConfigFlags()
	if err := Parse(c.fs, nil); err != nil {
		t.Fatal(err)
	}
	if *c.port != 7051 || c.timeout != 30*time.Second || !*c.strict {
		t.Errorf("port %d timeout %v strict %v", *c.port, c.timeout, *c.strict)
	}
	// --config on the command line wins over MEZZO_CONFIG.
	other := writeConfig(t, "other.yaml", "port: 8051\n")
	c = newConfigFlags()
	if err := Parse(c.fs, []string{"--config", other}); err != nil {
		t.Fatal(err)
	}
	if *c.port != 8051 {
		t.Errorf("port %d, want the one of --config", *c.port)
	}
}

func TestConfigReportsEveryProblemWithItsKey(t *testing.T) {
	path := writeConfig(t, "bad.yaml", `port: fifty
prot: 5050
offer_timeout: 5
registry_strict: maybe
ip:
port: 1
config: /etc/other.yaml
work_dir: [a, b]
`)
	c := newConfigFlags()
	err := Parse(c.fs, []string{"--config=" + path})
	if err == nil {
		t.Fatal("a bad configuration file was accepted")
	}
	msg := err.Error()
	for _, want := range []string{
		`line 1: key "port": invalid value "fifty": parse error (want a whole number)`,
		`line 2: key "prot": unknown flag (did you mean "port"?)`,
		`line 3: key "offer_timeout": invalid value "5"`, "missing unit",
		`line 4: key "registry_strict": invalid value "maybe": parse error (want true or false)`,
		`line 5: key "ip": no value`,
		`line 6: key "port": given twice (first on line 1)`,
		`line 7: key "config": a configuration file cannot name another one`,
		`line 8: key "work_dir": a list or mapping, but --work_dir takes a single value`,
	} {
		if !strings.Contains(msg, want) {
			t.Errorf("error lacks %q:\n%s", want, msg)
		}
	}
	// One line for each problem, each naming the file.
	if n := strings.Count(msg, path); n != 8 {
		t.Errorf("%d lines name the file, want 8:\n%s", n, msg)
	}
}

func TestConfigBadFiles(t *testing.T) {
	cases := map[string]string{
		"a list":          "- port\n- ip\n",
		"not valid YAML":  "port: [5050\n",
		"second document": "port: 1\n---\nip: x\n",
		"a key must be":   "? [a, b]\n: 1\n",
	}
	for want, text := range cases {
		c := newConfigFlags()
		err := Parse(c.fs, []string{"--config=" + writeConfig(t, "c.yaml", text)})
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: got %v, want an error with %q", text, err, want)
		}
	}
	c := newConfigFlags()
	missing := filepath.Join(t.TempDir(), "missing.yaml")
	if err := Parse(c.fs, []string{"--config=" + missing}); err == nil || !strings.Contains(err.Error(), missing) {
		t.Errorf("a missing file: %v", err)
	}
	// An empty file sets nothing.
	c = newConfigFlags()
	if err := Parse(c.fs, []string{"--config=" + writeConfig(t, "empty.yaml", "")}); err != nil || *c.port != 5050 {
		t.Errorf("empty file: %v, port %d", err, *c.port)
	}
}

func TestConfigFileValues(t *testing.T) {
	dir := t.TempDir()
	res := filepath.Join(dir, "ip")
	if err := os.WriteFile(res, []byte("192.0.2.7\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	c := newConfigFlags()
	path := writeConfig(t, "c.yaml", "ip: file://"+res+"\n")
	if err := Parse(c.fs, []string{"--config=" + path}, "ip"); err != nil {
		t.Fatal(err)
	}
	if *c.ip != "192.0.2.7" {
		t.Errorf("ip %q: a file:// value from the configuration file should be read", *c.ip)
	}
}
