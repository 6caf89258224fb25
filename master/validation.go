package master

import (
	"errors"
	"fmt"
	"math"
	"sort"
	"strings"
	"unicode"

	"google.golang.org/protobuf/proto"

	"github.com/mezzo-project/mezzo/api/v1/mesos"
	schedpb "github.com/mezzo-project/mezzo/api/v1/scheduler"
	"github.com/mezzo-project/mezzo/internal/limits"
	"github.com/mezzo-project/mezzo/resources"
)

// This file holds Mesos' validation rules (src/master/validation.cpp) for
// scheduler calls, FrameworkInfo, offers and tasks. Messages follow Mesos'
// where clients or people may match on them.

// validateSchedulerCall checks a decoded call the way Mesos does before
// looking at any state; its error is answered 400 "Failed to validate
// scheduler::Call: <error>".
func validateSchedulerCall(call *schedpb.Call) error {
	if call.Type == nil {
		return errors.New("Expecting 'type' to be present")
	}
	if err := limits.Check("call", call); err != nil {
		return err
	}
	if call.GetType() == schedpb.Call_SUBSCRIBE {
		if call.Subscribe == nil {
			return errors.New("Expecting 'subscribe' to be present")
		}
		if call.GetSubscribe().GetFrameworkInfo().GetId().GetValue() != call.GetFrameworkId().GetValue() {
			return errors.New("'framework_id' differs from 'subscribe.framework_info.id'")
		}
		return nil
	}
	if call.FrameworkId == nil {
		return errors.New("Expecting 'framework_id' to be present")
	}
	missing := func(present bool, name string) error {
		if !present {
			return fmt.Errorf("Expecting '%s' to be present", name)
		}
		return nil
	}
	switch call.GetType() {
	case schedpb.Call_ACCEPT:
		return missing(call.Accept != nil, "accept")
	case schedpb.Call_DECLINE:
		return missing(call.Decline != nil, "decline")
	case schedpb.Call_ACCEPT_INVERSE_OFFERS:
		return missing(call.AcceptInverseOffers != nil, "accept_inverse_offers")
	case schedpb.Call_DECLINE_INVERSE_OFFERS:
		return missing(call.DeclineInverseOffers != nil, "decline_inverse_offers")
	case schedpb.Call_KILL:
		return missing(call.Kill != nil, "kill")
	case schedpb.Call_SHUTDOWN:
		return missing(call.Shutdown != nil, "shutdown")
	case schedpb.Call_ACKNOWLEDGE:
		if err := missing(call.Acknowledge != nil, "acknowledge"); err != nil {
			return err
		}
		return validateUUID(call.GetAcknowledge().GetUuid())
	case schedpb.Call_ACKNOWLEDGE_OPERATION_STATUS:
		if err := missing(call.AcknowledgeOperationStatus != nil, "acknowledge_operation_status"); err != nil {
			return err
		}
		if err := validateUUID(call.GetAcknowledgeOperationStatus().GetUuid()); err != nil {
			return err
		}
		return missing(call.GetAcknowledgeOperationStatus().GetAgentId() != nil, "agent_id")
	case schedpb.Call_RECONCILE:
		return missing(call.Reconcile != nil, "reconcile")
	case schedpb.Call_RECONCILE_OPERATIONS:
		return missing(call.ReconcileOperations != nil, "reconcile_operations")
	case schedpb.Call_MESSAGE:
		return missing(call.Message != nil, "message")
	case schedpb.Call_REQUEST:
		return missing(call.Request != nil, "request")
	case schedpb.Call_UPDATE_FRAMEWORK:
		if err := missing(call.UpdateFramework != nil, "update_framework"); err != nil {
			return err
		}
		if call.GetFrameworkId().GetValue() != call.GetUpdateFramework().GetFrameworkInfo().GetId().GetValue() {
			return errors.New("'framework_id' differs from 'update_framework.framework_info.id'")
		}
	}
	return nil
}

func validateUUID(b []byte) error {
	if len(b) != 16 {
		return fmt.Errorf("Invalid UUID: expected 16 bytes, got %d", len(b))
	}
	return nil
}

// validateID checks a task, executor, framework or agent id: not empty,
// at most 255 bytes, not "." or "..", no control characters or slashes.
func validateID(id string) error {
	if id == "" {
		return errors.New("ID must not be empty")
	}
	if len(id) > 255 {
		return errors.New("ID must not be greater than 255 characters")
	}
	if id == "." || id == ".." {
		return fmt.Errorf("'%s' is disallowed", id)
	}
	for _, r := range id {
		if unicode.IsControl(r) || r == '/' || r == '\\' {
			return fmt.Errorf("'%s' contains invalid characters", id)
		}
	}
	return nil
}

// validateRole checks a role name as Mesos does: "*", or '/'-separated
// components that are not empty, ".", "..", "*", do not start with '-' and
// hold no whitespace or backspace.
func validateRole(role string) error {
	if role == "*" {
		return nil
	}
	if strings.HasPrefix(role, "/") {
		return fmt.Errorf("Role '%s' cannot start with a slash", role)
	}
	if strings.HasSuffix(role, "/") {
		return fmt.Errorf("Role '%s' cannot end with a slash", role)
	}
	if strings.Contains(role, "//") {
		return fmt.Errorf("Role '%s' cannot contain two adjacent slashes", role)
	}
	if role == "" {
		return errors.New("Role names cannot be the empty string")
	}
	for _, c := range strings.Split(role, "/") {
		switch {
		case c == ".":
			return fmt.Errorf("Role '%s' cannot include '.' as a component", role)
		case c == "..":
			return fmt.Errorf("Role '%s' cannot include '..' as a component", role)
		case c == "*":
			return fmt.Errorf("Role '%s' cannot include '*' as a component", role)
		case strings.HasPrefix(c, "-"):
			return fmt.Errorf("Role component '%s' is invalid because it starts with a dash", c)
		case strings.ContainsAny(c, "\x08\x0b\x0c\n\r\t "):
			return fmt.Errorf("Role component '%s' is invalid because it contains backspace or whitespace", c)
		}
	}
	return nil
}

// validateFrameworkInfo applies Mesos' FrameworkInfo rules: roles (role
// xor roles by MULTI_ROLE, no duplicates, valid names), id, failover
// timeout.
func validateFrameworkInfo(info *mesos.FrameworkInfo) error {
	if hasCapability(info, mesos.FrameworkInfo_Capability_MULTI_ROLE) {
		if info.Role != nil {
			return errors.New("'FrameworkInfo.role' must not be set when the framework is MULTI_ROLE capable")
		}
		seen := map[string]bool{}
		var dups []string
		for _, r := range info.GetRoles() {
			if seen[r] {
				dups = append(dups, r)
			}
			seen[r] = true
		}
		if len(dups) > 0 {
			return fmt.Errorf("'FrameworkInfo.roles' contains duplicate items: %s", braced(dups))
		}
		for _, r := range info.GetRoles() {
			if err := validateRole(r); err != nil {
				return fmt.Errorf("'FrameworkInfo.roles' contains invalid role: %v", err)
			}
		}
	} else {
		if len(info.GetRoles()) > 0 {
			return errors.New("'FrameworkInfo.roles' must not be set when the framework is not MULTI_ROLE capable")
		}
		if err := validateRole(info.GetRole()); err != nil {
			return fmt.Errorf("'FrameworkInfo.role' is not a valid role: %v", err)
		}
	}
	if id := info.GetId().GetValue(); id != "" {
		if err := validateID(id); err != nil {
			return err
		}
	}
	if t := info.GetFailoverTimeout(); math.IsNaN(t) || math.IsInf(t, 0) || math.Abs(t) > float64(math.MaxInt64)/1e9 {
		return fmt.Errorf("The framework failover_timeout (%v) is invalid", t)
	}
	return nil
}

// validateSubsetRoles checks that roles named in a call are roles of the
// framework.
func validateSubsetRoles(roles, named []string, what string) error {
	valid := map[string]bool{}
	for _, r := range roles {
		valid[r] = true
	}
	var bad []string
	for _, r := range named {
		if !valid[r] {
			bad = append(bad, r)
		}
	}
	if len(bad) > 0 {
		return fmt.Errorf("%s %s are not contained in the set of roles", what, braced(bad))
	}
	return nil
}

func validateOfferConstraintRoles(roles []string, oc *schedpb.OfferConstraints) error {
	valid := map[string]bool{}
	for _, r := range roles {
		valid[r] = true
	}
	for _, r := range sortedKeys(oc.GetRoleConstraints()) {
		if !valid[r] {
			return fmt.Errorf("Offer constraints specify `role_constraints` for a role '%s'not contained in the set of roles", r)
		}
	}
	return nil
}

// braced writes a set as Mesos does: "{ a, b }".
func braced(xs []string) string {
	xs = append([]string(nil), xs...)
	sort.Strings(xs)
	return "{ " + strings.Join(xs, ", ") + " }"
}

// validateOffers checks the offers of an ACCEPT: no duplicates, all
// outstanding, all the framework's, all of one role and one agent.
func (c *core) validateOffers(f *framework, ids []*mesos.OfferID) error {
	seen := map[string]bool{}
	for _, id := range ids {
		if seen[id.GetValue()] {
			return fmt.Errorf("Duplicate offer %s in offer list", id.GetValue())
		}
		seen[id.GetValue()] = true
	}
	for _, id := range ids {
		if c.offers[id.GetValue()] == nil {
			return fmt.Errorf("Offer %s is no longer valid", id.GetValue())
		}
	}
	for _, id := range ids {
		if o := c.offers[id.GetValue()]; o.frameworkID != f.id {
			return fmt.Errorf("Offer %s has invalid framework %s while framework %s is expected", id.GetValue(), o.frameworkID, f.id)
		}
	}
	first := c.offers[ids[0].GetValue()]
	for _, id := range ids[1:] {
		if o := c.offers[id.GetValue()]; o.role != first.role {
			return fmt.Errorf("Aggregated offers must be allocated to the same role. Offer %s uses role '%s' but another is using role '%s'", id.GetValue(), o.role, first.role)
		}
	}
	for _, id := range ids[1:] {
		if o := c.offers[id.GetValue()]; o.agentID != first.agentID {
			return fmt.Errorf("Aggregated offers must belong to one single agent. Offer %s uses agent %s and agent %s", id.GetValue(), o.agentID, first.agentID)
		}
	}
	if a := c.agents[first.agentID]; a == nil || !a.connected() {
		return fmt.Errorf("Offer %s is no longer valid: agent %s is not connected", first.pb.GetId().GetValue(), first.agentID)
	}
	return nil
}

// taskResources is what a valid task (or task group) takes from an offer.
type taskResources struct {
	tasks       []resources.Resources // per task, in order
	executor    resources.Resources   // the executor's, when newExecutor
	newExecutor bool
	total       resources.Resources
}

// validateTask applies Mesos' task rules to a task of a LAUNCH on agent a
// with the offer's remaining resources available.
func (c *core) validateTask(f *framework, a *agent, t *mesos.TaskInfo, available resources.Resources) (taskResources, error) {
	var used taskResources
	taskRes, err := c.validateTaskCommon(f, a, t)
	if err != nil {
		return used, err
	}
	if (t.Executor != nil) == (t.Command != nil) {
		return used, errors.New("Task should have at least one (but not both) of CommandInfo or ExecutorInfo present")
	}
	used.tasks = []resources.Resources{taskRes}
	used.total = taskRes
	if e := t.GetExecutor(); e != nil {
		if err := c.validateExecutor(f, a, e); err != nil {
			return used, err
		}
		if e.Type != nil && e.GetType() != mesos.ExecutorInfo_CUSTOM {
			return used, errors.New("'ExecutorInfo.type' must be 'CUSTOM'")
		}
		if e.Command == nil {
			return used, errors.New("'ExecutorInfo.command' must be set")
		}
		execRes, err := parseResources(e.GetResources())
		if err != nil {
			return used, fmt.Errorf("Executor uses invalid resources: %v", err)
		}
		if a.executors[f.id][e.GetExecutorId().GetValue()] == nil {
			used.newExecutor = true
			used.executor = execRes
			used.total = used.total.Add(execRes)
		}
	}
	if !available.Contains(used.total) {
		return used, fmt.Errorf("Total resources %v required by task and its executor is more than available %v", used.total, available)
	}
	return used, nil
}

// validateTaskCommon holds the checks shared by LAUNCH and LAUNCH_GROUP
// tasks; it returns the task's resources.
func (c *core) validateTaskCommon(f *framework, a *agent, t *mesos.TaskInfo) (resources.Resources, error) {
	id := t.GetTaskId().GetValue()
	if err := validateID(id); err != nil {
		return resources.Resources{}, err
	}
	if f.tasks[id] != nil {
		return resources.Resources{}, fmt.Errorf("Task has duplicate ID: %s", id)
	}
	if f.unreachableTasks[id] != nil {
		return resources.Resources{}, fmt.Errorf("Task reuses the ID of an unreachable task: %s", id)
	}
	if t.GetAgentId().GetValue() != a.id {
		return resources.Resources{}, fmt.Errorf("Task uses invalid agent %s while agent %s is expected", t.GetAgentId().GetValue(), a.id)
	}
	if t.GetKillPolicy().GetGracePeriod().GetNanoseconds() < 0 {
		return resources.Resources{}, errors.New("Task's 'kill_policy.grace_period' must be non-negative")
	}
	if t.GetMaxCompletionTime().GetNanoseconds() < 0 {
		return resources.Resources{}, errors.New("Task's `max_completion_time` must be non-negative")
	}
	if err := validateEnvironment(t.GetCommand().GetEnvironment()); err != nil {
		return resources.Resources{}, fmt.Errorf("Task's `CommandInfo` is invalid: %w", err)
	}
	if t.Check != nil {
		if err := validateCheckInfo(t.GetCheck()); err != nil {
			return resources.Resources{}, fmt.Errorf("Task uses invalid check: %w", err)
		}
	}
	if t.HealthCheck != nil {
		if err := validateHealthCheck(t.GetHealthCheck()); err != nil {
			return resources.Resources{}, fmt.Errorf("Task uses invalid health check: %w", err)
		}
	}
	if len(t.GetResources()) == 0 {
		return resources.Resources{}, errors.New("Task uses no resources")
	}
	r, err := parseResources(t.GetResources())
	if err != nil {
		return resources.Resources{}, fmt.Errorf("Task uses invalid resources: %v", err)
	}
	if r.IsEmpty() {
		return resources.Resources{}, errors.New("Task uses no resources")
	}
	for name := range t.GetLimits() {
		if name != "cpus" && name != "mem" {
			return resources.Resources{}, errors.New("Only cpus and mem may be included in a task's resource limits")
		}
	}
	return r, nil
}

// validateExecutor applies the ExecutorInfo rules shared by LAUNCH and
// LAUNCH_GROUP.
func (c *core) validateExecutor(f *framework, a *agent, e *mesos.ExecutorInfo) error {
	if e.GetType() == mesos.ExecutorInfo_DEFAULT && e.Command != nil {
		return errors.New("'ExecutorInfo.command' must not be set for 'DEFAULT' executor")
	}
	if err := validateID(e.GetExecutorId().GetValue()); err != nil {
		return err
	}
	if e.GetShutdownGracePeriod().GetNanoseconds() < 0 {
		return errors.New("ExecutorInfo's 'shutdown_grace_period' must be non-negative")
	}
	if err := validateEnvironment(e.GetCommand().GetEnvironment()); err != nil {
		return fmt.Errorf("Executor's `CommandInfo` is invalid: %w", err)
	}
	if e.FrameworkId == nil {
		return errors.New("'ExecutorInfo.framework_id' must be set")
	}
	if e.GetFrameworkId().GetValue() != f.id {
		return fmt.Errorf("ExecutorInfo has an invalid FrameworkID (Actual: %s vs Expected: %s)", e.GetFrameworkId().GetValue(), f.id)
	}
	if _, err := parseResources(e.GetResources()); err != nil {
		return fmt.Errorf("Executor uses invalid resources: %v", err)
	}
	if old := a.executors[f.id][e.GetExecutorId().GetValue()]; old != nil && !proto.Equal(old.info, e) {
		return fmt.Errorf("ExecutorInfo is not compatible with existing ExecutorInfo with same ExecutorID '%s' on agent %s", e.GetExecutorId().GetValue(), a.id)
	}
	return nil
}

// validateTaskGroup applies Mesos' task group rules, plus Mezzo's: the
// executor must be a DEFAULT executor (the only kind Mezzo's agent runs
// task groups under).
func (c *core) validateTaskGroup(f *framework, a *agent, g *mesos.TaskGroupInfo, e *mesos.ExecutorInfo, available resources.Resources) (taskResources, error) {
	var used taskResources
	if len(g.GetTasks()) == 0 {
		return used, errors.New("Task group is empty")
	}
	seen := map[string]bool{}
	for _, t := range g.GetTasks() {
		r, err := c.validateTaskCommon(f, a, t)
		if err == nil && seen[t.GetTaskId().GetValue()] {
			err = fmt.Errorf("Task has duplicate ID: %s", t.GetTaskId().GetValue())
		}
		if err == nil && len(t.GetContainer().GetNetworkInfos()) > 0 &&
			(t.GetHealthCheck().GetType() == mesos.HealthCheck_HTTP || t.GetHealthCheck().GetType() == mesos.HealthCheck_TCP) {
			err = errors.New("HTTP and TCP health checks are not supported for nested containers not joining parent's network")
		}
		if err == nil && t.GetContainer() != nil && t.GetContainer().GetType() == mesos.ContainerInfo_DOCKER {
			err = errors.New("Docker ContainerInfo is not supported on the task")
		}
		if err != nil {
			return used, fmt.Errorf("Task '%s' is invalid: %v", t.GetTaskId().GetValue(), err)
		}
		seen[t.GetTaskId().GetValue()] = true
		used.tasks = append(used.tasks, r)
		used.total = used.total.Add(r)
	}
	if err := c.validateExecutor(f, a, e); err != nil {
		return used, err
	}
	if e.Type == nil {
		return used, errors.New("'ExecutorInfo.type' must be set")
	}
	if e.GetType() != mesos.ExecutorInfo_DEFAULT {
		return used, errors.New("'ExecutorInfo.type' must be 'DEFAULT' for a task group")
	}
	if e.GetContainer() != nil && e.GetContainer().GetType() == mesos.ContainerInfo_DOCKER {
		return used, errors.New("Docker ContainerInfo is not supported on the executor")
	}
	for _, t := range g.GetTasks() {
		if !proto.Equal(t.GetExecutor(), e) {
			return used, fmt.Errorf("The `ExecutorInfo` of task '%s' is different from executor '%s'", t.GetTaskId().GetValue(), e.GetExecutorId().GetValue())
		}
	}
	execRes, _ := parseResources(e.GetResources())
	q := quantities(execRes)
	execID := e.GetExecutorId().GetValue()
	if q["cpus"] < 0.01 {
		return used, fmt.Errorf("Executor '%s' uses less CPUs (%s) than the minimum required (0.01)", execID, quantityString(q, "cpus"))
	}
	if q["mem"] < 32 {
		return used, fmt.Errorf("Executor '%s' uses less memory (%s) than the minimum required (32MB)", execID, quantityString(q, "mem"))
	}
	if _, ok := q["disk"]; !ok {
		return used, fmt.Errorf("Executor '%s' uses no disk", execID)
	}
	if a.executors[f.id][execID] == nil {
		used.newExecutor = true
		used.executor = execRes
		used.total = used.total.Add(execRes)
	}
	if !available.Contains(used.total) {
		return used, fmt.Errorf("Total resources %v required by task group and its executor are more than available %v", used.total, available)
	}
	return used, nil
}

func quantityString(q map[string]float64, name string) string {
	v, ok := q[name]
	if !ok {
		return "None"
	}
	return fmt.Sprint(v)
}

// validateHealthCheck applies Mesos' HealthCheck rules
// (common::validation::validateHealthCheck): a known type with its
// field set (COMMAND: a command with a value and a valid environment;
// HTTP: scheme "http" or "https" when set, a path starting with '/' when
// set; TCP: the tcp field), and no negative delay, grace period, interval
// or timeout. Like Mesos, it does not look at ports beyond their presence
// (required by the proto).
func validateHealthCheck(hc *mesos.HealthCheck) error {
	if hc.Type == nil {
		return errors.New("HealthCheck must specify 'type'")
	}
	switch hc.GetType() {
	case mesos.HealthCheck_COMMAND:
		if hc.Command == nil {
			return errors.New("Expecting 'command' to be set for COMMAND health check")
		}
		if err := validateCheckCommand(hc.GetCommand(), "Command health check", "Health check's `CommandInfo` is invalid"); err != nil {
			return err
		}
	case mesos.HealthCheck_HTTP:
		if hc.Http == nil {
			return errors.New("Expecting 'http' to be set for HTTP health check")
		}
		h := hc.GetHttp()
		if h.Scheme != nil && h.GetScheme() != "http" && h.GetScheme() != "https" {
			return fmt.Errorf("Unsupported HTTP health check scheme: '%s'", h.GetScheme())
		}
		if h.Path != nil && !strings.HasPrefix(h.GetPath(), "/") {
			return fmt.Errorf("The path '%s' of HTTP health check must start with '/'", h.GetPath())
		}
	case mesos.HealthCheck_TCP:
		if hc.Tcp == nil {
			return errors.New("Expecting 'tcp' to be set for TCP health check")
		}
	default:
		return fmt.Errorf("'%s' is not a valid health check type", hc.GetType())
	}
	for _, d := range []struct {
		name string
		set  bool
		v    float64
	}{
		{"delay_seconds", hc.DelaySeconds != nil, hc.GetDelaySeconds()},
		{"grace_period_seconds", hc.GracePeriodSeconds != nil, hc.GetGracePeriodSeconds()},
		{"interval_seconds", hc.IntervalSeconds != nil, hc.GetIntervalSeconds()},
		{"timeout_seconds", hc.TimeoutSeconds != nil, hc.GetTimeoutSeconds()},
	} {
		if d.set && d.v < 0 {
			return fmt.Errorf("Expecting '%s' to be non-negative", d.name)
		}
	}
	return nil
}

// validateCheckInfo applies Mesos' CheckInfo rules
// (common::validation::validateCheckInfo): a known type with its field
// set (COMMAND: a command with a value and a valid environment; HTTP: a
// path starting with '/' when set; TCP: the tcp field), and no negative
// delay, interval or timeout.
func validateCheckInfo(ci *mesos.CheckInfo) error {
	if ci.Type == nil {
		return errors.New("CheckInfo must specify 'type'")
	}
	switch ci.GetType() {
	case mesos.CheckInfo_COMMAND:
		if ci.Command == nil {
			return errors.New("Expecting 'command' to be set for COMMAND check")
		}
		if err := validateCheckCommand(ci.GetCommand().GetCommand(), "Command check", "Check's `CommandInfo` is invalid"); err != nil {
			return err
		}
	case mesos.CheckInfo_HTTP:
		if ci.Http == nil {
			return errors.New("Expecting 'http' to be set for HTTP check")
		}
		if p := ci.GetHttp().Path; p != nil && !strings.HasPrefix(*p, "/") {
			return fmt.Errorf("The path '%s' of HTTP check must start with '/'", *p)
		}
	case mesos.CheckInfo_TCP:
		if ci.Tcp == nil {
			return errors.New("Expecting 'tcp' to be set for TCP check")
		}
	default:
		return fmt.Errorf("'%s' is not a valid check type", ci.GetType())
	}
	for _, d := range []struct {
		name string
		set  bool
		v    float64
	}{
		{"delay_seconds", ci.DelaySeconds != nil, ci.GetDelaySeconds()},
		{"interval_seconds", ci.IntervalSeconds != nil, ci.GetIntervalSeconds()},
		{"timeout_seconds", ci.TimeoutSeconds != nil, ci.GetTimeoutSeconds()},
	} {
		if d.set && d.v < 0 {
			return fmt.Errorf("Expecting '%s' to be non-negative", d.name)
		}
	}
	return nil
}

// validateCheckCommand checks that the command of a check (what: "Command
// check" or "Command health check") has a value, the shell command or
// the executable path, and a valid environment (failures worded with
// invalid, Mesos' prefix for them).
func validateCheckCommand(cmd *mesos.CommandInfo, what, invalid string) error {
	if cmd.Value == nil {
		kind := "'executable path'"
		if cmd.GetShell() {
			kind = "'shell command'"
		}
		return fmt.Errorf("%s must contain %s", what, kind)
	}
	if err := validateEnvironment(cmd.GetEnvironment()); err != nil {
		return fmt.Errorf("%s: %w", invalid, err)
	}
	return nil
}

// validateEnvironment applies Mesos' Environment rules: a VALUE variable
// has a value and no secret, a SECRET one a secret and no value, and the
// type is not UNKNOWN. Beyond Mesos, a name is not empty and holds no
// '=' or NUL, and a value no NUL: "A=B" named "PATH=/evil:" would set
// another variable than the one named.
func validateEnvironment(env *mesos.Environment) error {
	for _, v := range env.GetVariables() {
		if name := v.GetName(); name == "" || strings.ContainsAny(name, "=\x00") {
			return fmt.Errorf("Environment variable name %q is invalid: it must be non-empty and hold no '=' or NUL", name)
		}
		if strings.ContainsRune(v.GetValue(), 0) {
			return fmt.Errorf("Environment variable '%s' has a value holding NUL", v.GetName())
		}
		switch v.GetType() {
		case mesos.Environment_Variable_SECRET:
			if v.Secret == nil {
				return fmt.Errorf("Environment variable '%s' of type 'SECRET' must have a secret set", v.GetName())
			}
			if v.Value != nil {
				return fmt.Errorf("Environment variable '%s' of type 'SECRET' must not have a value set", v.GetName())
			}
		case mesos.Environment_Variable_VALUE:
			if v.Value == nil {
				return fmt.Errorf("Environment variable '%s' of type 'VALUE' must have a value set", v.GetName())
			}
			if v.Secret != nil {
				return fmt.Errorf("Environment variable '%s' of type 'VALUE' must not have a secret set", v.GetName())
			}
		default:
			return errors.New("Environment variable of type 'UNKNOWN' is not allowed")
		}
	}
	return nil
}
