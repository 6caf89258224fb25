package master

import (
	"fmt"
	"io"
	"log/slog"
	"runtime"
	"syscall"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/mezzo-project/mezzo/api/v1/mesos"
	"github.com/mezzo-project/mezzo/internal/agentproto"
	"github.com/mezzo-project/mezzo/master/registry"
	"github.com/mezzo-project/mezzo/resources"
)

// pongAgent is an idle agent's end of its stream: it answers every PING
// with a PONG, which idleLoop hands back to the core as the agent's call.
type pongAgent struct {
	id, streamID string
	queue        *[]pendingPong
	pings        int
	closed       bool
}

// pendingPong is a PONG an agent owes the master.
type pendingPong struct {
	a   *pongAgent
	seq uint64
}

func (p *pongAgent) Send(ev *agentproto.AgentEvent) {
	if p.closed || ev.GetType() != agentproto.AgentEvent_PING {
		return
	}
	p.pings++
	*p.queue = append(*p.queue, pendingPong{a: p, seq: ev.GetPing().GetSequence()})
}

func (p *pongAgent) Close() { p.closed = true }

// nopStore is a registry that keeps nothing: the benchmark's agents
// register without the in-memory registry's copy of its whole content on
// every write (idle agents do not write to the registry).
type nopStore struct{}

func (nopStore) Recover() (*registry.State, error) { return &registry.State{}, nil }
func (nopStore) Apply(...registry.Op) error        { return nil }
func (nopStore) Close() error                      { return nil }

func (nopStore) Commit(batch [][]registry.Op) ([]error, error) { return make([]error, len(batch)), nil }

// idleLoop is a core with n registered idle agents on a fake clock, driven
// as Master.loop drives it: each turn finishes the last event (flush),
// asks for the next deadline, then runs one event (a PONG) or, with none
// waiting, moves the clock to the deadline and fires the timers.
type idleLoop struct {
	clock  *fakeClock
	c      *core
	agents []*pongAgent
	queue  []pendingPong
	pongs  int
	ticks  int
}

// newIdleLoop registers n agents whose registrations are spread evenly
// over one ping interval (as agents joining over time are), or all at the
// same instant with burst.
func newIdleLoop(tb testing.TB, n int, burst bool) *idleLoop {
	cfg := DefaultConfig()
	cfg.Hostname = "master.test"
	cfg.IP = "127.0.0.1"
	cfg.Registry = "in_memory"
	if err := cfg.Validate(); err != nil {
		tb.Fatal(err)
	}
	info, err := masterInfo(cfg, "M")
	if err != nil {
		tb.Fatal(err)
	}
	l := &idleLoop{clock: &fakeClock{t: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}}
	log := slog.New(slog.NewTextHandler(io.Discard, &slog.HandlerOptions{Level: slog.LevelInfo}))
	l.c = newCore(cfg, log, l.clock, info, nopStore{})
	total, err := resources.Parse("cpus:8;mem:16384;disk:100000", "*")
	if err != nil {
		tb.Fatal(err)
	}
	res := resources.ToProto(total, resources.FormatPreRefinement)
	step := cfg.AgentPingTimeout / time.Duration(n)
	for i := 0; i < n; i++ {
		a := &pongAgent{streamID: fmt.Sprintf("agent-stream-%d", i), queue: &l.queue}
		id, err := l.c.registerAgent(a, a.streamID, &agentproto.AgentCall_Register{
			AgentInfo: &mesos.AgentInfo{Hostname: proto.String(fmt.Sprintf("h%d", i)), Resources: res},
			Endpoint:  proto.String(fmt.Sprintf("10.%d.%d.%d:5051", i>>16&255, i>>8&255, i&255)),
			Version:   proto.String("1.11.1"),
		})
		if err != nil {
			tb.Fatal(err)
		}
		a.id = id
		l.agents = append(l.agents, a)
		l.c.flush()
		if !burst {
			l.clock.t = l.clock.t.Add(step)
		}
	}
	return l
}

// run drives the core until the clock reaches end.
func (l *idleLoop) run(end time.Time) {
	for {
		l.c.flush()
		next := l.c.nextDeadline()
		if len(l.queue) > 0 {
			p := l.queue[0]
			l.queue = l.queue[1:]
			err := l.c.agentCall(&agentproto.AgentCall{
				Type:    agentproto.AgentCall_PONG.Enum(),
				AgentId: agentID(p.a.id),
				Pong:    &agentproto.AgentCall_Pong{Sequence: proto.Uint64(p.seq)},
			}, p.a.streamID)
			if err != nil {
				panic(err)
			}
			l.pongs++
			continue
		}
		l.queue = nil
		if next.After(end) {
			break
		}
		if next.After(l.clock.t) {
			l.clock.t = next
		}
		l.c.tick()
		l.ticks++
	}
	l.clock.t = end
}

// cpuTime is the CPU time (user and system) the process has used.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		panic(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkIdlePings measures what n idle agents cost the master's core
// at Mesos' default ping interval (--agent_ping_timeout=15s): pings, the
// agents' PONGs, the batch allocation each --allocation_interval, and the
// loop's bookkeeping after every event. One op is one simulated second;
// %core is the CPU time used per simulated second, as a share of one
// core. Run it with a fixed count of simulated seconds, e.g.
//
//	go test -run '^$' -bench IdlePings -benchtime 30x ./master/
func BenchmarkIdlePings(b *testing.B) {
	for _, n := range []int{10000, 50000} {
		for _, burst := range []bool{false, true} {
			name := fmt.Sprintf("agents=%d/spread", n)
			if burst {
				name = fmt.Sprintf("agents=%d/burst", n)
			}
			b.Run(name, func(b *testing.B) {
				l := newIdleLoop(b, n, burst)
				if burst {
					// Let the first round of pings go out before measuring.
					l.run(l.clock.t.Add(l.c.cfg.AgentPingTimeout))
				}
				pongs, pings := l.pongs, 0
				for _, a := range l.agents {
					pings -= a.pings
				}
				runtime.GC()
				b.ResetTimer()
				cpu := cpuTime()
				l.run(l.clock.t.Add(time.Duration(b.N) * time.Second))
				cpu = cpuTime() - cpu
				b.StopTimer()
				for _, a := range l.agents {
					pings += a.pings
				}
				// Every agent is pinged once per interval, and answers.
				interval := l.c.cfg.AgentPingTimeout
				rounds := time.Duration(b.N) * time.Second / interval
				low, high := n*int(rounds), n*int(rounds+1)
				if !burst {
					want := float64(n) * float64(time.Duration(b.N)*time.Second) / float64(interval)
					low, high = int(0.9*want), int(1.1*want)+1
				}
				if pings < low || pings > high || l.pongs-pongs != pings {
					b.Fatalf("%d pings and %d pongs in %d simulated seconds, want %d to %d", pings, l.pongs-pongs, b.N, low, high)
				}
				if len(l.c.agents) != n {
					b.Fatalf("%d agents registered, want %d", len(l.c.agents), n)
				}
				b.ReportMetric(100*cpu.Seconds()/float64(b.N), "%core")
				b.ReportMetric(float64(pings)/float64(b.N), "pings/s")
			})
		}
	}
}
