package registry

import (
	"errors"
	"path/filepath"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/mezzo-project/mezzo/api/v1/maintenance"
	"github.com/mezzo-project/mezzo/api/v1/mesos"
	"github.com/mezzo-project/mezzo/api/v1/quota"
)

func agentInfo(id string) *mesos.AgentInfo {
	return &mesos.AgentInfo{Hostname: proto.String("host-" + id), Id: &mesos.AgentID{Value: proto.String(id)}}
}

// stores runs f against every implementation.
func stores(t *testing.T, f func(t *testing.T, s Store, reopen func() Store)) {
	t.Run("memory", func(t *testing.T) {
		m := NewMemory()
		f(t, m, func() Store { return m })
	})
	t.Run("zookeeper", func(t *testing.T) {
		_, z, reopen := zkStore(t)
		f(t, z, reopen)
	})
	t.Run("bolt", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "registry.db")
		b, err := OpenBolt(path)
		if err != nil {
			t.Fatal(err)
		}
		cur := Store(b)
		t.Cleanup(func() { cur.Close() })
		f(t, b, func() Store {
			cur.Close()
			nb, err := OpenBolt(path)
			if err != nil {
				t.Fatal(err)
			}
			cur = nb
			return nb
		})
	})
}

func TestAgentLifecycle(t *testing.T) {
	stores(t, func(t *testing.T, s Store, reopen func() Store) {
		t0 := time.Unix(1000, 0)
		must := func(ops ...Op) {
			t.Helper()
			if err := s.Apply(ops...); err != nil {
				t.Fatal(err)
			}
		}
		must(AdmitAgent{Info: agentInfo("a1")}, AdmitAgent{Info: agentInfo("a2")}, AdmitAgent{Info: agentInfo("a3")})
		must(MarkUnreachable{ID: "a2", Time: t0})
		must(MarkGone{ID: "a3", Time: t0})
		fw := &mesos.FrameworkInfo{User: proto.String("u"), Name: proto.String("n"), Id: &mesos.FrameworkID{Value: proto.String("f1")}}
		must(AddFramework{Info: fw}, SetWeight{Role: "web", Weight: 2.5},
			SetQuota{Config: &quota.QuotaConfig{Role: proto.String("web"), Guarantees: map[string]*mesos.Value_Scalar{"cpus": {Value: proto.Float64(2)}}}})

		s = reopen()
		st, err := s.Recover()
		if err != nil {
			t.Fatal(err)
		}
		if len(st.Agents) != 1 || st.Agents["a1"] == nil || st.Agents["a1"].GetInfo().GetHostname() != "host-a1" {
			t.Errorf("agents: %v", st.Agents)
		}
		u := st.Unreachable["a2"]
		if u == nil || u.GetTimestamp().GetNanoseconds() != t0.UnixNano() || u.GetInfo().GetHostname() != "host-a2" {
			t.Errorf("unreachable: %v", st.Unreachable)
		}
		if st.Gone["a3"] == nil || len(st.Gone) != 1 {
			t.Errorf("gone: %v", st.Gone)
		}
		if !proto.Equal(st.Frameworks["f1"], fw) || st.Weights["web"] != 2.5 || st.Quotas["web"].GetGuarantees()["cpus"].GetValue() != 2 {
			t.Errorf("frameworks %v weights %v quotas %v", st.Frameworks, st.Weights, st.Quotas)
		}

		// The unreachable agent comes back; the gone one may not.
		must(MarkReachable{Info: agentInfo("a2")})
		var opErr *OpError
		if err := s.Apply(AdmitAgent{Info: agentInfo("a3")}); !errors.As(err, &opErr) {
			t.Errorf("re-admitting a gone agent: %v", err)
		}
		if err := s.Apply(AdmitAgent{Info: agentInfo("a1")}); !errors.As(err, &opErr) {
			t.Errorf("admitting twice: %v", err)
		}
		st, _ = s.Recover()
		if len(st.Agents) != 2 || len(st.Unreachable) != 0 {
			t.Errorf("after reachable: agents %v unreachable %v", st.Agents, st.Unreachable)
		}
	})
}

func TestApplyIsAllOrNothing(t *testing.T) {
	stores(t, func(t *testing.T, s Store, reopen func() Store) {
		err := s.Apply(AdmitAgent{Info: agentInfo("a1")}, MarkUnreachable{ID: "nope", Time: time.Now()})
		var opErr *OpError
		if !errors.As(err, &opErr) {
			t.Fatalf("got %v", err)
		}
		st, _ := reopen().Recover()
		if len(st.Agents) != 0 {
			t.Fatalf("a failed batch left %v", st.Agents)
		}
	})
}

func TestPrune(t *testing.T) {
	stores(t, func(t *testing.T, s Store, _ func() Store) {
		base := time.Unix(10000, 0)
		for i := 0; i < 6; i++ {
			id := string(rune('a' + i))
			if err := s.Apply(AdmitAgent{Info: agentInfo(id)}, MarkUnreachable{ID: id, Time: base.Add(time.Duration(i) * time.Hour)}); err != nil {
				t.Fatal(err)
			}
		}
		// Older than 3.5h before base+5h: a (0h), b (1h) go; then keep at most 3: c goes.
		if err := s.Apply(Prune{Now: base.Add(5 * time.Hour), MaxAge: 3*time.Hour + 30*time.Minute, MaxCount: 3}); err != nil {
			t.Fatal(err)
		}
		st, _ := s.Recover()
		for _, id := range []string{"a", "b", "c"} {
			if st.Unreachable[id] != nil {
				t.Errorf("%s not pruned", id)
			}
		}
		for _, id := range []string{"d", "e", "f"} {
			if st.Unreachable[id] == nil {
				t.Errorf("%s pruned", id)
			}
		}
	})
}

func TestBoltRefusesASecondOpener(t *testing.T) {
	if testing.Short() {
		t.Skip("waits for the lock timeout")
	}
	path := filepath.Join(t.TempDir(), "r.db")
	b, err := OpenBolt(path)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	done := make(chan error, 1)
	go func() {
		_, err := OpenBolt(path)
		done <- err
	}()
	select {
	case err := <-done:
		if err == nil {
			t.Fatal("a second OpenBolt of the same file succeeded")
		}
	case <-time.After(20 * time.Second):
		t.Fatal("a second OpenBolt hung")
	}
}

func BenchmarkBoltApplyAdmit(b *testing.B) {
	s, err := OpenBolt(filepath.Join(b.TempDir(), "r.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := s.Apply(AdmitAgent{Info: agentInfo(fmtID(i))}); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkBoltRecover10kAgents(b *testing.B) {
	s, err := OpenBolt(filepath.Join(b.TempDir(), "r.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	var ops []Op
	for i := 0; i < 10000; i++ {
		info := agentInfo(fmtID(i))
		info.Resources = []*mesos.Resource{{Name: proto.String("cpus"), Type: mesos.Value_SCALAR.Enum(), Scalar: &mesos.Value_Scalar{Value: proto.Float64(8)}}}
		ops = append(ops, AdmitAgent{Info: info})
	}
	if err := s.Apply(ops...); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		st, err := s.Recover()
		if err != nil || len(st.Agents) != 10000 {
			b.Fatalf("%v %d", err, len(st.Agents))
		}
	}
}

func fmtID(i int) string {
	const digits = "0123456789"
	out := []byte("agent-00000")
	for p := len(out) - 1; i > 0; p-- {
		out[p] = digits[i%10]
		i /= 10
	}
	return string(out)
}

func TestMaintenanceRecords(t *testing.T) {
	stores(t, func(t *testing.T, s Store, reopen func() Store) {
		must := func(ops ...Op) {
			t.Helper()
			if err := s.Apply(ops...); err != nil {
				t.Fatal(err)
			}
		}
		m1 := &mesos.MachineID{Hostname: proto.String("m1")}
		sched := &maintenance.Schedule{Windows: []*maintenance.Window{{
			MachineIds:     []*mesos.MachineID{m1, {Ip: proto.String("10.0.0.2")}},
			Unavailability: &mesos.Unavailability{Start: &mesos.TimeInfo{Nanoseconds: proto.Int64(5)}},
		}}}
		drain := &mesos.DrainInfo{State: mesos.DrainState_DRAINING.Enum(), Config: &mesos.DrainConfig{MarkGone: proto.Bool(true)}}
		must(AdmitAgent{Info: agentInfo("a1")}, AdmitAgent{Info: agentInfo("a2")})
		must(SetMaintenance{Schedules: []*maintenance.Schedule{sched}, Down: []*mesos.MachineID{m1}},
			SetAgentMaintenance{ID: "a1", Deactivated: true, Drain: drain},
			SetAgentMaintenance{ID: "a2", Deactivated: true},
			SetAgentMaintenance{ID: "unreachable-one", Deactivated: true})
		s = reopen()
		st, err := s.Recover()
		if err != nil {
			t.Fatal(err)
		}
		if len(st.Maintenance) != 1 || !proto.Equal(st.Maintenance[0], sched) || len(st.Down) != 1 || !proto.Equal(st.Down[0], m1) {
			t.Fatalf("maintenance: %v down %v", st.Maintenance, st.Down)
		}
		if !st.Deactivated["a1"] || !st.Deactivated["a2"] || !proto.Equal(st.Draining["a1"], drain) || st.Draining["a2"] != nil {
			t.Fatalf("holds: %v %v", st.Deactivated, st.Draining)
		}
		// Clearing, and a gone agent loses its holds.
		must(SetMaintenance{}, SetAgentMaintenance{ID: "a2"}, MarkGone{ID: "a1", Time: time.Unix(1, 0)})
		var opErr *OpError
		if err := s.Apply(SetAgentMaintenance{ID: "a1", Deactivated: true}); !errors.As(err, &opErr) {
			t.Fatalf("hold on a gone agent: %v", err)
		}
		st, err = reopen().Recover()
		if err != nil {
			t.Fatal(err)
		}
		if len(st.Maintenance) != 0 || len(st.Down) != 0 || len(st.Draining) != 0 || len(st.Deactivated) != 1 || !st.Deactivated["unreachable-one"] {
			t.Fatalf("after clearing: %v %v %v %v", st.Maintenance, st.Down, st.Deactivated, st.Draining)
		}
	})
}

// TestCommitRefusesOnlyItsGroup: a group that does not fit the state is
// left out whole (even its ops that would fit) and reported; the groups
// around it are applied in order, and later groups see earlier ones.
func TestCommitRefusesOnlyItsGroup(t *testing.T) {
	stores(t, func(t *testing.T, s Store, reopen func() Store) {
		if err := s.Apply(AdmitAgent{Info: agentInfo("a1")}); err != nil {
			t.Fatal(err)
		}
		refused, err := s.Commit([][]Op{
			{AdmitAgent{Info: agentInfo("a2")}},
			// a3 fits, a1 is admitted already: the group goes whole.
			{AdmitAgent{Info: agentInfo("a3")}, AdmitAgent{Info: agentInfo("a1")}},
			// Sees a2, admitted by the first group.
			{MarkUnreachable{ID: "a2", Time: time.Unix(5, 0)}},
			{AddFramework{Info: &mesos.FrameworkInfo{Id: &mesos.FrameworkID{Value: proto.String("f1")}, User: proto.String("u"), Name: proto.String("n")}}},
		})
		if err != nil {
			t.Fatal(err)
		}
		if len(refused) != 4 || refused[0] != nil || refused[2] != nil || refused[3] != nil {
			t.Fatalf("refused = %v, want only the second group", refused)
		}
		var opErr *OpError
		if !errors.As(refused[1], &opErr) || opErr.Reason != "agent already admitted" {
			t.Errorf("second group refused with %v, want the OpError of admitting a1 again", refused[1])
		}
		st, err := reopen().Recover()
		if err != nil {
			t.Fatal(err)
		}
		if st.Agents["a1"] == nil || st.Agents["a3"] != nil || st.Agents["a2"] != nil || st.Unreachable["a2"] == nil {
			t.Errorf("agents %v, unreachable %v: want a1 admitted, a2 unreachable, no a3", keys(st.Agents), keys(st.Unreachable))
		}
		if st.Frameworks["f1"] == nil {
			t.Error("the last group's framework is missing")
		}
	})
}

func keys[V any](m map[string]V) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}
