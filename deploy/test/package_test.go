package deploytest

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestPackage builds the Debian package (make package's program) and the
// FROM scratch image, installs the package on a clean Debian root (a
// container of the hosts' image, which has no Mezzo), checks its units with
// systemd-analyze verify, and starts the master and the agent as their
// units would (the units' EnvironmentFile and ExecStart; systemd itself
// cannot run as PID 1 in an unprivileged container here), until the agent
// registers with the master.
func TestPackage(t *testing.T) {
	need(t, "docker", "go")
	ensureHostImage(t)
	dir := t.TempDir()
	bin := buildMezzo(t, dir, "1.0.0-deploytest")
	root := repoRoot(t)
	out, err := command(5*time.Minute, nil, "sh", "-c", fmt.Sprintf("cd %s/deploy/package && go run . --root=%s --binary=%s --version=1.0.0 --out=%s",
		root, root, bin, dir))
	if err != nil {
		t.Fatalf("building the package: %v\n%s", err, out)
	}
	deb := strings.TrimSpace(out[strings.LastIndex(strings.TrimSpace(out), "\n")+1:])
	if !strings.HasSuffix(deb, ".deb") {
		t.Fatalf("the packager printed %q, not a .deb path", out)
	}
	run := runID(t)

	// The image FROM scratch runs the binary.
	ctx := filepath.Join(dir, "image")
	if err := os.MkdirAll(ctx, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(bin, filepath.Join(ctx, "mezzo")); err != nil {
		t.Fatal(err)
	}
	must(t, 5*time.Minute, "docker", "build", "-q", "-f", filepath.Join(root, "deploy", "docker", "Dockerfile"), "-t", run+":scratch", ctx)
	t.Cleanup(func() { command(time.Minute, nil, "docker", "rmi", "-f", run+":scratch") })
	if out := must(t, time.Minute, "docker", "run", "--rm", run+":scratch", "version"); !strings.Contains(out, "mezzo 1.0.0-deploytest") {
		t.Errorf("the image's mezzo version: %q", out)
	}

	// A clean Debian root with the package installed.
	h := &host{name: run + "-pkg", hostname: "pkg"}
	must(t, time.Minute, "docker", "run", "-d", "--name", h.name, "--hostname", "pkg", "--tmpfs", "/run", "--tmpfs", "/tmp", HostImage, "sleep", "infinity")
	t.Cleanup(func() { command(time.Minute, nil, "docker", "rm", "-f", h.name) })
	if out, err := h.exec(time.Minute, "command -v mezzo; ls /etc/mezzo 2>&1"); !strings.Contains(out, "No such file") {
		t.Fatalf("the root is not clean: %q %v", out, err)
	}
	must(t, time.Minute, "docker", "cp", deb, h.name+":/root/mezzo.deb")
	if out, err := h.exec(2*time.Minute, "dpkg -i /root/mezzo.deb"); err != nil {
		t.Fatalf("dpkg -i: %v\n%s", err, out)
	}
	out, err = h.exec(time.Minute, "dpkg -L mezzo")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"/usr/bin/mezzo", "/usr/bin/mezzo-start-cluster", "/usr/bin/mezzo-upgrade-agents", "/lib/systemd/system/mezzo-agent.service",
		"/lib/systemd/system/mezzo-master.service", "/etc/mezzo/master.yaml", "/etc/mezzo/agent.yaml", "/etc/default/mezzo-agent"} {
		if !strings.Contains(out, f+"\n") {
			t.Errorf("the package lacks %s:\n%s", f, out)
		}
	}
	if out, err := h.exec(time.Minute, "mezzo-stop-agents"); err == nil || !strings.Contains(out, "no /etc/mezzo/agents file") {
		t.Errorf("mezzo-stop-agents without an agents file: %v %q", err, out)
	}
	if out, err := h.exec(time.Minute, "systemd-analyze verify /lib/systemd/system/mezzo-master.service /lib/systemd/system/mezzo-agent.service"); err != nil {
		t.Errorf("systemd-analyze verify: %v\n%s", err, out)
	}

	// Start both as their units do. The agent's environment file (above
	// its configuration file) turns off cgroups, which this container
	// cannot use.
	must(t, time.Minute, "docker", "exec", h.name, "sh", "-c", "echo MEZZO_ISOLATION=posix/cpu,posix/mem >>/etc/default/mezzo-agent")
	execStart := regexp.MustCompile(`(?m)^ExecStart=(.*)$`)
	envFile := regexp.MustCompile(`(?m)^EnvironmentFile=-?(.*)$`)
	for _, unit := range []string{"mezzo-master", "mezzo-agent"} {
		text, err := h.exec(time.Minute, "cat /lib/systemd/system/"+unit+".service")
		if err != nil {
			t.Fatal(err)
		}
		cmd, env := execStart.FindStringSubmatch(text), envFile.FindStringSubmatch(text)
		if cmd == nil || env == nil {
			t.Fatalf("%s.service has no ExecStart or EnvironmentFile:\n%s", unit, text)
		}
		if unit == "mezzo-agent" && !strings.Contains(text, "\nKillMode=process\n") {
			t.Errorf("mezzo-agent.service does not leave the tasks running (KillMode=process)")
		}
		must(t, time.Minute, "docker", "exec", "-d", h.name, "sh", "-c",
			fmt.Sprintf("set -a; . %s; set +a; exec %s >/tmp/%s.log 2>&1", env[1], cmd[1], unit))
	}
	waitFor(t, 60*time.Second, "the agent registered with the master", func() error {
		out, err := h.exec(10*time.Second, "curl -fsS http://127.0.0.1:5050/master/slaves")
		if err != nil || !strings.Contains(out, `"hostname":"pkg"`) {
			logs, _ := h.exec(10*time.Second, "tail -n 3 /tmp/mezzo-master.log /tmp/mezzo-agent.log")
			return fmt.Errorf("%v: %s\n%s", err, out, logs)
		}
		return nil
	})
	if out, err := h.exec(time.Minute, "ls /var/lib/mezzo/master /var/lib/mezzo/agent/meta"); err != nil {
		t.Errorf("the default configuration's work directories: %v %s", err, out)
	}
}
