package e2e

import (
	"context"
	"flag"
	"log/slog"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mezzo-project/mezzo/internal/emuagent"
)

var failoverAgents = flag.Int("failover_agents", 1000, "emulated agents TestFailoverEmulatedAgents registers with three masters")

// TestFailoverEmulatedAgents measures a leader's failover under
// -failover_agents emulated agents (package emuagent: the real agent
// protocol over loopback, one shared ZooKeeper detector): three master
// processes elect their leader in a three-server ZooKeeper ensemble
// (session timeout 2s), the agents register with it, a task runs on one
// of them, and the leader is killed with SIGKILL. It reports the time
// from the kill to the new leader's election, to its first offers, and
// to every agent re-registered with it, and checks that a task runs
// afterwards.
func TestFailoverEmulatedAgents(t *testing.T) {
	c := startHACluster(t, 0, false)
	url := c.url
	first := c.leader(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	pool, err := emuagent.Start(ctx, emuagent.Config{
		Master: url, Count: *failoverAgents, Resources: "cpus:4;mem:8192;disk:10000;ports:[31000-31100]",
		SessionTimeout: 2 * time.Second,
		Log:            slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn})),
	})
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	began := time.Now()
	waitCtx, waitCancel := context.WithTimeout(ctx, 2*time.Minute)
	defer waitCancel()
	if err := pool.WaitRegistered(waitCtx, c.addrs[first]); err != nil {
		t.Fatal(err)
	}
	t.Logf("%d emulated agents registered in %v", *failoverAgents, time.Since(began))
	c.waitAgents(t, *failoverAgents, time.Minute)

	// A task "running" on an emulated agent (sleep 600).
	long := c.startLongTask(t, "long-emulated")

	killed := time.Now()
	if err := syscall.Kill(c.masters[first].cmd.Process.Pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	next := c.waitLeader(t, first)
	electedAfter := time.Since(killed)
	if err := pool.WaitRegistered(waitCtx, c.addrs[next]); err != nil {
		t.Fatal(err)
	}
	reregistered := time.Since(killed)
	c.waitAgents(t, *failoverAgents, time.Minute)
	c.checkAfterFailover(t, long, "long-emulated")
	offers := readMastership(t, c.masters[next]).offers
	if len(offers) == 0 {
		t.Fatal("the new leader sent no offers")
	}
	elected := logTime(t, c.masters[next], "elected leading master")
	t.Logf("%d emulated agents, session timeout 2s: leader killed -> new leader elected %v (logged %v), first offers %v, all agents re-registered %v",
		*failoverAgents, electedAfter.Round(time.Millisecond), elected.Sub(killed).Round(time.Millisecond),
		offers[0].Sub(killed).Round(time.Millisecond), reregistered.Round(time.Millisecond))
	requireTerms(t, c.checkNoSplitBrain(t), c.masters[first].name)
}

// testWriter sends log lines to t.Log.
type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}
