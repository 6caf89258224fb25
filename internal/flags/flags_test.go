package flags

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestParseDuration(t *testing.T) {
	good := map[string]time.Duration{
		"15secs": 15 * time.Second, "500ms": 500 * time.Millisecond, "2mins": 2 * time.Minute,
		"1.5secs": 1500 * time.Millisecond, "10mins": 10 * time.Minute, "1weeks": 7 * 24 * time.Hour,
		"3days": 72 * time.Hour, "2hrs": 2 * time.Hour, "7us": 7 * time.Microsecond, "9ns": 9, "0secs": 0,
	}
	for in, want := range good {
		got, err := ParseDuration(in)
		if err != nil || got != want {
			t.Errorf("ParseDuration(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"", "secs", "15", "15s", "fifteen secs", "1e400secs", "NaNsecs"} {
		if _, err := ParseDuration(in); err == nil {
			t.Errorf("ParseDuration(%q) succeeded", in)
		}
	}
}

func TestFormatDuration(t *testing.T) {
	cases := map[time.Duration]string{
		15 * time.Second: "15secs", 90 * time.Second: "1.5mins", 10 * time.Minute: "10mins",
		500 * time.Millisecond: "500ms", 0: "0ns", 14 * 24 * time.Hour: "2weeks", -2 * time.Second: "-2secs",
	}
	for in, want := range cases {
		if got := FormatDuration(in); got != want {
			t.Errorf("FormatDuration(%v) = %q, want %q", in, got, want)
		}
		back, err := ParseDuration(FormatDuration(in))
		if err != nil || back != in {
			t.Errorf("round trip of %v: %v %v", in, back, err)
		}
	}
}

func TestParseEnvAndFiles(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "res")
	if err := os.WriteFile(path, []byte("cpus:2\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv("MEZZO_PORT", "6060")
	t.Setenv("MESOS_HOSTNAME", "from-mesos-env")
	t.Setenv("MEZZO_WORK_DIR", "/ignored")
	fs := flag.NewFlagSet("agent", flag.ContinueOnError)
	port := fs.Int("port", 5051, "")
	host := fs.String("hostname", "", "")
	wd := fs.String("work_dir", "", "")
	res := fs.String("resources", "", "")
	var timeout time.Duration
	DurationVar(fs, &timeout, "ping_timeout", 15*time.Second, "")
	err := Parse(fs, []string{"--work_dir=/tmp/w", "--resources=file://" + path, "--ping_timeout=2mins"}, "resources")
	if err != nil {
		t.Fatal(err)
	}
	if *port != 6060 || *host != "from-mesos-env" || *wd != "/tmp/w" || *res != "cpus:2" || timeout != 2*time.Minute {
		t.Fatalf("got port=%d host=%q wd=%q res=%q timeout=%v", *port, *host, *wd, *res, timeout)
	}
}

func TestParseErrorsNameTheFlag(t *testing.T) {
	fs := flag.NewFlagSet("master", flag.ContinueOnError)
	var d time.Duration
	DurationVar(fs, &d, "offer_timeout", 0, "")
	err := Parse(fs, []string{"--offer_timeout=5"})
	if err == nil || !strings.Contains(err.Error(), "offer_timeout") || !strings.Contains(err.Error(), "missing unit") {
		t.Fatalf("got %v", err)
	}
	err = Parse(flag.NewFlagSet("master", flag.ContinueOnError), []string{"--nope=1"})
	if err == nil || !strings.Contains(err.Error(), "nope") {
		t.Fatalf("got %v", err)
	}
}

func TestParseNegatedBooleans(t *testing.T) {
	fs := flag.NewFlagSet("agent", flag.ContinueOnError)
	strict := fs.Bool("strict", true, "")
	quiet := fs.Bool("quiet", true, "")
	name := fs.String("name", "", "")
	if err := Parse(fs, []string{"--no-strict", "-no-quiet", "--name=--no-strict"}); err != nil {
		t.Fatal(err)
	}
	if *strict || *quiet || *name != "--no-strict" {
		t.Errorf("strict %v quiet %v name %q", *strict, *quiet, *name)
	}
	// Only booleans have a negation; anything else is an unknown flag.
	fs = flag.NewFlagSet("agent", flag.ContinueOnError)
	fs.String("name", "", "")
	if err := Parse(fs, []string{"--no-name"}); err == nil || !strings.Contains(err.Error(), "no-name") {
		t.Errorf("--no-name on a string flag: %v", err)
	}
}
