package deploytest

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

// HostImage is the Docker image of the hosts' Debian root; its tag is the
// cache key: change it when build-host-image.sh changes.
const HostImage = "mezzo-deploy-host:bookworm-1"

// need fails the test naming every command in cmds that is missing.
func need(t *testing.T, cmds ...string) {
	t.Helper()
	var missing []string
	for _, c := range cmds {
		if _, err := exec.LookPath(c); err != nil {
			missing = append(missing, c)
		}
	}
	if len(missing) > 0 {
		t.Fatalf("missing on this machine: %s (scripts/deps.sh installs debootstrap; docker, ssh and curl come with the machine)", strings.Join(missing, ", "))
	}
}

// command runs name with args, with a time limit, and returns its combined
// output; env, when set, is added to this process's environment.
func command(limit time.Duration, env []string, name string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = append(os.Environ(), env...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	if ctx.Err() != nil {
		return out.String(), fmt.Errorf("%s %s: timed out after %v", name, strings.Join(args, " "), limit)
	}
	if err != nil {
		return out.String(), fmt.Errorf("%s %s: %w", name, strings.Join(args, " "), err)
	}
	return out.String(), nil
}

// must is command that fails the test on error, with the output.
func must(t *testing.T, limit time.Duration, name string, args ...string) string {
	t.Helper()
	out, err := command(limit, nil, name, args...)
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	return out
}

// waitFor polls cond until it returns nil or limit passes.
func waitFor(t *testing.T, limit time.Duration, what string, cond func() error) {
	t.Helper()
	deadline := time.Now().Add(limit)
	delay := 50 * time.Millisecond
	for {
		err := cond()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("waiting for %s: %v", what, err)
		}
		time.Sleep(delay)
		if delay < time.Second {
			delay *= 2
		}
	}
}

// repoRoot is the repository's root (this package is deploy/test).
func repoRoot(t *testing.T) string {
	t.Helper()
	_, file, _, _ := runtime.Caller(0)
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
}

// ensureHostImage builds HostImage with debootstrap unless Docker has it.
func ensureHostImage(t *testing.T) {
	t.Helper()
	if _, err := command(30*time.Second, nil, "docker", "image", "inspect", HostImage); err == nil {
		return
	}
	need(t, "debootstrap")
	t.Logf("building %s with debootstrap (once; cached in Docker)", HostImage)
	must(t, 30*time.Minute, "sh", filepath.Join(repoRoot(t), "deploy", "test", "build-host-image.sh"), HostImage)
}

// buildMezzo builds the static binary into dir with the given version.
func buildMezzo(t *testing.T, dir, version string) string {
	t.Helper()
	out := filepath.Join(dir, "mezzo-"+version)
	cmd := exec.Command("go", "build", "-trimpath", "-o", out,
		"-ldflags", "-X github.com/mezzo-project/mezzo/internal/version.Version="+version, "./cmd/mezzo")
	cmd.Dir = repoRoot(t)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, b)
	}
	return out
}

// runID names this run's containers, network and images.
func runID(t *testing.T) string {
	b := make([]byte, 4)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return "mezzo-dt-" + hex.EncodeToString(b)
}

// network is a Docker network of the run with a subnet of its own, so
// that a host keeps its address across a stop and start.
type network struct {
	name   string
	prefix string // the subnet's first three octets, "172.23.0."
}

func newNetwork(t *testing.T, name string) *network {
	t.Helper()
	must(t, time.Minute, "docker", "network", "create", name)
	subnet := strings.TrimSpace(must(t, time.Minute, "docker", "network", "inspect", "-f", "{{(index .IPAM.Config 0).Subnet}}", name))
	must(t, time.Minute, "docker", "network", "rm", name)
	ip, ipnet, err := net.ParseCIDR(subnet)
	if err != nil || ip.To4() == nil {
		t.Fatalf("docker network %s: subnet %q: %v", name, subnet, err)
	}
	if ones, _ := ipnet.Mask.Size(); ones > 24 {
		t.Fatalf("docker network %s: subnet %s is smaller than a /24", name, subnet)
	}
	must(t, time.Minute, "docker", "network", "create", "--subnet", subnet, name)
	t.Cleanup(func() { command(time.Minute, nil, "docker", "network", "rm", name) })
	b := ipnet.IP.To4()
	return &network{name: name, prefix: fmt.Sprintf("%d.%d.%d.", b[0], b[1], b[2])}
}

// host is a container standing for a machine.
type host struct {
	name      string // the container's name
	hostname  string // its name on the network
	ip        string
	container string
}

// startHost runs image as a host named hostname at the address .octet of
// the network, with the given command.
func startHost(t *testing.T, run string, n *network, hostname string, octet int, image string, cmd ...string) *host {
	t.Helper()
	h := &host{name: run + "-" + hostname, hostname: hostname, ip: fmt.Sprintf("%s%d", n.prefix, octet)}
	args := []string{"run", "-d", "--name", h.name, "--hostname", hostname, "--network", n.name, "--ip", h.ip,
		"--network-alias", hostname, "--tmpfs", "/run", "--tmpfs", "/tmp", image}
	must(t, 2*time.Minute, "docker", append(args, cmd...)...)
	t.Cleanup(func() {
		if t.Failed() {
			out, _ := command(30*time.Second, nil, "docker", "logs", "--tail", "20", h.name)
			t.Logf("---- %s (%s) ----\n%s", hostname, h.ip, out)
		}
		command(time.Minute, nil, "docker", "rm", "-f", h.name)
	})
	return h
}

// exec runs a shell command on the host through docker exec.
func (h *host) exec(limit time.Duration, script string) (string, error) {
	return command(limit, nil, "docker", "exec", h.name, "sh", "-c", script)
}

// getJSON reads url's JSON document into v (following redirects).
func getJSON(url string, v any) error {
	c := http.Client{Timeout: 5 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: %s", url, resp.Status)
	}
	return json.NewDecoder(resp.Body).Decode(v)
}
