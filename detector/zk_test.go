package detector

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"runtime"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
	"google.golang.org/protobuf/proto"

	"github.com/mezzo-project/mezzo/internal/zktest"
)

// sessionTimeout is the tests' ZooKeeper session timeout: four of
// zktest's 500ms ticks.
const sessionTimeout = 2 * time.Second

// slack is what detection may take beyond the session timeout.
const slack = time.Second

type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

func testLogger(t testing.TB) Option {
	return WithLogger(slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelInfo})))
}

func mustParse(t testing.TB, s string) *URL {
	t.Helper()
	u, err := ParseURL(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func contend(t testing.TB, u *URL, id string, port uint32) *Contender {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := Contend(ctx, u, sessionTimeout, testMasterInfo(id, port), testLogger(t))
	if err != nil {
		t.Fatalf("Contend(%s): %v", id, err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func detect(t testing.TB, u *URL) *Detector {
	t.Helper()
	d, err := Detect(context.Background(), u, sessionTimeout, testLogger(t))
	if err != nil {
		t.Fatalf("Detect: %v", err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

// waitElected fails the test unless c leads within d.
func waitElected(t testing.TB, c *Contender, d time.Duration) {
	t.Helper()
	select {
	case <-c.Elected():
	case err := <-c.Lost():
		t.Fatalf("%s lost its candidacy instead of leading: %v", c.Fence().Path, err)
	case <-time.After(d):
		t.Fatalf("%s not elected within %v", c.Fence().Path, d)
	}
}

// notElected fails the test if c leads or loses within d.
func notElected(t testing.TB, c *Contender, d time.Duration) {
	t.Helper()
	select {
	case <-c.Elected():
		t.Fatalf("%s leads, but it is not the lowest member", c.Fence().Path)
	case err := <-c.Lost():
		t.Fatalf("%s lost its candidacy: %v", c.Fence().Path, err)
	case <-time.After(d):
	}
}

// waitLeader reads d.Changes until the leader has the given id ("" for
// none) and returns when it arrived.
func waitLeader(t testing.TB, d *Detector, id string, within time.Duration) time.Time {
	t.Helper()
	timeout := time.After(within)
	for {
		select {
		case info := <-d.Changes():
			if info.GetId() == id && (id != "" || info == nil) {
				if got := d.Leader().GetId(); got != id {
					t.Fatalf("Changes delivered %q but Leader() is %q", id, got)
				}
				return time.Now()
			}
		case <-timeout:
			t.Fatalf("the detector did not see leader %q within %v (it has %q)", id, within, d.Leader().GetId())
		}
	}
}

// eventually fails the test unless cond holds within d; it checks every
// 50ms.
func eventually(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	deadline := time.After(d)
	for !cond() {
		select {
		case <-tick.C:
		case <-deadline:
			t.Fatalf("not within %v: %s", d, what)
		}
	}
}

func TestElectionAndDetectionAcrossClose(t *testing.T) {
	e := zktest.Start(t, 3)
	baseline := runtime.NumGoroutine()
	u := mustParse(t, "zk://"+e.Connect()+"/mezzo/test")
	d := detect(t, u)
	waitLeader(t, d, "", 5*time.Second)

	a := contend(t, u, "A", 5050)
	waitElected(t, a, 5*time.Second)
	b := contend(t, u, "B", 5051)
	if a.Fence().Sequence >= b.Fence().Sequence || !strings.HasPrefix(a.Fence().Path, "/mezzo/test/json.info_") {
		t.Fatalf("fences %+v and %+v", a.Fence(), b.Fence())
	}
	if a.Fence().SessionID == 0 || a.Fence().SessionID == b.Fence().SessionID {
		t.Fatalf("session ids %#x and %#x", a.Fence().SessionID, b.Fence().SessionID)
	}
	waitLeader(t, d, "A", 5*time.Second)
	if got := LeaderAddress(d.Leader()); got != "localhost:5050" {
		t.Errorf("LeaderAddress = %q", got)
	}
	notElected(t, b, 500*time.Millisecond)

	// The znode holds what a Mesos master writes, in the same shape.
	raw, _, err := zk.Connect(e.Servers(), sessionTimeout, zk.WithLogInfo(false))
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	data, _, err := raw.Get(a.Fence().Path)
	if err != nil {
		t.Fatalf("reading %s: %v", a.Fence().Path, err)
	}
	if want := jsonKeys(t, readSample(t)); !equalStrings(jsonKeys(t, data), want) {
		t.Errorf("znode keys %v, Mesos writes %v\n%s", jsonKeys(t, data), want, data)
	}
	if info, err := decodeMasterInfo(jsonLabel, data); err != nil || !proto.Equal(info, testMasterInfo("A", 5050)) {
		t.Errorf("znode data %s decodes to %v, %v", data, info, err)
	}

	closed := time.Now()
	a.Close()
	if err, ok := <-a.Lost(); ok || err != nil {
		t.Errorf("Lost after Close delivered %v", err)
	}
	waitElected(t, b, sessionTimeout)
	seen := waitLeader(t, d, "B", sessionTimeout+slack)
	t.Logf("leader closed -> detector saw the next: %v", seen.Sub(closed))
	b.Close()
	waitLeader(t, d, "", sessionTimeout+slack)

	// Closing stops every goroutine the contenders and detectors started.
	raw.Close()
	d.Close()
	eventually(t, 5*time.Second, "goroutines back to where they were before contending", func() bool {
		return runtime.NumGoroutine() <= baseline
	})
}

// TestFailoverWhenLeaderIsCutOff cuts the leader's connections to
// ZooKeeper (its session expires): it must step down before the next
// master is elected, and the detector follows within the session timeout.
func TestFailoverWhenLeaderIsCutOff(t *testing.T) {
	e := zktest.Start(t, 3)
	var proxies []*proxy
	var viaProxy []string
	for _, s := range e.Servers() {
		p := startProxy(t, s)
		proxies = append(proxies, p)
		viaProxy = append(viaProxy, p.addr())
	}
	path := "/mezzo/cut"
	a := contend(t, mustParse(t, "zk://"+strings.Join(viaProxy, ",")+path), "A", 5050)
	u := mustParse(t, "zk://"+e.Connect()+path)
	waitElected(t, a, 5*time.Second)
	b := contend(t, u, "B", 5051)
	d := detect(t, u)
	waitLeader(t, d, "A", 5*time.Second)

	cut := time.Now()
	for _, p := range proxies {
		p.cut()
	}
	var lostAt time.Time
	select {
	case err := <-a.Lost():
		lostAt = time.Now()
		if !errors.Is(err, ErrDisconnected) {
			t.Errorf("A lost with %v, want ErrDisconnected", err)
		}
	case <-b.Elected():
		t.Fatalf("B was elected while A still believed it led")
	case <-time.After(sessionTimeout + slack):
		t.Fatalf("A did not step down within %v of losing ZooKeeper", sessionTimeout+slack)
	}
	waitElected(t, b, sessionTimeout+slack)
	electedAt := time.Now()
	seen := waitLeader(t, d, "B", sessionTimeout+slack)
	t.Logf("session timeout %v: cut -> A stepped down %v, B elected %v, detector saw B %v",
		sessionTimeout, lostAt.Sub(cut), electedAt.Sub(cut), seen.Sub(cut))
	if !lostAt.Before(electedAt) {
		t.Errorf("two leaders: B elected %v before A stepped down", lostAt.Sub(electedAt))
	}
}

// TestSurvivesOneServerKilled kills a ZooKeeper follower twice
// (restarting it each time): nobody loses its candidacy and failover
// still works with a server down.
func TestSurvivesOneServerKilled(t *testing.T) {
	e := zktest.Start(t, 3)
	u := mustParse(t, "zk://"+e.Connect()+"/mezzo")
	a := contend(t, u, "A", 5050)
	waitElected(t, a, 5*time.Second)
	b := contend(t, u, "B", 5051)
	d := detect(t, u)
	waitLeader(t, d, "A", 5*time.Second)
	// Followers only: the death of ZooKeeper's own leader starts an
	// election that may outlast a 2 s session on a loaded machine.
	for range 2 {
		i := e.Follower()
		e.Stop(i)
		select {
		case err := <-a.Lost():
			t.Fatalf("A lost its leadership when server %d died: %v", i, err)
		case err := <-b.Lost():
			t.Fatalf("B lost its candidacy when server %d died: %v", i, err)
		case <-time.After(2 * sessionTimeout):
		}
		if got := d.Leader().GetId(); got != "A" {
			t.Fatalf("with server %d down the detector reports %q", i, got)
		}
		e.Restart(i)
	}
	// Failover with a follower down.
	e.Stop(e.Follower())
	e.WaitQuorum()
	a.Close()
	waitElected(t, b, sessionTimeout+slack)
	waitLeader(t, d, "B", sessionTimeout+slack)
}

// TestLosingQuorumLosesLeadership stops two of three servers: the leader
// can no longer be sure of its session and must step down.
func TestLosingQuorumLosesLeadership(t *testing.T) {
	e := zktest.Start(t, 3)
	u := mustParse(t, "zk://"+e.Connect()+"/mezzo")
	a := contend(t, u, "A", 5050)
	waitElected(t, a, 5*time.Second)
	stopped := time.Now()
	e.Stop(0)
	e.Stop(1)
	select {
	case err := <-a.Lost():
		t.Logf("lost quorum -> stepped down after %v: %v", time.Since(stopped), err)
		if !errors.Is(err, ErrDisconnected) && !errors.Is(err, ErrSessionExpired) {
			t.Errorf("Lost delivered %v", err)
		}
	case <-time.After(2*sessionTimeout + slack):
		t.Fatalf("A still leads %v after ZooKeeper lost its quorum", 2*sessionTimeout+slack)
	}
}

func TestFixedMaster(t *testing.T) {
	d, err := Detect(context.Background(), mustParse(t, "master@10.0.0.7:5050"), sessionTimeout)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	info := <-d.Changes()
	if LeaderAddress(info) != "10.0.0.7:5050" || info.GetPid() != "master@10.0.0.7:5050" || d.Leader() != info {
		t.Errorf("fixed master %v", info)
	}
	if _, err := Contend(context.Background(), mustParse(t, "10.0.0.7:5050"), sessionTimeout, testMasterInfo("A", 5050)); !errors.Is(err, ErrNotZooKeeper) {
		t.Errorf("Contend on a fixed master: %v", err)
	}
}

func jsonKeys(t *testing.T, b []byte) []string {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("%s: %v", b, err)
	}
	var keys []string
	var walk func(prefix string, v any)
	walk = func(prefix string, v any) {
		switch v := v.(type) {
		case map[string]any:
			for k, x := range v {
				keys = append(keys, prefix+k)
				walk(prefix+k+".", x)
			}
		case []any:
			for _, x := range v {
				walk(prefix, x)
			}
		}
	}
	walk("", m)
	sort.Strings(keys)
	return dedupe(keys)
}

func dedupe(s []string) []string {
	var out []string
	for i, x := range s {
		if i == 0 || x != s[i-1] {
			out = append(out, x)
		}
	}
	return out
}

func equalStrings(a, b []string) bool { return strings.Join(a, "\n") == strings.Join(b, "\n") }

// proxy forwards TCP connections to a ZooKeeper server until cut, after
// which it drops every connection and refuses new ones, as a network
// partition around the client would.
type proxy struct {
	l      net.Listener
	target string
	mu     sync.Mutex
	conns  []net.Conn
	isCut  bool
	wg     sync.WaitGroup
}

func startProxy(t *testing.T, target string) *proxy {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &proxy{l: l, target: target}
	p.wg.Add(1)
	go p.serve()
	t.Cleanup(func() {
		p.cut()
		l.Close()
		p.wg.Wait()
	})
	return p
}

func (p *proxy) addr() string { return p.l.Addr().String() }

func (p *proxy) serve() {
	defer p.wg.Done()
	for {
		c, err := p.l.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		if p.isCut {
			p.mu.Unlock()
			c.Close()
			continue
		}
		s, err := net.Dial("tcp", p.target)
		if err != nil {
			p.mu.Unlock()
			c.Close()
			continue
		}
		p.conns = append(p.conns, c, s)
		p.mu.Unlock()
		p.wg.Add(2)
		go func() { defer p.wg.Done(); io.Copy(s, c); s.Close() }()
		go func() { defer p.wg.Done(); io.Copy(c, s); c.Close() }()
	}
}

// heal lets new connections through again.
func (p *proxy) heal() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.isCut = false
}

func (p *proxy) cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.isCut = true
	for _, c := range p.conns {
		c.Close()
	}
	p.conns = nil
}

// TestDigestAuthentication contends with credentials: the znodes are
// readable by everyone (a detector without credentials follows the
// leader) and writable only by their creator, as Mesos sets them.
func TestDigestAuthentication(t *testing.T) {
	e := zktest.Start(t, 1)
	a := contend(t, mustParse(t, "zk://master:s3cret@"+e.Connect()+"/secure/mesos"), "A", 5050)
	waitElected(t, a, 5*time.Second)
	d := detect(t, mustParse(t, "zk://"+e.Connect()+"/secure/mesos"))
	waitLeader(t, d, "A", 5*time.Second)

	raw, _, err := zk.Connect(e.Servers(), sessionTimeout, zk.WithLogInfo(false))
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	acl, _, err := raw.GetACL(a.Fence().Path)
	if err != nil {
		t.Fatal(err)
	}
	if len(acl) != 2 || acl[0] != (zk.ACL{Perms: zk.PermRead, Scheme: "world", ID: "anyone"}) || acl[1].Scheme != "digest" || !strings.HasPrefix(acl[1].ID, "master:") || acl[1].Perms != zk.PermAll {
		t.Errorf("ACL %+v, want world read and the creator's digest with all permissions", acl)
	}
	if err := raw.Delete(a.Fence().Path, -1); !errors.Is(err, zk.ErrNoAuth) {
		t.Errorf("deleting the leader's znode without credentials: %v, want ErrNoAuth", err)
	}
}

// TestNodeDeletedLosesLeadership deletes the leader's znode behind its
// back: it must step down and the next master leads.
func TestNodeDeletedLosesLeadership(t *testing.T) {
	e := zktest.Start(t, 1)
	u := mustParse(t, "zk://"+e.Connect()+"/mezzo")
	a := contend(t, u, "A", 5050)
	waitElected(t, a, 5*time.Second)
	b := contend(t, u, "B", 5051)
	raw, _, err := zk.Connect(e.Servers(), sessionTimeout, zk.WithLogInfo(false))
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	if err := raw.Delete(a.Fence().Path, -1); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-a.Lost():
		if !errors.Is(err, ErrNodeDeleted) {
			t.Errorf("Lost delivered %v, want ErrNodeDeleted", err)
		}
	case <-time.After(sessionTimeout):
		t.Fatal("A still leads after its znode was deleted")
	}
	waitElected(t, b, sessionTimeout)
}

// TestDetectorForgetsAndRecoversAcrossPartition cuts a detector off from
// ZooKeeper: after the session timeout it no longer vouches for the
// leader, and once reconnected it reports the leader again.
func TestDetectorForgetsAndRecoversAcrossPartition(t *testing.T) {
	e := zktest.Start(t, 1)
	p := startProxy(t, e.Servers()[0])
	a := contend(t, mustParse(t, "zk://"+e.Connect()+"/mezzo"), "A", 5050)
	waitElected(t, a, 5*time.Second)
	d := detect(t, mustParse(t, "zk://"+p.addr()+"/mezzo"))
	waitLeader(t, d, "A", 5*time.Second)
	p.cut()
	waitLeader(t, d, "", sessionTimeout+slack)
	p.heal()
	waitLeader(t, d, "A", sessionTimeout+slack)
}

// TestGrantedSessionTimeout asks for more than zktest's servers grant (20
// ticks of 500ms): the contender must time its step-down by what was
// granted, or it would lead past its session's expiry.
func TestGrantedSessionTimeout(t *testing.T) {
	e := zktest.Start(t, 1)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := Contend(ctx, mustParse(t, "zk://"+e.Connect()+"/mezzo"), time.Minute, testMasterInfo("A", 5050), testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if got := c.heard.timeout(time.Minute); got != 10*time.Second {
		t.Errorf("granted session timeout %v, want zktest's maximum 10s", got)
	}
}
