package master

import (
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/mezzo-project/mezzo/api/v1/mesos"
	quotapb "github.com/mezzo-project/mezzo/api/v1/quota"
	"github.com/mezzo-project/mezzo/master/registry"
)

// countingStore counts the operations applied to a registry.
type countingStore struct {
	registry.Store
	ops []registry.Op
}

func (s *countingStore) Apply(ops ...registry.Op) error {
	s.ops = append(s.ops, ops...)
	return s.Store.Apply(ops...)
}

func (s *countingStore) Commit(batch [][]registry.Op) ([]error, error) {
	for _, ops := range batch {
		s.ops = append(s.ops, ops...)
	}
	return s.Store.Commit(batch)
}

// TestRolesSurviveRestart: weights and quotas are registry records; a
// restarted master has them, a role set back to weight 1 or without quota
// is forgotten, and a change writes only the roles it changes.
func TestRolesSurviveRestart(t *testing.T) {
	store := &countingStore{Store: registry.NewMemory()}
	h := newHarness(t, func(c *Config) { c.AgentReregisterTimeout = time.Minute })
	h.c.reg = store
	weights := func(ws map[string]float64) {
		var infos []*mesos.WeightInfo
		for role, w := range ws {
			infos = append(infos, &mesos.WeightInfo{Role: proto.String(role), Weight: proto.Float64(w)})
		}
		h.mustCore(func(c *core) error { return c.updateWeights(infos) })
	}
	weights(map[string]float64{"a": 2, "b": 3})
	store.ops = nil
	weights(map[string]float64{"b": 3, "c": 0.5})
	if len(store.ops) != 1 || store.ops[0].String() != "set weight of c to 0.5" {
		t.Errorf("a change of one role wrote %v", store.ops)
	}
	guarantee := func(role string, cpus float64) *quotapb.QuotaConfig {
		qc := &quotapb.QuotaConfig{Role: proto.String(role)}
		if cpus > 0 {
			qc.Guarantees = map[string]*mesos.Value_Scalar{"cpus": {Value: proto.Float64(cpus)}}
		}
		return qc
	}
	h.mustCore(func(c *core) error {
		return c.updateQuota(true, []*quotapb.QuotaConfig{guarantee("a", 1), guarantee("d", 2)})
	})
	h.mustCore(func(c *core) error { return c.updateQuota(true, []*quotapb.QuotaConfig{guarantee("d", 0)}) })
	weights(map[string]float64{"a": 1})

	h.restart(store)
	wantW := map[string]float64{"b": 3, "c": 0.5}
	if len(h.c.weights) != len(wantW) {
		t.Errorf("weights after restart: %v, want %v", h.c.weights, wantW)
	}
	for role, w := range wantW {
		if h.c.weights[role] != w {
			t.Errorf("weight of %s after restart: %v, want %v", role, h.c.weights[role], w)
		}
	}
	if len(h.c.quotas) != 1 || h.c.quotas["a"].GetGuarantees()["cpus"].GetValue() != 1 {
		t.Errorf("quotas after restart: %v", h.c.quotas)
	}
}

// failingStore fails every write.
type failingStore struct{ registry.Store }

func (failingStore) Apply(...registry.Op) error { return registry.ErrClosed }

func (failingStore) Commit([][]registry.Op) ([]error, error) { return nil, registry.ErrClosed }

// TestRoleChangeNotDurableIsRefused: a weight the registry could not
// record is refused (503) and changes nothing.
func TestRoleChangeNotDurableIsRefused(t *testing.T) {
	h := newHarness(t)
	h.c.reg = failingStore{registry.NewMemory()}
	err := h.c.updateWeights([]*mesos.WeightInfo{{Role: proto.String("a"), Weight: proto.Float64(2)}})
	if err == nil {
		t.Fatal("weight update accepted though the registry failed")
	}
	if h.c.weight("a") != 1 {
		t.Errorf("weight of a after a failed write: %v", h.c.weight("a"))
	}
}
