package deploytest

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestPackage builds the Debian package (make package's program) and the
// FROM scratch image, installs the package on a clean Debian root (a
// container of the hosts' image, which has no Mezzo), checks its units with
// systemd-analyze verify, boots systemd as the container's init, starts
// mezzo-master and mezzo-agent with systemctl until the agent registers
// with the master, and checks that systemd restarts a killed master.
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
	// systemd is the container's init, so that the units are started by
	// systemd itself (it needs the cgroup hierarchy and CAP_SYS_ADMIN).
	must(t, time.Minute, "docker", "run", "-d", "--name", h.name, "--hostname", "pkg", "--tmpfs", "/run", "--tmpfs", "/run/lock",
		"--tmpfs", "/tmp", "-v", "/sys/fs/cgroup:/sys/fs/cgroup:ro", "--cap-add", "SYS_ADMIN", HostImage, "/lib/systemd/systemd")
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

	waitFor(t, time.Minute, "systemd up in the container", func() error {
		out, _ := h.exec(10*time.Second, "systemctl is-system-running")
		if st := strings.TrimSpace(out); st != "running" && st != "degraded" {
			return fmt.Errorf("systemctl is-system-running: %q", st)
		}
		return nil
	})
	// The agent's environment file (above its configuration file) turns
	// off cgroups, which this container cannot write.
	must(t, time.Minute, "docker", "exec", h.name, "sh", "-c", "echo MEZZO_ISOLATION=posix/cpu,posix/mem >>/etc/default/mezzo-agent")
	if text, err := h.exec(time.Minute, "cat /lib/systemd/system/mezzo-agent.service"); err != nil || !strings.Contains(text, "\nKillMode=process\n") {
		t.Errorf("mezzo-agent.service does not leave the tasks running (KillMode=process): %v\n%s", err, text)
	}
	if out, err := h.exec(time.Minute, "systemctl daemon-reload && systemctl start mezzo-master mezzo-agent"); err != nil {
		logs, _ := h.exec(10*time.Second, "systemctl status --no-pager mezzo-master mezzo-agent; journalctl --no-pager -n 30")
		t.Fatalf("systemctl start: %v\n%s\n%s", err, out, logs)
	}
	waitFor(t, 60*time.Second, "the agent registered with the master", func() error {
		out, err := h.exec(10*time.Second, "curl -fsS http://127.0.0.1:5050/master/slaves")
		if err != nil || !strings.Contains(out, `"hostname":"pkg"`) {
			logs, _ := h.exec(10*time.Second, "systemctl status --no-pager mezzo-master mezzo-agent")
			return fmt.Errorf("%v: %s\n%s", err, out, logs)
		}
		return nil
	})
	if out, err := h.exec(time.Minute, "ls /var/lib/mezzo/master /var/lib/mezzo/agent/meta"); err != nil {
		t.Errorf("the default configuration's work directories: %v %s", err, out)
	}
	// systemd restarts a master that dies.
	if out, err := h.exec(time.Minute, "systemctl kill -s KILL mezzo-master"); err != nil {
		t.Fatalf("systemctl kill: %v %s", err, out)
	}
	waitFor(t, 60*time.Second, "systemd restarted the killed master", func() error {
		out, err := h.exec(10*time.Second, "systemctl show -p NRestarts --value mezzo-master; curl -fsS http://127.0.0.1:5050/health && echo healthy")
		if err != nil || !strings.Contains(out, "healthy") || strings.HasPrefix(strings.TrimSpace(out), "0") {
			return fmt.Errorf("%v: %s", err, out)
		}
		return nil
	})
}
