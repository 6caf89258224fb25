package master

import (
	"maps"
	"sync"

	"google.golang.org/protobuf/proto"

	quotapb "github.com/mezzo-project/mezzo/api/v1/quota"
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
