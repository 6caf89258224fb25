package agent

import (
	"fmt"
	"log/slog"
	"net"
	"testing"
	"time"

	"github.com/mezzo-project/mezzo/api/v1/mesos"
	"github.com/mezzo-project/mezzo/internal/agentproto"
)

// BenchmarkAgentRecovery100 measures agent recovery with 100 running
// tasks of a checkpointing framework (100 command executors): from New on
// the same --work_dir until REGISTER reaches the master, which happens
// once every executor has re-subscribed (ms/recovery), and the part of it
// spent in New reading the checkpoint and adopting the 100 executor
// processes (ms/checkpoint-read). The executors wait a random time of up
// to MESOS_SUBSCRIPTION_BACKOFF_MAX (= --executor_reregistration_timeout,
// 2 s by default) between attempts, as Mesos' do, so the slowest of 100
// sets ms/recovery. Setup (launching the tasks) is outside the timer;
// each iteration detaches the agent and restarts it.
//
//	go test -run '^$' -bench AgentRecovery100 -benchtime 5x ./agent/
func BenchmarkAgentRecovery100(b *testing.B) {
	const n = 100
	m := newFakeMaster(b)
	work := b.TempDir()
	cfg := recoveryConfig(m, work)
	log := slog.New(slog.DiscardHandler)
	var newTotal time.Duration
	start := func(addr string) *Agent {
		t0 := time.Now()
		a, err := New(cfg, log)
		newTotal += time.Since(t0)
		if err != nil {
			b.Fatal(err)
		}
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			b.Fatal(err)
		}
		go a.Serve(ln)
		return a
	}
	registers := func() []*agentproto.AgentCall {
		m.mu.Lock()
		defer m.mu.Unlock()
		return append([]*agentproto.AgentCall(nil), m.registers...)
	}
	waitRegisters := func(k int) *agentproto.AgentCall_Register {
		deadline := time.Now().Add(60 * time.Second)
		for {
			if r := registers(); len(r) >= k {
				return r[k-1].GetRegister()
			}
			if time.Now().After(deadline) {
				b.Fatalf("no registration #%d", k)
			}
			time.Sleep(time.Millisecond)
		}
	}

	a := start("127.0.0.1:0")
	waitRegisters(1)
	addr := a.Endpoint()
	for i := range n {
		id := fmt.Sprintf("t%03d", i)
		m.send(runTask(frameworkInfo("F1", true), nil, commandTask(id, "sleep 600"), nil))
	}
	deadline := time.Now().Add(120 * time.Second)
	for {
		running := 0
		a.do(func() {
			fw := a.st.frameworks["F1"]
			if fw == nil {
				return
			}
			for _, ex := range fw.executors {
				for id, t := range ex.tasks {
					if u := fw.updates[id]; t.state == mesos.TaskState_TASK_RUNNING && (u == nil || len(u.pending) == 0) {
						running++
					}
				}
			}
		})
		if running == n {
			break
		}
		if time.Now().After(deadline) {
			b.Fatalf("%d of %d tasks running", running, n)
		}
		time.Sleep(50 * time.Millisecond)
	}
	defer func() { a.Close() }()

	newTotal = 0
	b.ResetTimer()
	var total time.Duration
	for i := range b.N {
		a.Detach()
		t0 := time.Now()
		a = start(addr)
		reg := waitRegisters(i + 2)
		d := time.Since(t0)
		total += d
		if len(reg.GetTasks()) != n {
			b.Fatalf("REGISTER after recovery reports %d tasks, want %d", len(reg.GetTasks()), n)
		}
		for _, t := range reg.GetTasks() {
			if t.GetState() != mesos.TaskState_TASK_RUNNING {
				b.Fatalf("task %s recovered as %v", t.GetTaskId().GetValue(), t.GetState())
			}
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(total.Milliseconds())/float64(b.N), "ms/recovery")
	b.ReportMetric(float64(newTotal.Microseconds())/1000/float64(b.N), "ms/checkpoint-read")
}
