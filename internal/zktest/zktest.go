// Package zktest runs a real Apache ZooKeeper ensemble for tests: the
// servers from Debian's zookeeper package, started as separate Java
// processes on loopback ports with their data in the test's temporary
// directory, and killed when the test ends.
//
// A test that needs ZooKeeper calls Start and connects to Connect(). When
// java or the ZooKeeper jar is missing the test fails, naming the missing
// part; setting MEZZO_SKIP_ZOOKEEPER=1 turns that failure into a skip for
// machines that cannot install the package. Stop and Restart kill and
// revive single servers to test behaviour across server failures.
//
// The servers run with tickTime=500ms, so clients may ask for session
// timeouts from 1s (2 ticks) to 10s (20 ticks).
package zktest

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// JarPath is where Debian's zookeeper package installs the server; its
// manifest names the jars it depends on.
const JarPath = "/usr/share/java/zookeeper.jar"

// simpleLoggerJar, when installed (Debian's libslf4j-java, a dependency
// of the zookeeper package), gives the servers a log for failed tests;
// without it they log nothing.
const simpleLoggerJar = "/usr/share/java/slf4j-simple.jar"

// startTimeout bounds how long Start and Restart wait for servers to serve.
const startTimeout = 60 * time.Second

// Ensemble is a running set of ZooKeeper servers. Its methods may be
// called from the test's goroutine only.
type Ensemble struct {
	t       testing.TB
	java    string
	servers []*server
}

type server struct {
	id         int // myid, from 1
	dir        string
	cfg        string
	clientPort int
	logPath    string
	cmd        *exec.Cmd
	done       chan struct{} // closed when cmd has been waited for
}

// Start starts an ensemble of n servers on 127.0.0.1 and waits until every
// server serves clients (a quorum has formed). The servers are killed when
// the test ends.
func Start(t testing.TB, n int) *Ensemble {
	t.Helper()
	if n < 1 {
		t.Fatalf("zktest: an ensemble needs at least one server, asked for %d", n)
	}
	java, err := exec.LookPath("java")
	if err != nil {
		missing(t, "java (a Java runtime; Debian's zookeeper package brings one)")
	}
	if _, err := os.Stat(JarPath); err != nil {
		missing(t, "ZooKeeper ("+JarPath+": install Debian's zookeeper package, scripts/deps.sh does)")
	}
	e := &Ensemble{t: t, java: java}
	ports := freePorts(t, 3*n)
	root := t.TempDir()
	var members strings.Builder
	for i := 0; i < n; i++ {
		fmt.Fprintf(&members, "server.%d=127.0.0.1:%d:%d\n", i+1, ports[3*i+1], ports[3*i+2])
	}
	for i := 0; i < n; i++ {
		s := &server{id: i + 1, dir: filepath.Join(root, fmt.Sprintf("zk%d", i+1)), clientPort: ports[3*i]}
		data := filepath.Join(s.dir, "data")
		if err := os.MkdirAll(data, 0o755); err != nil {
			t.Fatalf("zktest: %v", err)
		}
		if err := os.WriteFile(filepath.Join(data, "myid"), []byte(fmt.Sprintf("%d\n", s.id)), 0o644); err != nil {
			t.Fatalf("zktest: writing myid: %v", err)
		}
		cfg := fmt.Sprintf("tickTime=500\ninitLimit=20\nsyncLimit=10\ndataDir=%s\nclientPort=%d\nclientPortAddress=127.0.0.1\n"+
			"admin.enableServer=false\n4lw.commands.whitelist=ruok,srvr,mntr\nmaxClientCnxns=0\n", data, s.clientPort)
		if n > 1 {
			cfg += members.String()
		}
		s.cfg = filepath.Join(s.dir, "zoo.cfg")
		if err := os.WriteFile(s.cfg, []byte(cfg), 0o644); err != nil {
			t.Fatalf("zktest: writing %s: %v", s.cfg, err)
		}
		s.logPath = filepath.Join(s.dir, "server.log")
		e.servers = append(e.servers, s)
	}
	t.Cleanup(func() {
		for _, s := range e.servers {
			s.kill()
		}
		if t.Failed() {
			for _, s := range e.servers {
				t.Logf("zktest: last lines of server %d's log:\n%s", s.id, tail(s.logPath, 30))
			}
		}
	})
	for _, s := range e.servers {
		e.start(s)
	}
	deadline := time.Now().Add(startTimeout)
	for _, s := range e.servers {
		e.waitServing(s, deadline)
	}
	return e
}

// missing fails (or, with MEZZO_SKIP_ZOOKEEPER=1, skips) the test because
// part of ZooKeeper is not installed.
func missing(t testing.TB, what string) {
	t.Helper()
	if os.Getenv("MEZZO_SKIP_ZOOKEEPER") == "1" {
		t.Skipf("zktest: missing %s; skipped because MEZZO_SKIP_ZOOKEEPER=1", what)
	}
	t.Fatalf("zktest: missing %s (set MEZZO_SKIP_ZOOKEEPER=1 to skip instead)", what)
}

// Servers returns each server's client address, "127.0.0.1:port", in order.
func (e *Ensemble) Servers() []string {
	out := make([]string, len(e.servers))
	for i, s := range e.servers {
		out[i] = s.addr()
	}
	return out
}

// Connect returns the client connect string, "host:port,host:port,...",
// as it appears in a zk:// URL.
func (e *Ensemble) Connect() string { return strings.Join(e.Servers(), ",") }

// Stop kills server i (counted from 0) with SIGKILL and waits for it to exit.
func (e *Ensemble) Stop(i int) {
	e.t.Helper()
	e.server(i).kill()
}

// Restart starts server i again on the same ports and data and waits until
// it serves clients, which needs a quorum of the ensemble running.
func (e *Ensemble) Restart(i int) {
	e.t.Helper()
	s := e.server(i)
	s.kill()
	e.start(s)
	e.waitServing(s, time.Now().Add(startTimeout))
}

// Follower returns the index of a running server that follows (not the
// ensemble's leader): killing it costs the ensemble no election, so
// clients keep their sessions. It waits for the ensemble to serve.
func (e *Ensemble) Follower() int {
	e.t.Helper()
	e.WaitQuorum()
	deadline := time.Now().Add(startTimeout)
	for time.Now().Before(deadline) {
		for i, s := range e.servers {
			if s.cmd == nil {
				continue
			}
			if out, err := fourLetter(s.addr(), "srvr"); err == nil && strings.Contains(out, "Mode: follower") {
				return i
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	e.t.Fatalf("zktest: no ZooKeeper server follows")
	return -1
}

// WaitQuorum waits until every running server serves clients again, as it
// does once the survivors of a kill have elected a ZooKeeper leader.
func (e *Ensemble) WaitQuorum() {
	e.t.Helper()
	deadline := time.Now().Add(startTimeout)
	for _, s := range e.servers {
		if s.cmd != nil {
			e.waitServing(s, deadline)
		}
	}
}

func (e *Ensemble) server(i int) *server {
	if i < 0 || i >= len(e.servers) {
		e.t.Fatalf("zktest: no server %d in an ensemble of %d", i, len(e.servers))
	}
	return e.servers[i]
}

func (s *server) addr() string { return fmt.Sprintf("127.0.0.1:%d", s.clientPort) }

func (e *Ensemble) start(s *server) {
	e.t.Helper()
	logf, err := os.OpenFile(s.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		e.t.Fatalf("zktest: %v", err)
	}
	defer logf.Close()
	// A small heap, the serial collector and the client compiler keep three
	// JVMs quick to start on a small machine.
	classPath := JarPath
	if _, err := os.Stat(simpleLoggerJar); err == nil {
		classPath += ":" + simpleLoggerJar
	}
	cmd := exec.Command(e.java,
		"-Xmx128m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1", "-Xss512k",
		"-Dorg.slf4j.simpleLogger.showDateTime=true",
		"-Dzookeeper.admin.enableServer=false", "-Dzookeeper.jmx.log4j.disable=true",
		"-cp", classPath,
		"org.apache.zookeeper.server.quorum.QuorumPeerMain", s.cfg)
	cmd.Dir = s.dir
	cmd.Stdout = logf
	cmd.Stderr = logf
	// The servers die with the test binary even when it is killed.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL, Setpgid: true}
	if err := cmd.Start(); err != nil {
		e.t.Fatalf("zktest: starting ZooKeeper server %d: %v", s.id, err)
	}
	s.cmd = cmd
	s.done = make(chan struct{})
	go func(done chan struct{}) {
		cmd.Wait()
		close(done)
	}(s.done)
}

func (s *server) kill() {
	if s.cmd == nil {
		return
	}
	s.cmd.Process.Signal(syscall.SIGKILL)
	<-s.done
	s.cmd = nil
}

// waitServing waits until server s answers the srvr command with a mode,
// which it does only while it is part of a quorum.
func (e *Ensemble) waitServing(s *server, deadline time.Time) {
	e.t.Helper()
	last := ""
	for time.Now().Before(deadline) {
		select {
		case <-s.done:
			e.t.Fatalf("zktest: ZooKeeper server %d exited while starting; its log:\n%s", s.id, tail(s.logPath, 40))
		default:
		}
		out, err := fourLetter(s.addr(), "srvr")
		if err == nil && strings.Contains(out, "Mode: ") {
			return
		}
		if err != nil {
			last = err.Error()
		} else {
			last = strings.TrimSpace(out)
		}
		time.Sleep(100 * time.Millisecond)
	}
	e.t.Fatalf("zktest: ZooKeeper server %d did not serve within %v (last answer: %s); its log:\n%s",
		s.id, startTimeout, last, tail(s.logPath, 40))
}

// fourLetter sends one of ZooKeeper's four-letter commands and returns the answer.
func fourLetter(addr, cmd string) (string, error) {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return "", err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(2 * time.Second))
	if _, err := c.Write([]byte(cmd)); err != nil {
		return "", err
	}
	var b strings.Builder
	sc := bufio.NewScanner(c)
	for sc.Scan() {
		b.WriteString(sc.Text())
		b.WriteByte('\n')
	}
	return b.String(), nil
}

// freePorts returns n distinct loopback ports that were free a moment ago.
func freePorts(t testing.TB, n int) []int {
	t.Helper()
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	ports := make([]int, n)
	for i := range ports {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatalf("zktest: finding a free port: %v", err)
		}
		ls = append(ls, l)
		ports[i] = l.Addr().(*net.TCPAddr).Port
	}
	return ports
}

var tailMu sync.Mutex

// tail returns the last n lines of the file at path.
func tail(path string, n int) string {
	tailMu.Lock()
	defer tailMu.Unlock()
	b, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
