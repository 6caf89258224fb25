// Package registry is the master's durable state: the record a master
// reads after a restart or a failover to know which agents it admitted,
// which it found unreachable (and since when) or an operator marked gone,
// which frameworks registered, the roles' quotas and weights, the
// maintenance schedule with the machines in DOWN mode, and the agents an
// operator deactivated or is draining.
//
// The master changes the registry with operations (Op) applied in
// batches; Store.Apply and Store.Commit return only when the batch is
// durable (or has failed as a whole), so the master acknowledges nothing
// it could forget — "durable before acknowledged". An operation that does
// not fit the state (admitting an agent twice, marking an unknown agent
// unreachable) fails with an *OpError and leaves the state unchanged.
//
// Commit takes a batch of groups, one per request the master made: the
// groups are applied in order in one transaction (one fsync, one
// ZooKeeper multi-op), each all or none, and a group refused with an
// *OpError is left out without failing the others.
//
// Two stores implement it, chosen by the master's --registry flag as in
// Mesos: "in_memory" (NewMemory: lost when the master stops; for tests and
// throwaway clusters) and "replicated_log" (OpenBolt: an embedded bbolt
// database in the master's --work_dir; the ZooKeeper-backed store for
// several masters implements the same interface). Each record is stored
// under its own key, so a change writes only what changed, whatever the
// size of the cluster.
//
// Garbage collection of unreachable and gone agents (Mesos'
// --registry_max_agent_age and --registry_max_agent_count) is the Prune
// operation.
package registry

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"sort"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/mezzo-project/mezzo/api/v1/maintenance"
	"github.com/mezzo-project/mezzo/api/v1/mesos"
	"github.com/mezzo-project/mezzo/api/v1/quota"
	"github.com/mezzo-project/mezzo/internal/registrypb"
)

// Store is a registry. Recover, Apply, Commit and Close may be called
// from any goroutine; Apply and Commit calls are serialized.
type Store interface {
	// Recover reads the whole registry.
	Recover() (*State, error)
	// Apply applies ops in order, all or none, and returns once the result
	// is durable. An op that does not fit the state returns an *OpError.
	Apply(ops ...Op) error
	// Commit applies the groups of batch in order in one transaction and
	// returns once the result is durable. Each group is all or none: a
	// group with an op that does not fit the state (as left by the groups
	// before it) is skipped and its *OpError is refused[i]; the others
	// are applied. An error err (the store failed) means nothing was
	// written; refused is then nil.
	Commit(batch [][]Op) (refused []error, err error)
	// Close releases the store.
	Close() error
}

// State is the registry's content.
type State struct {
	// Agents holds admitted agents by id.
	Agents map[string]*registrypb.Agent
	// Unreachable holds agents marked unreachable, by id.
	Unreachable map[string]*registrypb.UnreachableAgent
	// Gone holds agents marked gone, by id.
	Gone map[string]*registrypb.GoneAgent
	// Frameworks holds registered frameworks by id.
	Frameworks map[string]*mesos.FrameworkInfo
	// Quotas holds quota configurations by role.
	Quotas map[string]*quota.QuotaConfig
	// Weights holds role weights by role (roles without one weigh 1).
	Weights map[string]float64
	// Maintenance is the maintenance schedule.
	Maintenance []*maintenance.Schedule
	// Down holds the machines in DOWN mode (maintenance started).
	Down []*mesos.MachineID
	// Deactivated holds the agents an operator deactivated (or is
	// draining), by id.
	Deactivated map[string]bool
	// Draining holds the draining state of agents being (or done being)
	// drained, by id.
	Draining map[string]*mesos.DrainInfo
}

func newState() *State {
	return &State{
		Agents:      map[string]*registrypb.Agent{},
		Unreachable: map[string]*registrypb.UnreachableAgent{},
		Gone:        map[string]*registrypb.GoneAgent{},
		Frameworks:  map[string]*mesos.FrameworkInfo{},
		Quotas:      map[string]*quota.QuotaConfig{},
		Weights:     map[string]float64{},
		Deactivated: map[string]bool{},
		Draining:    map[string]*mesos.DrainInfo{},
	}
}

// ErrClosed is returned by a closed store.
var ErrClosed = errors.New("registry: closed")

// OpError is an operation that does not fit the registry's state.
type OpError struct {
	Op     Op
	Reason string
}

// Error describes what went wrong.
func (e *OpError) Error() string { return fmt.Sprintf("registry: %s: %s", e.Op, e.Reason) }

// Record kinds, each stored in its own key space.
const (
	kindAgent       = "agents"
	kindUnreachable = "unreachable"
	kindGone        = "gone"
	kindFramework   = "frameworks"
	kindQuota       = "quotas"
	kindWeight      = "weights"
	kindMaintenance = "maintenance"
	kindDeactivated = "deactivated"
	kindDrain       = "draining"
)

var kinds = []string{kindAgent, kindUnreachable, kindGone, kindFramework, kindQuota, kindWeight, kindMaintenance,
	kindDeactivated, kindDrain}

// Keys of the maintenance records.
const (
	keySchedule = "schedule"
	keyDown     = "down"
)

// txn is the view of a store that operations change: raw records by kind
// and key.
type txn interface {
	get(kind, key string) ([]byte, bool)
	put(kind, key string, value []byte) error
	del(kind, key string) error
	// each calls f for every record of kind, in key order.
	each(kind string, f func(key string, value []byte) error) error
}

// Op is one change to the registry.
type Op interface {
	apply(t txn) error
	String() string
}

func put(t txn, kind, key string, m proto.Message) error {
	b, err := proto.MarshalOptions{Deterministic: true}.Marshal(m)
	if err != nil {
		return fmt.Errorf("registry: encode %s/%s: %w", kind, key, err)
	}
	return t.put(kind, key, b)
}

func has(t txn, kind, key string) bool {
	_, ok := t.get(kind, key)
	return ok
}

func timeInfo(ts time.Time) *mesos.TimeInfo {
	return &mesos.TimeInfo{Nanoseconds: proto.Int64(ts.UnixNano())}
}

// AdmitAgent records a newly admitted agent. It fails if the id is already
// admitted or was marked gone.
type AdmitAgent struct {
	Info         *mesos.AgentInfo
	Capabilities []*mesos.AgentInfo_Capability
}

// String names the operation.
func (o AdmitAgent) String() string { return "admit agent " + o.Info.GetId().GetValue() }

func (o AdmitAgent) apply(t txn) error {
	id := o.Info.GetId().GetValue()
	if id == "" {
		return &OpError{o, "agent info has no id"}
	}
	switch {
	case has(t, kindAgent, id):
		return &OpError{o, "agent already admitted"}
	case has(t, kindGone, id):
		return &OpError{o, "agent was marked gone"}
	}
	if err := t.del(kindUnreachable, id); err != nil {
		return err
	}
	return put(t, kindAgent, id, &registrypb.Agent{Info: o.Info, Capabilities: o.Capabilities})
}

// UpdateAgent replaces an admitted agent's info (a re-registration with
// changed attributes or version).
type UpdateAgent struct {
	Info         *mesos.AgentInfo
	Capabilities []*mesos.AgentInfo_Capability
}

// String names the operation.
func (o UpdateAgent) String() string { return "update agent " + o.Info.GetId().GetValue() }

func (o UpdateAgent) apply(t txn) error {
	id := o.Info.GetId().GetValue()
	if !has(t, kindAgent, id) {
		return &OpError{o, "agent not admitted"}
	}
	return put(t, kindAgent, id, &registrypb.Agent{Info: o.Info, Capabilities: o.Capabilities})
}

// MarkUnreachable moves an admitted agent to the unreachable list with the
// time it became unreachable.
type MarkUnreachable struct {
	ID   string
	Time time.Time
}

// String names the operation.
func (o MarkUnreachable) String() string { return "mark agent " + o.ID + " unreachable" }

func (o MarkUnreachable) apply(t txn) error {
	raw, ok := t.get(kindAgent, o.ID)
	if !ok {
		return &OpError{o, "agent not admitted"}
	}
	var a registrypb.Agent
	if err := proto.Unmarshal(raw, &a); err != nil {
		return fmt.Errorf("registry: decode agent %s: %w", o.ID, err)
	}
	if err := t.del(kindAgent, o.ID); err != nil {
		return err
	}
	return put(t, kindUnreachable, o.ID, &registrypb.UnreachableAgent{
		Id: &mesos.AgentID{Value: proto.String(o.ID)}, Timestamp: timeInfo(o.Time), Info: a.Info})
}

// MarkReachable re-admits an unreachable agent that came back.
type MarkReachable struct {
	Info         *mesos.AgentInfo
	Capabilities []*mesos.AgentInfo_Capability
}

// String names the operation.
func (o MarkReachable) String() string {
	return "mark agent " + o.Info.GetId().GetValue() + " reachable"
}

func (o MarkReachable) apply(t txn) error {
	id := o.Info.GetId().GetValue()
	if !has(t, kindUnreachable, id) {
		return &OpError{o, "agent is not unreachable"}
	}
	if err := t.del(kindUnreachable, id); err != nil {
		return err
	}
	return put(t, kindAgent, id, &registrypb.Agent{Info: o.Info, Capabilities: o.Capabilities})
}

// MarkGone records that an agent (admitted or unreachable) is gone for
// good (operator MARK_AGENT_GONE).
type MarkGone struct {
	ID   string
	Time time.Time
}

// String names the operation.
func (o MarkGone) String() string { return "mark agent " + o.ID + " gone" }

func (o MarkGone) apply(t txn) error {
	switch {
	case has(t, kindGone, o.ID):
		return &OpError{o, "agent already marked gone"}
	case !has(t, kindAgent, o.ID) && !has(t, kindUnreachable, o.ID):
		return &OpError{o, "unknown agent"}
	}
	if err := t.del(kindAgent, o.ID); err != nil {
		return err
	}
	if err := t.del(kindUnreachable, o.ID); err != nil {
		return err
	}
	// A gone agent is neither deactivated nor draining any more.
	if err := t.del(kindDeactivated, o.ID); err != nil {
		return err
	}
	if err := t.del(kindDrain, o.ID); err != nil {
		return err
	}
	return put(t, kindGone, o.ID, &registrypb.GoneAgent{Id: &mesos.AgentID{Value: proto.String(o.ID)}, Timestamp: timeInfo(o.Time)})
}

// RemoveAgent forgets an admitted agent (one that shut down cleanly).
type RemoveAgent struct{ ID string }

// String names the operation.
func (o RemoveAgent) String() string { return "remove agent " + o.ID }

func (o RemoveAgent) apply(t txn) error {
	if !has(t, kindAgent, o.ID) {
		return &OpError{o, "agent not admitted"}
	}
	return t.del(kindAgent, o.ID)
}

// AddFramework records a registered framework (or updates its info).
type AddFramework struct{ Info *mesos.FrameworkInfo }

// String names the operation.
func (o AddFramework) String() string { return "add framework " + o.Info.GetId().GetValue() }

func (o AddFramework) apply(t txn) error {
	id := o.Info.GetId().GetValue()
	if id == "" {
		return &OpError{o, "framework info has no id"}
	}
	return put(t, kindFramework, id, o.Info)
}

// RemoveFramework forgets a framework (torn down or failed over past its
// timeout).
type RemoveFramework struct{ ID string }

// String names the operation.
func (o RemoveFramework) String() string { return "remove framework " + o.ID }

func (o RemoveFramework) apply(t txn) error { return t.del(kindFramework, o.ID) }

// SetQuota sets a role's quota; a config without guarantees or limits
// removes it (Mesos' UPDATE_QUOTA semantics).
type SetQuota struct{ Config *quota.QuotaConfig }

// String names the operation.
func (o SetQuota) String() string { return "set quota of " + o.Config.GetRole() }

func (o SetQuota) apply(t txn) error {
	role := o.Config.GetRole()
	if role == "" {
		return &OpError{o, "quota config has no role"}
	}
	if len(o.Config.GetGuarantees()) == 0 && len(o.Config.GetLimits()) == 0 {
		return t.del(kindQuota, role)
	}
	return put(t, kindQuota, role, &registrypb.Quota{Config: o.Config})
}

// SetWeight sets a role's weight; weight 1 (the default) removes the
// record.
type SetWeight struct {
	Role   string
	Weight float64
}

// String names the operation.
func (o SetWeight) String() string { return fmt.Sprintf("set weight of %s to %g", o.Role, o.Weight) }

func (o SetWeight) apply(t txn) error {
	if o.Role == "" || !(o.Weight > 0) {
		return &OpError{o, "weights need a role and a positive value"}
	}
	if o.Weight == 1 {
		return t.del(kindWeight, o.Role)
	}
	return put(t, kindWeight, o.Role, &registrypb.Weight{Role: proto.String(o.Role), Weight: proto.Float64(o.Weight)})
}

// SetMaintenance replaces the maintenance schedule and the list of
// machines in DOWN mode (every other scheduled machine is DRAINING).
type SetMaintenance struct {
	Schedules []*maintenance.Schedule
	Down      []*mesos.MachineID
}

// String names the operation.
func (o SetMaintenance) String() string { return "set maintenance schedule" }

func (o SetMaintenance) apply(t txn) error {
	if err := put(t, kindMaintenance, keySchedule, &registrypb.Maintenance{Schedules: o.Schedules}); err != nil {
		return err
	}
	if len(o.Down) == 0 {
		return t.del(kindMaintenance, keyDown)
	}
	return put(t, kindMaintenance, keyDown, &maintenance.ClusterStatus{DownMachines: o.Down})
}

// SetAgentMaintenance records an operator's hold on an agent: whether it
// is deactivated (no offers) and its draining state (nil: not draining).
// Deactivated false with no Drain removes the records. The agent need not
// be admitted (an unreachable agent may be drained).
type SetAgentMaintenance struct {
	ID          string
	Deactivated bool
	Drain       *mesos.DrainInfo
}

// String names the operation.
func (o SetAgentMaintenance) String() string { return "set maintenance state of agent " + o.ID }

func (o SetAgentMaintenance) apply(t txn) error {
	if o.ID == "" {
		return &OpError{o, "no agent id"}
	}
	if has(t, kindGone, o.ID) {
		return &OpError{o, "agent was marked gone"}
	}
	var err error
	if o.Deactivated {
		err = put(t, kindDeactivated, o.ID, &mesos.AgentID{Value: proto.String(o.ID)})
	} else {
		err = t.del(kindDeactivated, o.ID)
	}
	if err != nil {
		return err
	}
	if o.Drain == nil {
		return t.del(kindDrain, o.ID)
	}
	return put(t, kindDrain, o.ID, o.Drain)
}

// Prune garbage-collects the unreachable and gone lists as Mesos does:
// entries older than MaxAge go, then the oldest go until each list holds
// at most MaxCount. A zero MaxAge or MaxCount disables that bound.
type Prune struct {
	Now      time.Time
	MaxAge   time.Duration
	MaxCount int
}

// String names the operation.
func (o Prune) String() string { return "prune unreachable and gone agents" }

func (o Prune) apply(t txn) error {
	for _, kind := range []string{kindUnreachable, kindGone} {
		type entry struct {
			key string
			ts  int64
		}
		var entries []entry
		err := t.each(kind, func(key string, value []byte) error {
			var ts int64
			if kind == kindGone {
				var g registrypb.GoneAgent
				if err := proto.Unmarshal(value, &g); err != nil {
					return err
				}
				ts = g.GetTimestamp().GetNanoseconds()
			} else {
				var u registrypb.UnreachableAgent
				if err := proto.Unmarshal(value, &u); err != nil {
					return err
				}
				ts = u.GetTimestamp().GetNanoseconds()
			}
			entries = append(entries, entry{key, ts})
			return nil
		})
		if err != nil {
			return fmt.Errorf("registry: prune %s: %w", kind, err)
		}
		sort.Slice(entries, func(i, j int) bool { return entries[i].ts < entries[j].ts })
		drop := 0
		if o.MaxAge > 0 {
			cutoff := o.Now.Add(-o.MaxAge).UnixNano()
			for drop < len(entries) && entries[drop].ts < cutoff {
				drop++
			}
		}
		if o.MaxCount > 0 && len(entries)-drop > o.MaxCount {
			drop = len(entries) - o.MaxCount
		}
		for _, e := range entries[:drop] {
			if err := t.del(kind, e.key); err != nil {
				return err
			}
		}
	}
	return nil
}

// commitGroups applies the groups of batch to t in order, each through
// an overlay so that a group refused with an *OpError leaves nothing
// behind. Any other error fails the whole batch.
func commitGroups(t txn, batch [][]Op) ([]error, error) {
	refused := make([]error, len(batch))
	for i, group := range batch {
		o := newOverlay(t)
		err := applyOps(o, group)
		var opErr *OpError
		if errors.As(err, &opErr) {
			refused[i] = err
			continue
		}
		if err != nil {
			return nil, err
		}
		if err := o.flush(); err != nil {
			return nil, err
		}
	}
	return refused, nil
}

// applyOps applies ops to t in order, stopping at the first error.
func applyOps(t txn, ops []Op) error {
	for _, op := range ops {
		if err := op.apply(t); err != nil {
			return err
		}
	}
	return nil
}

// overlayTxn is a view of base with changes on top (a nil value is a
// deletion): operations see their own writes, and base is untouched
// until flush writes the changes into it.
type overlayTxn struct {
	base    txn
	changed map[string]map[string][]byte
}

func newOverlay(base txn) *overlayTxn {
	return &overlayTxn{base: base, changed: map[string]map[string][]byte{}}
}

func (t *overlayTxn) get(kind, key string) ([]byte, bool) {
	if v, ok := t.changed[kind][key]; ok {
		return v, v != nil
	}
	return t.base.get(kind, key)
}

func (t *overlayTxn) set(kind, key string, v []byte) {
	if t.changed[kind] == nil {
		t.changed[kind] = map[string][]byte{}
	}
	t.changed[kind][key] = v
}

func (t *overlayTxn) put(kind, key string, value []byte) error {
	if value == nil {
		value = []byte{}
	}
	t.set(kind, key, value)
	return nil
}

func (t *overlayTxn) del(kind, key string) error {
	t.set(kind, key, nil)
	return nil
}

func (t *overlayTxn) each(kind string, f func(key string, value []byte) error) error {
	keys := map[string]bool{}
	err := t.base.each(kind, func(k string, _ []byte) error {
		keys[k] = true
		return nil
	})
	if err != nil {
		return err
	}
	for k := range t.changed[kind] {
		keys[k] = true
	}
	for _, k := range slices.Sorted(maps.Keys(keys)) {
		if v, ok := t.get(kind, k); ok {
			if err := f(k, v); err != nil {
				return err
			}
		}
	}
	return nil
}

// flush writes the changes into base, in kind and key order.
func (t *overlayTxn) flush() error {
	for _, kind := range slices.Sorted(maps.Keys(t.changed)) {
		for _, key := range slices.Sorted(maps.Keys(t.changed[kind])) {
			var err error
			if v := t.changed[kind][key]; v == nil {
				err = t.base.del(kind, key)
			} else {
				err = t.base.put(kind, key, v)
			}
			if err != nil {
				return fmt.Errorf("registry: write %s/%s: %w", kind, key, err)
			}
		}
	}
	return nil
}

// load reads every record through t into a State.
func load(t txn) (*State, error) {
	st := newState()
	decode := func(kind string, f func(key string, value []byte) error) error {
		if err := t.each(kind, f); err != nil {
			return fmt.Errorf("registry: read %s: %w", kind, err)
		}
		return nil
	}
	err := errors.Join(
		decode(kindAgent, func(k string, v []byte) error {
			a := &registrypb.Agent{}
			st.Agents[k] = a
			return proto.Unmarshal(v, a)
		}),
		decode(kindUnreachable, func(k string, v []byte) error {
			u := &registrypb.UnreachableAgent{}
			st.Unreachable[k] = u
			return proto.Unmarshal(v, u)
		}),
		decode(kindGone, func(k string, v []byte) error {
			g := &registrypb.GoneAgent{}
			st.Gone[k] = g
			return proto.Unmarshal(v, g)
		}),
		decode(kindFramework, func(k string, v []byte) error {
			f := &mesos.FrameworkInfo{}
			st.Frameworks[k] = f
			return proto.Unmarshal(v, f)
		}),
		decode(kindQuota, func(k string, v []byte) error {
			var q registrypb.Quota
			if err := proto.Unmarshal(v, &q); err != nil {
				return err
			}
			st.Quotas[k] = q.Config
			return nil
		}),
		decode(kindWeight, func(k string, v []byte) error {
			var w registrypb.Weight
			if err := proto.Unmarshal(v, &w); err != nil {
				return err
			}
			st.Weights[k] = w.GetWeight()
			return nil
		}),
		decode(kindMaintenance, func(k string, v []byte) error {
			if k == keyDown {
				var cs maintenance.ClusterStatus
				if err := proto.Unmarshal(v, &cs); err != nil {
					return err
				}
				st.Down = cs.DownMachines
				return nil
			}
			var m registrypb.Maintenance
			if err := proto.Unmarshal(v, &m); err != nil {
				return err
			}
			st.Maintenance = m.Schedules
			return nil
		}),
		decode(kindDeactivated, func(k string, v []byte) error {
			st.Deactivated[k] = true
			return nil
		}),
		decode(kindDrain, func(k string, v []byte) error {
			d := &mesos.DrainInfo{}
			st.Draining[k] = d
			return proto.Unmarshal(v, d)
		}),
	)
	if err != nil {
		return nil, err
	}
	return st, nil
}
