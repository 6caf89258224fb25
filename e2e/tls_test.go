package e2e

import (
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mezzo-project/mezzo/internal/tlsutil"
	"github.com/mezzo-project/mezzo/internal/tlsutil/tlstest"
)

// tlsEnv is the LIBPROCESS_SSL_* environment of a process presenting
// cert/key and trusting ca, plus extra "KEY=value" pairs.
func tlsEnv(cert, key, ca string, extra ...string) []string {
	env := append(os.Environ(),
		"LIBPROCESS_SSL_ENABLED=true",
		"LIBPROCESS_SSL_CERT_FILE="+cert,
		"LIBPROCESS_SSL_KEY_FILE="+key,
		"LIBPROCESS_SSL_CA_FILE="+ca)
	return append(env, extra...)
}

// startEnv is start with an environment.
func startEnv(t *testing.T, name string, env []string, args ...string) *proc {
	t.Helper()
	args = ownCgroupsRoot(args)
	for _, a := range args {
		if root, ok := strings.CutPrefix(a, "--cgroups_root=mezzo-e2e-"); ok {
			t.Cleanup(func() { removeCgroups("mezzo-e2e-" + root) })
		}
	}
	p := &proc{name: name, cmd: exec.Command(bin.mezzo, args...), out: &syncBuffer{}, done: make(chan struct{})}
	p.cmd.Env = env
	p.cmd.Stdout, p.cmd.Stderr = p.out, p.out
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	go func() {
		p.err = p.cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		p.stop()
		if t.Failed() {
			t.Logf("---- output of %s ----\n%s", name, p.out.String())
		}
	})
	return p
}

// runEnv is run with an environment.
func runEnv(t *testing.T, limit time.Duration, env []string, args ...string) (string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin.mezzo, args...)
	cmd.Env = env
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("mezzo %s: timed out after %v\n%s", strings.Join(args, " "), limit, out.String())
	}
	if ee, ok := err.(*exec.ExitError); ok {
		return out.String(), ee.ExitCode()
	} else if err != nil {
		t.Fatalf("mezzo %s: %v", strings.Join(args, " "), err)
	}
	return out.String(), 0
}

// tlsClient is an https client presenting cert/key (none when empty) and
// trusting ca.
func tlsClient(t *testing.T, cert, key, ca string) *http.Client {
	t.Helper()
	if cert == "" {
		return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	}
	s, err := tlsutil.New(tlsutil.Config{Enabled: true, CertFile: cert, KeyFile: key, CAFile: ca, VerifyServerCert: true,
		MinVersion: tls.VersionTLS12, MaxVersion: tls.VersionTLS13})
	if err != nil {
		t.Fatal(err)
	}
	return s.Client(10 * time.Second)
}

func status(c *http.Client, method, url string) (int, error) {
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		return 0, err
	}
	resp, err := c.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, resp.Body)
	return resp.StatusCode, nil
}

// TestTLSCluster runs a master and an agent that speak only TLS and
// require client certificates: the agent registers with its certificate,
// a task runs (its executor subscribes to the agent over TLS), the CLI
// lists the agent over https, and clients without a trusted certificate
// or without TLS are refused. A second master with SUPPORT_DOWNGRADE
// takes plain HTTP and TLS on one port, but not an agent without a
// certificate.
func TestTLSCluster(t *testing.T) {
	dir := t.TempDir()
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	ca := tlstest.NewCA(t, dir, "ca")
	mCert, mKey, _ := ca.Issue(t, dir, "master", "127.0.0.1", "localhost")
	aCert, aKey, _ := ca.Issue(t, dir, "agent", "127.0.0.1", "localhost")
	cCert, cKey, _ := ca.Issue(t, dir, "operator")
	rogue := tlstest.NewCA(t, dir, "rogue")
	rCert, rKey, _ := rogue.Issue(t, dir, "intruder", "127.0.0.1")

	work := t.TempDir()
	killLeftoverExecutors(t, work)
	master := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	strict := "LIBPROCESS_SSL_REQUIRE_CERT=true"
	startEnv(t, "master", tlsEnv(mCert, mKey, ca.File, strict), "master", "--ip=127.0.0.1", "--port="+strings.Split(master, ":")[1],
		"--work_dir="+filepath.Join(work, "master"), "--allocation_interval=100ms")
	operator := tlsClient(t, cCert, cKey, ca.File)
	waitFor(t, 20*time.Second, "master health over https", func() error {
		code, err := status(operator, "GET", "https://"+master+"/health")
		if err == nil && code != 200 {
			err = fmt.Errorf("status %d", code)
		}
		return err
	})
	startEnv(t, "agent", tlsEnv(aCert, aKey, ca.File, strict), "agent", "--master="+master, "--ip=127.0.0.1",
		fmt.Sprintf("--port=%d", freePort(t)), "--work_dir="+filepath.Join(work, "agent"),
		"--resources=cpus:2;mem:1024;disk:1024;ports:[31000-31100]",
		// The command executor as a process of its own, which must
		// subscribe to the agent over TLS with the agent's certificate.
		"--builtin_executors=process")
	waitAgentOverTLS(t, operator, master)

	clientEnv := tlsEnv(cCert, cKey, ca.File)
	out, code := runEnv(t, 2*time.Minute, clientEnv, "execute", "--master="+master, "--name=over-tls",
		"--command=echo secret-hello", "--resources=cpus:0.1;mem:32")
	if code != 0 || !strings.Contains(out, "TASK_FINISHED") {
		t.Fatalf("mezzo execute over TLS: exit %d\n%s", code, out)
	}
	stdout := sandboxFiles(filepath.Join(work, "agent", "slaves", "*", "frameworks", "*", "executors", "over-tls", "runs", "*", "stdout"))
	if len(stdout) != 1 {
		t.Fatalf("sandbox stdout files: %v", stdout)
	}
	if b, _ := os.ReadFile(stdout[0]); !strings.Contains(string(b), "secret-hello") {
		t.Fatalf("the task's stdout: %q", b)
	}
	out, code = runEnv(t, 30*time.Second, clientEnv, "agents", "--master="+master)
	if code != 0 || !strings.Contains(out, "127.0.0.1") {
		t.Fatalf("mezzo agents over https: exit %d\n%s", code, out)
	}
	// The CLI without a certificate cannot reach a REQUIRE_CERT master.
	if out, code := runEnv(t, 30*time.Second, os.Environ(), "agents", "--master=https://"+master); code == 0 {
		t.Fatalf("mezzo agents without a client certificate succeeded:\n%s", out)
	}

	if _, err := status(tlsClient(t, rCert, rKey, ca.File), "GET", "https://"+master+"/health"); err == nil {
		t.Error("a client certificate of another CA was accepted")
	}
	if _, err := status(tlsClient(t, "", "", ""), "GET", "https://"+master+"/health"); err == nil {
		t.Error("REQUIRE_CERT: a client without a certificate was accepted")
	}
	if code, err := status(http.DefaultClient, "GET", "http://"+master+"/health"); err == nil && code == 200 {
		t.Error("plain HTTP was served without SUPPORT_DOWNGRADE")
	}

	// A second master, with downgrade and without REQUIRE_CERT.
	loose := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	startEnv(t, "master-downgrade", tlsEnv(mCert, mKey, ca.File, "LIBPROCESS_SSL_SUPPORT_DOWNGRADE=true"), "master", "--ip=127.0.0.1",
		"--port="+strings.Split(loose, ":")[1], "--work_dir="+filepath.Join(work, "master2"))
	waitFor(t, 20*time.Second, "plain HTTP with SUPPORT_DOWNGRADE", func() error { return httpOK("http://" + loose + "/health") })
	if code, err := status(tlsClient(t, "", "", ""), "GET", "https://"+loose+"/health"); err != nil || code != 200 {
		t.Errorf("TLS without a client certificate, no REQUIRE_CERT: %d, %v", code, err)
	}
	// The agent API wants a verified certificate even so.
	if code, err := status(http.DefaultClient, "POST", "http://"+loose+"/master/api/v1/agent"); err != nil || code != http.StatusForbidden {
		t.Errorf("agent API over plain HTTP: %d, %v; want 403", code, err)
	}
	if code, err := status(tlsClient(t, "", "", ""), "POST", "https://"+loose+"/master/api/v1/agent"); err != nil || code != http.StatusForbidden {
		t.Errorf("agent API over TLS without a certificate: %d, %v; want 403", code, err)
	}
}

// sslFlags are the --ssl_* flags of a process that presents cert and key
// and trusts ca, plus extra.
func sslFlags(cert, key, ca string, extra ...string) []string {
	return append([]string{"--ssl_enabled", "--ssl_cert_file=" + cert, "--ssl_key_file=" + key, "--ssl_ca_file=" + ca}, extra...)
}

// withoutSSLEnv is the test's environment without LIBPROCESS_SSL_* and
// SSL_* variables, so that only flags turn TLS on.
func withoutSSLEnv() []string {
	var out []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "LIBPROCESS_SSL_") && !strings.HasPrefix(kv, "SSL_") {
			out = append(out, kv)
		}
	}
	return out
}

// TestTLSClusterFromFlags: a master and an agent given the --ssl_* flags
// and no LIBPROCESS_SSL_* variable form a mutual-TLS cluster; the agent's
// executor gets the settings as LIBPROCESS_SSL_* variables and
// subscribes over TLS; `mezzo execute` and the CLI take the same flags;
// /flags shows the effective settings.
func TestTLSClusterFromFlags(t *testing.T) {
	dir := t.TempDir()
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	ca := tlstest.NewCA(t, dir, "ca")
	mCert, mKey, _ := ca.Issue(t, dir, "master", "127.0.0.1", "localhost")
	aCert, aKey, _ := ca.Issue(t, dir, "agent", "127.0.0.1", "localhost")
	cCert, cKey, _ := ca.Issue(t, dir, "operator")
	plain := withoutSSLEnv()

	work := t.TempDir()
	killLeftoverExecutors(t, work)
	master := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	startEnv(t, "master", plain, append([]string{"master"}, append(sslFlags(mCert, mKey, ca.File, "--ssl_require_cert"), "--ip=127.0.0.1",
		"--port="+strings.Split(master, ":")[1], "--work_dir="+filepath.Join(work, "master"), "--allocation_interval=100ms")...)...)
	operator := tlsClient(t, cCert, cKey, ca.File)
	waitFor(t, 20*time.Second, "master health over https", func() error {
		code, err := status(operator, "GET", "https://"+master+"/health")
		if err == nil && code != 200 {
			err = fmt.Errorf("status %d", code)
		}
		return err
	})
	agentPort := freePort(t)
	startEnv(t, "agent", plain, append([]string{"agent"}, append(sslFlags(aCert, aKey, ca.File, "--ssl_require_cert"),
		"--master="+master, "--ip=127.0.0.1", fmt.Sprintf("--port=%d", agentPort), "--work_dir="+filepath.Join(work, "agent"),
		"--resources=cpus:2;mem:1024;disk:1024;ports:[31000-31100]", "--builtin_executors=process")...)...)
	waitAgentOverTLS(t, operator, master)

	out, code := runEnv(t, 2*time.Minute, plain, append([]string{"execute"}, append(sslFlags(cCert, cKey, ca.File),
		"--master="+master, "--name=flags-tls", "--command=echo flag-hello", "--resources=cpus:0.1;mem:32")...)...)
	if code != 0 || !strings.Contains(out, "TASK_FINISHED") {
		t.Fatalf("mezzo execute with --ssl_* flags: exit %d\n%s", code, out)
	}
	out, code = runEnv(t, 30*time.Second, plain, append([]string{"agents"}, append(sslFlags(cCert, cKey, ca.File), "--master="+master)...)...)
	if code != 0 || !strings.Contains(out, "127.0.0.1") {
		t.Fatalf("mezzo agents with --ssl_* flags: exit %d\n%s", code, out)
	}
	// An agent whose certificate (signed by the CA) names another
	// machine is refused, and stops saying why.
	oCert, oKey, _ := ca.Issue(t, dir, "other-agent", "elsewhere.example.org", "10.9.9.9")
	other := startEnv(t, "agent-other", plain, append([]string{"agent"}, append(sslFlags(oCert, oKey, ca.File),
		"--master="+master, "--ip=127.0.0.1", "--hostname=agent-b.example.org", fmt.Sprintf("--port=%d", freePort(t)),
		"--work_dir="+filepath.Join(work, "agent-other"), "--resources=cpus:1;mem:128")...)...)
	select {
	case <-other.done:
	case <-time.After(30 * time.Second):
		t.Fatalf("an agent whose certificate names another machine still runs:\n%s", other.out.String())
	}
	if log := other.out.String(); other.err == nil || !strings.Contains(log, "names none of agent-b.example.org, 127.0.0.1") {
		t.Errorf("the refused agent: exit %v, log:\n%s", other.err, log)
	}

	for _, url := range []string{"https://" + master + "/flags", fmt.Sprintf("https://127.0.0.1:%d/flags", agentPort)} {
		resp, err := operator.Get(url)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		for _, want := range []string{`"ssl_enabled":"true"`, `"ssl_require_cert":"true"`, `"ssl_ca_file":"` + ca.File + `"`} {
			if !strings.Contains(string(b), want) {
				t.Errorf("%s does not show %s: %.300s", url, want, b)
			}
		}
	}
}

// waitAgentOverTLS waits until the master at addr, read over https with
// client, counts one active agent.
func waitAgentOverTLS(t *testing.T, client *http.Client, addr string) {
	t.Helper()
	waitFor(t, 30*time.Second, "the agent registered over TLS", func() error {
		resp, err := client.Get("https://" + addr + "/master/state")
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if !strings.Contains(string(b), `"activated_slaves":1`) {
			return fmt.Errorf("state: %.200s", b)
		}
		return nil
	})
}
