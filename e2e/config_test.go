package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestConfigFile starts a master from a YAML configuration file and an
// agent from a JSON one, with an environment variable and a flag above
// the files, and checks what each daemon says its flags are; then it gives
// master, agent and local a file with several mistakes and checks that each
// refuses to start naming every one.
func TestConfigFile(t *testing.T) {
	work := t.TempDir()
	mport, aport := freePort(t), freePort(t)
	mcfg := filepath.Join(work, "master.yaml")
	write(t, mcfg, fmt.Sprintf("# the master\nip: 127.0.0.1\nport: %d\nwork_dir: %s\nallocation_interval: 100ms\ncluster: from-file\nhostname: from-file\n",
		mport, filepath.Join(work, "master")))
	acfg := filepath.Join(work, "agent.json")
	write(t, acfg, fmt.Sprintf(`{"master": "127.0.0.1:%d", "ip": "127.0.0.1", "port": %d, "work_dir": %q, "resources": [
		{"name": "cpus", "type": "SCALAR", "scalar": {"value": 3}},
		{"name": "mem", "type": "SCALAR", "scalar": {"value": 512}}],
		"attributes": "rack:from-file", "hostname": "from-file"}`, mport, aport, filepath.Join(work, "agent")))

	t.Setenv("MEZZO_CLUSTER", "from-env") // env above the file
	start(t, "master", "master", "--config="+mcfg, "--hostname=from-flag")
	master := fmt.Sprintf("127.0.0.1:%d", mport)
	waitFor(t, 20*time.Second, "master health", func() error { return httpOK("http://" + master + "/health") })
	var mf struct {
		Flags map[string]string `json:"flags"`
	}
	if err := getJSON("http://"+master+"/master/flags", &mf); err != nil {
		t.Fatal(err)
	}
	for k, want := range map[string]string{"allocation_interval": "100ms", "cluster": "from-env", "hostname": "from-flag"} {
		if mf.Flags[k] != want {
			t.Errorf("master --%s = %q, want %q", k, mf.Flags[k], want)
		}
	}

	t.Setenv("MEZZO_CONFIG", acfg) // the path from the environment
	start(t, "agent", "agent")
	waitFor(t, 30*time.Second, "agent registered", func() error {
		var st struct {
			Slaves []struct {
				Hostname   string            `json:"hostname"`
				Resources  map[string]any    `json:"resources"`
				Attributes map[string]string `json:"attributes"`
			} `json:"slaves"`
		}
		if err := getJSON("http://"+master+"/master/state", &st); err != nil {
			return err
		}
		if len(st.Slaves) != 1 {
			return fmt.Errorf("%d agents", len(st.Slaves))
		}
		a := st.Slaves[0]
		if a.Hostname != "from-file" || a.Resources["cpus"] != 3.0 || a.Resources["mem"] != 512.0 || a.Attributes["rack"] != "from-file" {
			return fmt.Errorf("agent hostname %q resources %v attributes %v: not the file's", a.Hostname, a.Resources, a.Attributes)
		}
		return nil
	})
	os.Unsetenv("MEZZO_CONFIG")

	bad := filepath.Join(work, "bad.yaml")
	write(t, bad, "port: http\nwork_dri: /tmp/x\nquiet: maybe\nhostname:\n")
	for _, cmd := range []string{"master", "agent", "local"} {
		out, code := run(t, 20*time.Second, bin.mezzo, cmd, "--config="+bad)
		if code != 2 {
			t.Errorf("%s with a bad configuration file: exit %d, want 2\n%s", cmd, code, out)
		}
		for _, want := range []string{`line 1: key "port": invalid value "http"`, `line 2: key "work_dri": unknown flag (did you mean "work_dir"?)`,
			`line 3: key "quiet": invalid value "maybe"`, `line 4: key "hostname": no value`} {
			if !strings.Contains(out, want) {
				t.Errorf("%s: output lacks %q:\n%s", cmd, want, out)
			}
		}
	}
}

func write(t *testing.T, path, text string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
}
