package master

import (
	"maps"
	"slices"
	"sync"

	"google.golang.org/protobuf/proto"

	quotapb "github.com/mezzo-project/mezzo/api/v1/quota"
	"github.com/mezzo-project/mezzo/master/registry"
)

// Registry persists the operator's role configuration, which must survive
// a master restart or failover: role weights (UPDATE_WEIGHTS) and quotas
// (UPDATE_QUOTA). It is the master's registry seam: MemoryRegistry keeps
// them in memory; a durable implementation (a replicated log, ZooKeeper)
// plugs in here without the core changing.
//
// The master core calls a Registry from its one goroutine: Get* once when
// the core starts, Put* whenever an operator call changes the
// configuration, before the call is answered. A Put error fails the
// operator call (503) and leaves the master's state unchanged.
// Implementations must not keep references to the maps and messages they
// are given or return.
type Registry interface {
	// Weights returns every role's weight (roles absent weigh 1).
	Weights() (map[string]float64, error)
	// PutWeights replaces all weights.
	PutWeights(map[string]float64) error
	// Quotas returns every role's quota configuration.
	Quotas() (map[string]*quotapb.QuotaConfig, error)
	// PutQuotas replaces all quota configurations.
	PutQuotas(map[string]*quotapb.QuotaConfig) error
}

// MemoryRegistry is a Registry in memory: it survives nothing but keeps
// the contract. Safe for concurrent use. The zero value is empty and ready
// to use.
type MemoryRegistry struct {
	mu      sync.Mutex
	weights map[string]float64
	quotas  map[string]*quotapb.QuotaConfig
}

// NewMemoryRegistry returns an empty MemoryRegistry.
func NewMemoryRegistry() *MemoryRegistry { return &MemoryRegistry{} }

// Weights returns a copy of the stored weights.
func (r *MemoryRegistry) Weights() (map[string]float64, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return maps.Clone(r.weights), nil
}

// PutWeights stores a copy of w.
func (r *MemoryRegistry) PutWeights(w map[string]float64) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.weights = maps.Clone(w)
	return nil
}

// Quotas returns a copy of the stored quotas.
func (r *MemoryRegistry) Quotas() (map[string]*quotapb.QuotaConfig, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return cloneQuotas(r.quotas), nil
}

// PutQuotas stores a copy of q.
func (r *MemoryRegistry) PutQuotas(q map[string]*quotapb.QuotaConfig) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.quotas = cloneQuotas(q)
	return nil
}

func cloneQuotas(q map[string]*quotapb.QuotaConfig) map[string]*quotapb.QuotaConfig {
	out := make(map[string]*quotapb.QuotaConfig, len(q))
	for k, v := range q {
		out[k] = proto.Clone(v).(*quotapb.QuotaConfig)
	}
	return out
}

// StoreRegistry is the Registry view of the master's durable registry
// (package registry): weights and quotas are records of the same store as
// agents and frameworks, so --registry=replicated_log keeps them across
// restarts.
type StoreRegistry struct {
	Store registry.Store
}

// Weights returns every role's stored weight.
func (r StoreRegistry) Weights() (map[string]float64, error) {
	st, err := r.Store.Recover()
	if err != nil {
		return nil, err
	}
	return st.Weights, nil
}

// PutWeights replaces all weights: roles absent from w go back to weight 1.
func (r StoreRegistry) PutWeights(w map[string]float64) error {
	old, err := r.Weights()
	if err != nil {
		return err
	}
	var ops []registry.Op
	for role := range old {
		if _, ok := w[role]; !ok {
			ops = append(ops, registry.SetWeight{Role: role, Weight: 1})
		}
	}
	for _, role := range slices.Sorted(maps.Keys(w)) {
		ops = append(ops, registry.SetWeight{Role: role, Weight: w[role]})
	}
	if len(ops) == 0 {
		return nil
	}
	return r.Store.Apply(ops...)
}

// Quotas returns every role's stored quota configuration.
func (r StoreRegistry) Quotas() (map[string]*quotapb.QuotaConfig, error) {
	st, err := r.Store.Recover()
	if err != nil {
		return nil, err
	}
	return st.Quotas, nil
}

// PutQuotas replaces all quota configurations: roles absent from q lose
// their quota.
func (r StoreRegistry) PutQuotas(q map[string]*quotapb.QuotaConfig) error {
	old, err := r.Quotas()
	if err != nil {
		return err
	}
	var ops []registry.Op
	for role := range old {
		if _, ok := q[role]; !ok {
			ops = append(ops, registry.SetQuota{Config: &quotapb.QuotaConfig{Role: proto.String(role)}})
		}
	}
	for _, role := range slices.Sorted(maps.Keys(q)) {
		cfg := proto.Clone(q[role]).(*quotapb.QuotaConfig)
		cfg.Role = proto.String(role)
		ops = append(ops, registry.SetQuota{Config: cfg})
	}
	if len(ops) == 0 {
		return nil
	}
	return r.Store.Apply(ops...)
}
