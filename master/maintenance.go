package master

import (
	"errors"
	"fmt"
	"net"
	"slices"
	"sort"
	"strings"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/mezzo-project/mezzo/api/v1/allocator"
	"github.com/mezzo-project/mezzo/api/v1/codec"
	"github.com/mezzo-project/mezzo/api/v1/maintenance"
	"github.com/mezzo-project/mezzo/api/v1/mesos"
	schedpb "github.com/mezzo-project/mezzo/api/v1/scheduler"
	"github.com/mezzo-project/mezzo/internal/agentproto"
	alloc "github.com/mezzo-project/mezzo/master/allocator"
	"github.com/mezzo-project/mezzo/master/registry"
)

// Maintenance, as in Mesos (docs/maintenance.md there):
//
//   - Machines (hostname and/or IP) are scheduled in windows with an
//     unavailability (start, optional duration). A scheduled machine is
//     DRAINING: offers of its agents carry the unavailability, and every
//     framework running something there gets an inverse offer, which it
//     accepts or declines (a hint for the operator, nothing more).
//   - START_MAINTENANCE takes DRAINING machines DOWN: their agents are
//     removed (tasks TASK_GONE_BY_OPERATOR, or TASK_LOST) and refused while
//     the machine is DOWN. STOP_MAINTENANCE brings them UP and out of the
//     schedule.
//   - Per agent, independent of machines: DEACTIVATE_AGENT stops its offers,
//     DRAIN_AGENT deactivates it and kills its tasks (kill grace period at
//     most max_grace_period), then marks it DRAINED (or gone, with
//     mark_gone); REACTIVATE_AGENT lifts both once drained.
//
// The schedule, the DOWN machines and the agents' holds are written to the
// registry before the master acts on them, and recovered after a restart.
// Inverse offers and their answers are not: as in Mesos, frameworks are
// asked again after a failover.
//
// Machine matching departs slightly from Mesos, which needs both fields to
// equal the agent's: a machine given by hostname only matches every agent
// with that hostname (case-insensitive), one given by IP only every agent
// with that IP.

// machineKey identifies a scheduled machine: lower-case hostname and IP,
// either may be empty.
type machineKey struct{ host, ip string }

func keyOf(id *mesos.MachineID) machineKey {
	return machineKey{host: strings.ToLower(id.GetHostname()), ip: id.GetIp()}
}

func (k machineKey) String() string {
	b, _ := codec.MarshalJSON(k.id())
	return string(b)
}

func (k machineKey) id() *mesos.MachineID {
	id := &mesos.MachineID{}
	if k.host != "" {
		id.Hostname = proto.String(k.host)
	}
	if k.ip != "" {
		id.Ip = proto.String(k.ip)
	}
	return id
}

// machine is a machine in the maintenance schedule.
type machine struct {
	key     machineKey
	mode    mesos.MachineInfo_Mode // DRAINING or DOWN
	unavail *mesos.Unavailability
}

// agentDrain is an agent's draining state.
type agentDrain struct {
	info *mesos.DrainInfo
	// killDeadline is when tasks still running get a kill without grace
	// period (zero: not armed).
	killDeadline time.Time
}

// inverseOffer is an outstanding inverse offer.
type inverseOffer struct {
	pb                   *mesos.InverseOffer
	frameworkID, agentID string
	expires              time.Time
}

// maintenanceState is the core's maintenance bookkeeping.
type maintenanceState struct {
	// schedule is the current schedule (never nil; no windows: none).
	schedule *maintenance.Schedule
	machines map[machineKey]*machine
	// deactivated and draining are agents' holds by agent id.
	deactivated map[string]bool
	draining    map[string]*agentDrain
	// inverse holds outstanding inverse offers by id.
	inverse map[string]*inverseOffer
	// statuses holds frameworks' answers by agent, then framework;
	// ioFilters when a framework may be asked again about an agent.
	statuses  map[string]map[string]*allocator.InverseOfferStatus
	ioFilters map[string]map[string]time.Time
	// drainingAgents holds the ids of agents on DRAINING machines, so
	// inverse offers need not scan every agent (may hold removed ids).
	drainingAgents map[string]bool
}

func newMaintenanceState() maintenanceState {
	return maintenanceState{
		schedule:    &maintenance.Schedule{},
		machines:    map[machineKey]*machine{},
		deactivated: map[string]bool{},
		draining:    map[string]*agentDrain{},
		inverse:     map[string]*inverseOffer{},
		statuses:    map[string]map[string]*allocator.InverseOfferStatus{},
		ioFilters:   map[string]map[string]time.Time{},

		drainingAgents: map[string]bool{},
	}
}

// refreshDrainingAgents recomputes which agents are on DRAINING machines
// (after the schedule or a machine's mode changed).
func (c *core) refreshDrainingAgents() {
	c.maint.drainingAgents = map[string]bool{}
	if len(c.maint.machines) == 0 {
		return
	}
	for id, a := range c.agents {
		if c.unavailabilityOf(a) != nil {
			c.maint.drainingAgents[id] = true
		}
	}
}

// machineFor returns the scheduled machine an agent at host/ip is on, or
// nil: an exact match first, then by hostname only, then by IP only.
func (c *core) machineFor(host, ip string) *machine {
	if len(c.maint.machines) == 0 {
		return nil
	}
	host = strings.ToLower(host)
	for _, k := range []machineKey{{host, ip}, {host, ""}, {"", ip}} {
		if k == (machineKey{}) {
			continue
		}
		if m := c.maint.machines[k]; m != nil {
			return m
		}
	}
	return nil
}

func (c *core) machineOf(a *agent) *machine { return c.machineFor(a.info.GetHostname(), a.ip) }

// unavailabilityOf is the unavailability offers of a carry (nil: none).
func (c *core) unavailabilityOf(a *agent) *mesos.Unavailability {
	if m := c.machineOf(a); m != nil && m.mode == mesos.MachineInfo_DRAINING {
		return m.unavail
	}
	return nil
}

// ---- validation ----

func validateMachineID(id *mesos.MachineID) error {
	if id.GetHostname() == "" && id.GetIp() == "" {
		return fmt.Errorf("Both 'hostname' and 'ip' for a machine are empty")
	}
	if ip := id.GetIp(); ip != "" {
		if p := net.ParseIP(ip); p == nil || p.To4() == nil {
			return fmt.Errorf("Failed to parse IP address '%s'", ip)
		}
	}
	return nil
}

func validateMachines(ids []*mesos.MachineID) error {
	if len(ids) == 0 {
		return fmt.Errorf("List of machines is empty")
	}
	seen := map[machineKey]bool{}
	for _, id := range ids {
		if err := validateMachineID(id); err != nil {
			return err
		}
		k := keyOf(id)
		if seen[k] {
			return fmt.Errorf("Machine '%s' appears more than once in the schedule", k)
		}
		seen[k] = true
	}
	return nil
}

// validateSchedule checks a schedule as Mesos does: every window has
// machines and an unavailability with a start and a non-negative
// duration, every machine is valid and appears once, and no DOWN machine
// is left out.
func (c *core) validateSchedule(s *maintenance.Schedule) error {
	seen := map[machineKey]bool{}
	for _, w := range s.GetWindows() {
		if len(w.GetMachineIds()) == 0 {
			return fmt.Errorf("List of machines in the maintenance window is empty")
		}
		u := w.GetUnavailability()
		if u == nil || u.GetStart() == nil || u.GetStart().Nanoseconds == nil {
			return fmt.Errorf("Unavailability 'start' is missing")
		}
		if d := u.GetDuration(); d != nil && d.GetNanoseconds() < 0 {
			return fmt.Errorf("Unavailability 'duration' is negative")
		}
		for _, id := range w.GetMachineIds() {
			if err := validateMachineID(id); err != nil {
				return err
			}
			k := keyOf(id)
			if seen[k] {
				return fmt.Errorf("Machine '%s' appears more than once in the schedule", k)
			}
			seen[k] = true
		}
	}
	for k, m := range c.maint.machines {
		if m.mode == mesos.MachineInfo_DOWN && !seen[k] {
			return fmt.Errorf("Machine '%s' is deactivated and cannot be removed from the schedule", k)
		}
	}
	return nil
}

// downMachines lists the DOWN machines, sorted, for the registry.
func (c *core) downMachines(except map[machineKey]bool, plus []machineKey) []*mesos.MachineID {
	var keys []machineKey
	for k, m := range c.maint.machines {
		if m.mode == mesos.MachineInfo_DOWN && !except[k] {
			keys = append(keys, k)
		}
	}
	keys = append(keys, plus...)
	sort.Slice(keys, func(i, j int) bool {
		if keys[i].host != keys[j].host {
			return keys[i].host < keys[j].host
		}
		return keys[i].ip < keys[j].ip
	})
	out := make([]*mesos.MachineID, len(keys))
	for i, k := range keys {
		out[i] = k.id()
	}
	return out
}

func schedulesOf(s *maintenance.Schedule) []*maintenance.Schedule {
	if len(s.GetWindows()) == 0 {
		return nil
	}
	return []*maintenance.Schedule{s}
}

// ---- operator calls ----

// updateMaintenanceSchedule replaces the schedule (UPDATE_MAINTENANCE_SCHEDULE,
// POST /maintenance/schedule). New machines start DRAINING; machines left
// out go back UP; DOWN machines stay DOWN.
func (c *core) updateMaintenanceSchedule(s *maintenance.Schedule) error {
	if p, busy := c.whenFree([]string{maintenanceKey}, func() error { return c.updateMaintenanceSchedule(s) }); busy {
		return p
	}
	if s == nil {
		s = &maintenance.Schedule{}
	}
	if err := c.validateSchedule(s); err != nil {
		return invalidf("%v", err)
	}
	s = proto.Clone(s).(*maintenance.Schedule)
	op := registry.SetMaintenance{Schedules: schedulesOf(s), Down: c.downMachines(nil, nil)}
	return c.writeMaintenance([]string{maintenanceKey}, []registry.Op{op}, "maintenance schedule", func() {
		c.applySchedule(s)
		c.log.Info("maintenance schedule updated", "windows", len(s.GetWindows()), "machines", len(c.maint.machines))
	})
}

// writeMaintenance records ops, which concern keys, then runs apply; 503
// naming what when the write fails.
func (c *core) writeMaintenance(keys []string, ops []registry.Op, what string, apply func()) error {
	return c.writeThen(keys, ops, func(err error) error {
		if err != nil {
			return unavailablef("Could not record the %s in the registry; retry later", what)
		}
		apply()
		return nil
	})
}

// applySchedule installs schedule s (already durable) and tells the
// agents whose unavailability changed.
func (c *core) applySchedule(s *maintenance.Schedule) {
	old := c.maint.machines
	next := map[machineKey]*machine{}
	for _, w := range s.GetWindows() {
		for _, id := range w.GetMachineIds() {
			k := keyOf(id)
			m := &machine{key: k, mode: mesos.MachineInfo_DRAINING, unavail: w.GetUnavailability()}
			if o := old[k]; o != nil && o.mode == mesos.MachineInfo_DOWN {
				m.mode = mesos.MachineInfo_DOWN
			}
			next[k] = m
		}
	}
	// The unavailability each agent had, to tell those whose changed.
	before := map[string]*mesos.Unavailability{}
	for id, a := range c.agents {
		before[id] = c.unavailabilityOf(a)
	}
	c.maint.schedule = s
	c.maint.machines = next
	c.refreshDrainingAgents()
	for _, a := range c.sortedAgents() {
		if u := c.unavailabilityOf(a); !proto.Equal(u, before[a.id]) {
			c.unavailabilityChanged(a)
		}
	}
}

// unavailabilityChanged voids what was said about an agent's
// availability: its offers and inverse offers are rescinded and the
// frameworks' answers forgotten; new ones follow at the next allocation.
func (c *core) unavailabilityChanged(a *agent) {
	c.log.Info("agent's unavailability changed", "agent_id", a.id)
	for _, o := range sortOffers(a.offers) {
		c.rescindOffer(o)
	}
	c.rescindInverseOffers(a.id)
	delete(c.maint.statuses, a.id)
	delete(c.maint.ioFilters, a.id)
	c.allocateSoon = true
}

// rescindInverseOffers rescinds every outstanding inverse offer for an
// agent.
func (c *core) rescindInverseOffers(agentID string) {
	for _, id := range sortedKeys(c.maint.inverse) {
		io := c.maint.inverse[id]
		if io.agentID != agentID {
			continue
		}
		delete(c.maint.inverse, id)
		c.scheduleInverseOffer(id)
		if f := c.frameworks[io.frameworkID]; f != nil {
			f.send(&schedpb.Event{Type: schedpb.Event_RESCIND_INVERSE_OFFER.Enum(),
				RescindInverseOffer: &schedpb.Event_RescindInverseOffer{InverseOfferId: io.pb.GetId()}})
		}
	}
}

// startMaintenance takes DRAINING machines DOWN (START_MAINTENANCE,
// POST /machine/down): their agents are removed and told to shut down.
func (c *core) startMaintenance(ids []*mesos.MachineID) error {
	if p, busy := c.whenFree([]string{maintenanceKey}, func() error { return c.startMaintenance(ids) }); busy {
		return p
	}
	if err := validateMachines(ids); err != nil {
		return invalidf("%v", err)
	}
	var keys []machineKey
	down := map[machineKey]bool{}
	for _, id := range ids {
		k := keyOf(id)
		m := c.maint.machines[k]
		if m == nil {
			return invalidf("Machine '%s' is not part of a maintenance schedule", k)
		}
		if m.mode != mesos.MachineInfo_DRAINING {
			return invalidf("Machine '%s' is not in DRAINING mode and cannot be brought down", k)
		}
		keys = append(keys, k)
		down[k] = true
	}
	// The agents on those machines leave the registry with the change.
	var victims []*agent
	for _, a := range c.sortedAgents() {
		if m := c.machineOf(a); m != nil && down[m.key] {
			victims = append(victims, a)
		}
	}
	ops := []registry.Op{registry.SetMaintenance{Schedules: schedulesOf(c.maint.schedule), Down: c.downMachines(nil, keys)}}
	writeKeys := []string{maintenanceKey}
	for _, a := range victims {
		ops = append(ops, registry.RemoveAgent{ID: a.id})
		writeKeys = append(writeKeys, agentKey(a.id))
	}
	// Agents on those machines whose admission is being recorded are
	// waited for: once admitted they go down with their machine, so none
	// stays admitted on a DOWN machine.
	waitKeys := slices.Clone(writeKeys)
	for _, id := range sortedKeys(c.admitting) {
		ad := c.admitting[id]
		if m := c.machineFor(ad.host, ad.ip); m != nil && down[m.key] {
			waitKeys = append(waitKeys, agentKey(id))
		}
	}
	if p, busy := c.whenFree(waitKeys, func() error { return c.startMaintenance(ids) }); busy {
		return p
	}
	return c.writeMaintenance(writeKeys, ops, "maintenance", func() {
		for _, k := range keys {
			if m := c.maint.machines[k]; m != nil {
				m.mode = mesos.MachineInfo_DOWN
				c.log.Info("machine DOWN for maintenance", "machine", k.String())
			}
		}
		for _, a := range victims {
			if c.agents[a.id] != a {
				continue
			}
			c.metrics.inc(ctrSlaveRemovals) // Mesos gives this removal no reason
			c.removeAgent(a, "Machine is DOWN for maintenance", "Operator initiated 'Machine DOWN'")
		}
		c.refreshDrainingAgents()
	})
}

// stopMaintenance brings DOWN machines back UP and out of the schedule
// (STOP_MAINTENANCE, POST /machine/up).
func (c *core) stopMaintenance(ids []*mesos.MachineID) error {
	if p, busy := c.whenFree([]string{maintenanceKey}, func() error { return c.stopMaintenance(ids) }); busy {
		return p
	}
	if err := validateMachines(ids); err != nil {
		return invalidf("%v", err)
	}
	up := map[machineKey]bool{}
	for _, id := range ids {
		k := keyOf(id)
		m := c.maint.machines[k]
		if m == nil {
			return invalidf("Machine '%s' is not part of a maintenance schedule", k)
		}
		if m.mode != mesos.MachineInfo_DOWN {
			return invalidf("Machine '%s' is not in DOWN mode and cannot be brought up", k)
		}
		up[k] = true
	}
	s := &maintenance.Schedule{}
	for _, w := range c.maint.schedule.GetWindows() {
		nw := &maintenance.Window{Unavailability: w.GetUnavailability()}
		for _, id := range w.GetMachineIds() {
			if !up[keyOf(id)] {
				nw.MachineIds = append(nw.MachineIds, id)
			}
		}
		if len(nw.MachineIds) > 0 {
			s.Windows = append(s.Windows, nw)
		}
	}
	op := registry.SetMaintenance{Schedules: schedulesOf(s), Down: c.downMachines(up, nil)}
	return c.writeMaintenance([]string{maintenanceKey}, []registry.Op{op}, "maintenance", func() {
		c.maint.schedule = s
		for k := range up {
			delete(c.maint.machines, k)
			c.log.Info("machine UP after maintenance", "machine", k.String())
		}
		c.refreshDrainingAgents()
	})
}

// maintenanceStatus answers GET_MAINTENANCE_STATUS: DRAINING machines with
// the frameworks' answers to the inverse offers for their agents, and DOWN
// machines.
func (c *core) maintenanceStatus() *maintenance.ClusterStatus {
	st := &maintenance.ClusterStatus{}
	keys := make([]machineKey, 0, len(c.maint.machines))
	for k := range c.maint.machines {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if keys[i].host != keys[j].host {
			return keys[i].host < keys[j].host
		}
		return keys[i].ip < keys[j].ip
	})
	byMachine := map[machineKey][]*allocator.InverseOfferStatus{}
	for _, agentID := range sortedKeys(c.maint.statuses) {
		a := c.agents[agentID]
		if a == nil {
			continue
		}
		m := c.machineOf(a)
		if m == nil {
			continue
		}
		for _, fwID := range sortedKeys(c.maint.statuses[agentID]) {
			byMachine[m.key] = append(byMachine[m.key], proto.Clone(c.maint.statuses[agentID][fwID]).(*allocator.InverseOfferStatus))
		}
	}
	for _, k := range keys {
		if c.maint.machines[k].mode == mesos.MachineInfo_DOWN {
			st.DownMachines = append(st.DownMachines, k.id())
			continue
		}
		st.DrainingMachines = append(st.DrainingMachines, &maintenance.ClusterStatus_DrainingMachine{Id: k.id(), Statuses: byMachine[k]})
	}
	return st
}

// ---- inverse offers ----

// sendInverseOffers asks every framework that runs something on an agent
// of a DRAINING machine, and has no inverse offer outstanding or filtered
// there, to release the agent for its unavailability. Run after each
// allocation.
func (c *core) sendInverseOffers() {
	if len(c.maint.drainingAgents) == 0 {
		return
	}
	now := c.clock.Now()
	outstanding := map[[2]string]bool{}
	for _, io := range c.maint.inverse {
		outstanding[[2]string{io.agentID, io.frameworkID}] = true
	}
	byFramework := map[string][]*mesos.InverseOffer{}
	var order []string
	for _, id := range sortedKeys(c.maint.drainingAgents) {
		a := c.agents[id]
		if a == nil {
			delete(c.maint.drainingAgents, id)
			continue
		}
		u := c.unavailabilityOf(a)
		if u == nil || !a.connected() {
			continue
		}
		users := map[string]bool{}
		for fwID := range a.tasks {
			users[fwID] = true
		}
		for fwID := range a.executors {
			users[fwID] = true
		}
		for _, fwID := range sortedKeys(users) {
			f := c.frameworks[fwID]
			if f == nil || f.stream == nil || outstanding[[2]string{a.id, fwID}] {
				continue
			}
			if until, ok := c.maint.ioFilters[a.id][fwID]; ok && now.Before(until) {
				continue
			}
			io := &inverseOffer{frameworkID: fwID, agentID: a.id}
			if c.cfg.OfferTimeout > 0 {
				io.expires = now.Add(c.cfg.OfferTimeout)
			}
			io.pb = &mesos.InverseOffer{
				Id:             &mesos.OfferID{Value: proto.String(c.newOfferID())},
				FrameworkId:    frameworkID(fwID),
				AgentId:        agentID(a.id),
				Unavailability: proto.Clone(u).(*mesos.Unavailability),
				Url: &mesos.URL{
					Scheme:  proto.String("http"),
					Address: &mesos.Address{Hostname: proto.String(a.info.GetHostname()), Ip: proto.String(a.ip), Port: proto.Int32(int32(a.port))},
					Path:    proto.String("/slave(1)"),
				},
			}
			c.maint.inverse[io.pb.GetId().GetValue()] = io
			c.scheduleInverseOffer(io.pb.GetId().GetValue())
			if c.maint.statuses[a.id] == nil {
				c.maint.statuses[a.id] = map[string]*allocator.InverseOfferStatus{}
			}
			if c.maint.statuses[a.id][fwID] == nil {
				c.maint.statuses[a.id][fwID] = &allocator.InverseOfferStatus{
					Status: allocator.InverseOfferStatus_UNKNOWN.Enum(), FrameworkId: frameworkID(fwID),
					Timestamp: timeInfoOf(now),
				}
			}
			if _, ok := byFramework[fwID]; !ok {
				order = append(order, fwID)
			}
			byFramework[fwID] = append(byFramework[fwID], io.pb)
		}
	}
	for _, id := range order {
		c.frameworks[id].send(&schedpb.Event{Type: schedpb.Event_INVERSE_OFFERS.Enum(),
			InverseOffers: &schedpb.Event_InverseOffers{InverseOffers: byFramework[id]}})
	}
}

func timeInfoOf(t time.Time) *mesos.TimeInfo {
	return &mesos.TimeInfo{Nanoseconds: proto.Int64(t.UnixNano())}
}

// answerInverseOffers records a framework's ACCEPT_INVERSE_OFFERS or
// DECLINE_INVERSE_OFFERS: the answer shows in the maintenance status, and
// the framework is not asked again about that agent for the filter's
// refuse_seconds (default 5 s). Unknown ids are ignored, as in Mesos.
func (c *core) answerInverseOffers(f *framework, ids []*mesos.OfferID, filters *mesos.Filters, answer allocator.InverseOfferStatus_Status) {
	now := c.clock.Now()
	refuse := alloc.RefuseDuration(refuseSeconds(filters))
	for _, id := range ids {
		io := c.maint.inverse[id.GetValue()]
		if io == nil || io.frameworkID != f.id {
			c.log.Warn("ignoring answer to an inverse offer that is no longer valid", "framework_id", f.id, "inverse_offer_id", id.GetValue())
			continue
		}
		delete(c.maint.inverse, id.GetValue())
		c.scheduleInverseOffer(id.GetValue())
		if c.maint.statuses[io.agentID] == nil {
			c.maint.statuses[io.agentID] = map[string]*allocator.InverseOfferStatus{}
		}
		c.maint.statuses[io.agentID][f.id] = &allocator.InverseOfferStatus{
			Status: answer.Enum(), FrameworkId: frameworkID(f.id), Timestamp: timeInfoOf(now),
		}
		if c.maint.ioFilters[io.agentID] == nil {
			c.maint.ioFilters[io.agentID] = map[string]time.Time{}
		}
		c.maint.ioFilters[io.agentID][f.id] = now.Add(refuse)
		c.log.Info("inverse offer answered", "framework_id", f.id, "agent_id", io.agentID, "answer", answer.String())
	}
}

// dropInverseOffers forgets a framework's inverse offers (it disconnected
// or was removed).
func (c *core) dropInverseOffers(frameworkID string) {
	for id, io := range c.maint.inverse {
		if io.frameworkID == frameworkID {
			delete(c.maint.inverse, id)
			c.scheduleInverseOffer(id)
		}
	}
}

// expireInverseOffers rescinds the inverse offers among ids (their timers
// came due, ids sorted) left unanswered for --offer_timeout; they are
// asked again at the next allocation.
func (c *core) expireInverseOffers(now time.Time, ids []string) {
	for _, id := range ids {
		io := c.maint.inverse[id]
		if io == nil {
			continue
		}
		if io.expires.IsZero() || now.Before(io.expires) {
			c.scheduleInverseOffer(id)
			continue
		}
		delete(c.maint.inverse, id)
		if f := c.frameworks[io.frameworkID]; f != nil {
			f.send(&schedpb.Event{Type: schedpb.Event_RESCIND_INVERSE_OFFER.Enum(),
				RescindInverseOffer: &schedpb.Event_RescindInverseOffer{InverseOfferId: io.pb.GetId()}})
		}
	}
}

// ---- agents: deactivation and draining ----

// agentKnown reports whether id is a registered, recovered or unreachable
// agent.
func (c *core) agentKnown(id string) bool {
	_, unreachable := c.unreachable[id]
	return c.agents[id] != nil || c.recovered[id] != nil || unreachable
}

// deactivateAgent stops offering an agent's resources (DEACTIVATE_AGENT).
func (c *core) deactivateAgent(id string) error {
	if p, busy := c.whenFree([]string{agentKey(id)}, func() error { return c.deactivateAgent(id) }); busy {
		return p
	}
	if !c.agentKnown(id) {
		return invalidf("Unknown agent")
	}
	if c.maint.deactivated[id] {
		return nil
	}
	op := registry.SetAgentMaintenance{ID: id, Deactivated: true, Drain: c.drainInfo(id)}
	return c.writeMaintenance([]string{agentKey(id)}, []registry.Op{op}, "agent's deactivation", func() {
		c.maint.deactivated[id] = true
		c.log.Info("agent deactivated by the operator", "agent_id", id)
		if a := c.agents[id]; a != nil {
			c.deactivate(a)
		}
	})
}

// deactivate withdraws a registered agent from the allocator and rescinds
// its offers.
func (c *core) deactivate(a *agent) {
	c.alloc.SetAgentActive(a.id, false)
	for _, o := range sortOffers(a.offers) {
		c.rescindOffer(o)
	}
}

func (c *core) drainInfo(id string) *mesos.DrainInfo {
	if d := c.maint.draining[id]; d != nil {
		return d.info
	}
	return nil
}

// reactivateAgent offers a deactivated (or drained) agent again
// (REACTIVATE_AGENT). 400 when it is not deactivated or still draining.
func (c *core) reactivateAgent(id string) error {
	if p, busy := c.whenFree([]string{agentKey(id)}, func() error { return c.reactivateAgent(id) }); busy {
		return p
	}
	if !c.maint.deactivated[id] {
		return invalidf("Agent is not deactivated")
	}
	if d := c.maint.draining[id]; d != nil && d.info.GetState() == mesos.DrainState_DRAINING {
		return invalidf("Agent is still in the DRAINING state")
	}
	op := registry.SetAgentMaintenance{ID: id}
	return c.writeMaintenance([]string{agentKey(id)}, []registry.Op{op}, "agent's reactivation", func() {
		delete(c.maint.deactivated, id)
		delete(c.maint.draining, id)
		c.log.Info("agent reactivated by the operator", "agent_id", id)
		if a := c.agents[id]; a != nil && a.connected() {
			c.alloc.SetAgentActive(id, true)
			c.allocateSoon = true
		}
	})
}

// drainAgent starts draining an agent (DRAIN_AGENT): it is deactivated,
// its tasks are killed with a kill grace period of at most maxGrace (nil:
// the tasks' own), and once none runs it is DRAINED, or marked gone with
// markGone. An unreachable or recovered agent is drained when it comes
// back.
func (c *core) drainAgent(id string, maxGrace *time.Duration, markGone bool) error {
	again := func() error { return c.drainAgent(id, maxGrace, markGone) }
	if p, busy := c.whenFree([]string{agentKey(id)}, again); busy {
		return p
	}
	if !c.agentKnown(id) {
		return invalidf("Unknown agent")
	}
	cfg := &mesos.DrainConfig{MarkGone: proto.Bool(markGone)}
	if maxGrace != nil {
		cfg.MaxGracePeriod = &mesos.DurationInfo{Nanoseconds: proto.Int64(int64(*maxGrace))}
	}
	info := &mesos.DrainInfo{State: mesos.DrainState_DRAINING.Enum(), Config: cfg}
	op := registry.SetAgentMaintenance{ID: id, Deactivated: true, Drain: info}
	return c.writeMaintenance([]string{agentKey(id)}, []registry.Op{op}, "agent's draining", func() {
		c.maint.deactivated[id] = true
		c.maint.draining[id] = &agentDrain{info: info}
		c.log.Info("draining agent", "agent_id", id, "max_grace_period", maxGrace, "mark_gone", markGone)
		if a := c.agents[id]; a != nil {
			c.deactivate(a)
			if a.connected() {
				c.killForDrain(a)
			}
		}
	})
}

// killForDrain kills a draining agent's live tasks, each with its kill
// policy's grace period capped at the drain's max_grace_period, and arms
// the deadline after which those still running are killed without grace.
func (c *core) killForDrain(a *agent) {
	d := c.maint.draining[a.id]
	if d == nil || d.info.GetState() != mesos.DrainState_DRAINING {
		return
	}
	var max *time.Duration
	if mg := d.info.GetConfig().GetMaxGracePeriod(); mg != nil {
		v := time.Duration(mg.GetNanoseconds())
		if v < 0 {
			v = 0
		}
		max = &v
		if v > 0 {
			now := c.clock.Now()
			d.killDeadline = now.Add(v)
			c.scheduleDrain(a.id, now)
		}
	}
	for _, fwID := range sortedKeys(a.tasks) {
		for _, t := range sortedTasks(a.tasks[fwID]) {
			if mesos.IsTerminalState(t.pb.GetState()) {
				continue
			}
			policy := t.pb.GetKillPolicy()
			if max != nil {
				grace := *max
				if g := policy.GetGracePeriod(); g != nil && time.Duration(g.GetNanoseconds()) < grace {
					grace = time.Duration(g.GetNanoseconds())
				}
				policy = &mesos.KillPolicy{GracePeriod: &mesos.DurationInfo{Nanoseconds: proto.Int64(int64(grace))}}
			}
			c.sendKill(a, fwID, t, policy)
		}
	}
}

func (c *core) sendKill(a *agent, fwID string, t *task, policy *mesos.KillPolicy) {
	a.send(&agentproto.AgentEvent{
		Type: agentproto.AgentEvent_KILL_TASK.Enum(),
		KillTask: &agentproto.AgentEvent_KillTask{
			FrameworkId: frameworkID(fwID),
			TaskId:      t.pb.GetTaskId(),
			KillPolicy:  policy,
		},
	})
}

// checkDraining runs the draining agents' timers and transitions: tasks
// still running after the max grace period are killed without grace; an
// agent without live tasks becomes DRAINED (or gone, with mark_gone).
// Called at the end of every event; the draining set is small. A kill
// deadline wakes the loop through the agent's timer (timerDrain).
func (c *core) checkDraining() {
	if len(c.maint.draining) == 0 {
		return
	}
	now := c.clock.Now()
	for _, id := range sortedKeys(c.maint.draining) {
		d := c.maint.draining[id]
		a := c.agents[id]
		if a == nil || !a.connected() || d.info.GetState() != mesos.DrainState_DRAINING || c.keyBusy(agentKey(id)) {
			continue
		}
		live := 0
		for _, fwID := range sortedKeys(a.tasks) {
			for _, t := range sortedTasks(a.tasks[fwID]) {
				if mesos.IsTerminalState(t.pb.GetState()) {
					continue
				}
				live++
				if !d.killDeadline.IsZero() && !now.Before(d.killDeadline) {
					c.sendKill(a, fwID, t, &mesos.KillPolicy{GracePeriod: &mesos.DurationInfo{Nanoseconds: proto.Int64(0)}})
				}
			}
		}
		if !d.killDeadline.IsZero() && !now.Before(d.killDeadline) {
			d.killDeadline = time.Time{}
		}
		if live > 0 {
			continue
		}
		if d.info.GetConfig().GetMarkGone() {
			c.log.Info("drained agent; marking it gone", "agent_id", id)
			var pending *pendingReply
			if err := c.markAgentGone(id); err != nil && !errors.As(err, &pending) {
				c.log.Error("could not mark drained agent gone", "agent_id", id, "err", err)
			}
			continue
		}
		drained := proto.Clone(d.info).(*mesos.DrainInfo)
		drained.State = mesos.DrainState_DRAINED.Enum()
		op := registry.SetAgentMaintenance{ID: id, Deactivated: true, Drain: drained}
		c.write([]string{agentKey(id)}, []registry.Op{op}, func(err error) {
			if err != nil || c.maint.draining[id] != d {
				return // tried again after the next event
			}
			d.info = drained
			c.log.Info("agent drained", "agent_id", id)
		})
	}
}

// agentRegistered applies the operator's holds to an agent that
// (re-)registered: a deactivated agent gets no offers, a draining one has
// its tasks killed again.
func (c *core) agentRegistered(a *agent) {
	if c.unavailabilityOf(a) != nil {
		c.maint.drainingAgents[a.id] = true
	}
	if c.maint.deactivated[a.id] {
		c.alloc.SetAgentActive(a.id, false)
	}
	c.killForDrain(a)
}

// drainingReason marks a task killed on a draining agent with
// REASON_AGENT_DRAINING, as Mesos' agent does.
func (c *core) drainingReason(a *agent, st *mesos.TaskStatus) {
	if d := c.maint.draining[a.id]; d != nil && st.GetState() == mesos.TaskState_TASK_KILLED {
		st.Reason = mesos.TaskStatus_REASON_AGENT_DRAINING.Enum()
	}
}

// recoverMaintenance restores the maintenance state from the registry.
func (c *core) recoverMaintenance(st *registry.State) {
	s := &maintenance.Schedule{}
	for _, sc := range st.Maintenance {
		s.Windows = append(s.Windows, sc.GetWindows()...)
	}
	c.maint.schedule = s
	c.maint.machines = map[machineKey]*machine{}
	for _, w := range s.GetWindows() {
		for _, id := range w.GetMachineIds() {
			k := keyOf(id)
			c.maint.machines[k] = &machine{key: k, mode: mesos.MachineInfo_DRAINING, unavail: w.GetUnavailability()}
		}
	}
	for _, id := range st.Down {
		if m := c.maint.machines[keyOf(id)]; m != nil {
			m.mode = mesos.MachineInfo_DOWN
		}
	}
	for id := range st.Deactivated {
		c.maint.deactivated[id] = true
	}
	for id, d := range st.Draining {
		c.maint.draining[id] = &agentDrain{info: d}
		c.maint.deactivated[id] = true
	}
}

// machineDown is the refusal for an agent on a DOWN machine ("" if not).
func (c *core) machineDown(host, ip string) string {
	if m := c.machineFor(host, ip); m != nil && m.mode == mesos.MachineInfo_DOWN {
		return "Machine is DOWN for maintenance"
	}
	return ""
}
