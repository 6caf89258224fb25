package master

import (
	"flag"
	"os"
	"testing"
)

// Without --hostname the master advertises the host's name, or its IP
// address with --hostname_lookup=false (--no-hostname_lookup), as Mesos.
func TestHostnameLookup(t *testing.T) {
	host, err := os.Hostname()
	if err != nil {
		t.Skipf("the host's name is unknown: %v", err)
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{nil, host},
		{[]string{"--hostname_lookup=false"}, "127.0.0.1"},
		{[]string{"--hostname_lookup=false", "--hostname=m1"}, "m1"},
	} {
		cfg := DefaultConfig()
		fs := flag.NewFlagSet("master", flag.ContinueOnError)
		cfg.AddFlags(fs)
		if err := fs.Parse(append([]string{"--ip=127.0.0.1"}, c.args...)); err != nil {
			t.Fatal(err)
		}
		info, err := masterInfo(cfg, "M")
		if err != nil {
			t.Fatal(err)
		}
		if info.GetHostname() != c.want {
			t.Errorf("%v: hostname %q, want %q", c.args, info.GetHostname(), c.want)
		}
	}
}
