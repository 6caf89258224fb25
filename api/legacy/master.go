package legacy

// BuildInfo is the build description that opens the master's and the
// agent's /state documents.
type BuildInfo struct {
	// Version is the Mesos version served ("1.11.1").
	Version string `json:"version"`
	// GitSHA is the commit the binary was built from, when known.
	GitSHA string `json:"git_sha,omitempty"`
	// GitBranch is the branch the binary was built from, when known.
	GitBranch string `json:"git_branch,omitempty"`
	// GitTag is the tag the binary was built from, when known.
	GitTag string `json:"git_tag,omitempty"`
	// BuildDate is the build time as "2006-01-02 15:04:05".
	BuildDate string `json:"build_date"`
	// BuildTime is the build time in seconds since the epoch.
	BuildTime Float `json:"build_time"`
	// BuildUser is the user who built the binary ("" when unknown).
	BuildUser string `json:"build_user"`
}

// Version is the /version document of a master or an agent. Mesos writes
// its keys sorted, so the order differs from BuildInfo's.
type Version struct {
	// BuildDate is the build time as "2006-01-02 15:04:05".
	BuildDate string `json:"build_date"`
	// BuildTime is the build time in seconds since the epoch.
	BuildTime Float `json:"build_time"`
	// BuildUser is the user who built the binary ("" when unknown).
	BuildUser string `json:"build_user"`
	// GitBranch is the branch the binary was built from, when known.
	GitBranch string `json:"git_branch,omitempty"`
	// GitSHA is the commit the binary was built from, when known.
	GitSHA string `json:"git_sha,omitempty"`
	// GitTag is the tag the binary was built from, when known.
	GitTag string `json:"git_tag,omitempty"`
	// Version is the Mesos version served ("1.11.1").
	Version string `json:"version"`
}

// FlagsDocument is the /master/flags and agent /flags document.
type FlagsDocument struct {
	// Flags are the process' effective flags.
	Flags Flags `json:"flags"`
}

// MasterState is the master's /master/state document: the master itself,
// its agents, and its frameworks with their tasks, offers and executors.
// mesos-dns reads leader, slaves and frameworks from it.
type MasterState struct {
	BuildInfo
	// StartTime is when the master started, in seconds since the epoch.
	StartTime Float `json:"start_time"`
	// ElectedTime is when the master was elected leader, in seconds since
	// the epoch; omitted while it is not the leader.
	ElectedTime Float `json:"elected_time,omitempty"`
	// ID is the master's ID.
	ID string `json:"id"`
	// PID is the master's libprocess PID ("master@127.0.0.1:5050").
	PID string `json:"pid"`
	// Hostname is the master's hostname.
	Hostname string `json:"hostname"`
	// Capabilities are the master's capabilities by name ("AGENT_UPDATE").
	Capabilities List[string] `json:"capabilities"`
	// ActivatedSlaves is the number of active agents.
	ActivatedSlaves Float `json:"activated_slaves"`
	// DeactivatedSlaves is the number of deactivated agents.
	DeactivatedSlaves Float `json:"deactivated_slaves"`
	// UnreachableSlaves is the number of unreachable agents.
	UnreachableSlaves Float `json:"unreachable_slaves"`
	// Domain is the master's fault domain, when configured.
	Domain *DomainInfo `json:"domain,omitempty"`
	// Leader is the leading master's PID ("master@127.0.0.1:5050"), when a
	// leader is known. mesos-dns requires it.
	Leader string `json:"leader,omitempty"`
	// LeaderInfo describes the leading master, when one is known.
	LeaderInfo *MasterInfo `json:"leader_info,omitempty"`
	// Cluster is the --cluster flag, when set and the caller may view flags.
	Cluster string `json:"cluster,omitempty"`
	// LogDir is the --log_dir flag, when set and the caller may view flags.
	LogDir string `json:"log_dir,omitempty"`
	// ExternalLogFile is the --external_log_file flag, when set and the
	// caller may view flags.
	ExternalLogFile string `json:"external_log_file,omitempty"`
	// Flags are the master's flags; omitted when the caller may not view
	// flags.
	Flags Flags `json:"flags,omitempty"`
	// Slaves are the registered agents.
	Slaves List[Slave] `json:"slaves"`
	// RecoveredSlaves are agents known from the registry after a master
	// failover that have not reregistered yet.
	RecoveredSlaves List[SlaveInfo] `json:"recovered_slaves"`
	// Frameworks are the registered frameworks the caller may view.
	Frameworks List[Framework] `json:"frameworks"`
	// CompletedFrameworks are recently torn down frameworks.
	CompletedFrameworks List[Framework] `json:"completed_frameworks"`
	// OrphanTasks is always empty; Mesos keeps the key for old tools.
	OrphanTasks List[Task] `json:"orphan_tasks"`
	// UnregisteredFrameworks is always empty (framework IDs, in old
	// versions); Mesos keeps the key for old tools.
	UnregisteredFrameworks List[string] `json:"unregistered_frameworks"`
}

// MasterInfo describes a master, as in /master/state's "leader_info".
type MasterInfo struct {
	// ID is the master's ID.
	ID string `json:"id"`
	// PID is the master's libprocess PID ("master@127.0.0.1:5050").
	PID string `json:"pid"`
	// Port is the master's port.
	Port int32 `json:"port"`
	// Hostname is the master's hostname.
	Hostname string `json:"hostname"`
	// Domain is the master's fault domain, when configured.
	Domain *DomainInfo `json:"domain,omitempty"`
}

// DomainInfo is a master's or an agent's fault domain.
type DomainInfo struct {
	// FaultDomain is the region and zone, when set.
	FaultDomain *FaultDomain `json:"fault_domain,omitempty"`
}

// FaultDomain is a region and a zone within it.
type FaultDomain struct {
	// Region is the region.
	Region RegionInfo `json:"region"`
	// Zone is the zone.
	Zone ZoneInfo `json:"zone"`
}

// RegionInfo names a fault domain's region.
type RegionInfo struct {
	// Name is the region's name.
	Name string `json:"name"`
}

// ZoneInfo names a fault domain's zone.
type ZoneInfo struct {
	// Name is the zone's name.
	Name string `json:"name"`
}

// SlaveInfo is an agent as it registered: the keys every agent object
// starts with, and the whole object in "recovered_slaves".
type SlaveInfo struct {
	// ID is the agent's ID.
	ID string `json:"id"`
	// Hostname is the agent's hostname.
	Hostname string `json:"hostname"`
	// Port is the agent's port.
	Port int32 `json:"port"`
	// Attributes are the agent's attributes.
	Attributes Attributes `json:"attributes"`
	// Domain is the agent's fault domain, when configured.
	Domain *DomainInfo `json:"domain,omitempty"`
}

// Slave is a registered agent as /master/state writes it; the other agent
// objects (SlaveWithFullResources, StateSummarySlave) extend it.
type Slave struct {
	SlaveInfo
	// PID is the agent's libprocess PID ("slave(1)@127.0.0.1:5051"); mesos-dns
	// requires it and parses it as name@host:port.
	PID string `json:"pid"`
	// RegisteredTime is when the agent registered, in seconds since the
	// epoch.
	RegisteredTime Float `json:"registered_time"`
	// ReregisteredTime is when the agent last reregistered, in seconds since
	// the epoch; omitted if it never has.
	ReregisteredTime Float `json:"reregistered_time,omitempty"`
	// Resources summarizes the agent's total resources.
	Resources Resources `json:"resources"`
	// UsedResources summarizes the resources used by tasks and executors.
	UsedResources Resources `json:"used_resources"`
	// OfferedResources summarizes the resources in outstanding offers.
	OfferedResources Resources `json:"offered_resources"`
	// ReservedResources summarizes the agent's reservations by role.
	ReservedResources RoleResources `json:"reserved_resources"`
	// UnreservedResources summarizes the agent's unreserved resources.
	UnreservedResources Resources `json:"unreserved_resources"`
	// Active says whether the agent is connected to the master (false while
	// it is disconnected, before it is marked unreachable).
	Active bool `json:"active"`
	// Deactivated says whether an operator deactivated (or is draining) the
	// agent.
	Deactivated bool `json:"deactivated"`
	// Version is the agent's Mesos version.
	Version string `json:"version"`
	// Capabilities are the agent's capabilities by name ("MULTI_ROLE").
	Capabilities List[string] `json:"capabilities"`
	// DrainInfo is the agent's draining state, while it is draining.
	DrainInfo *DrainInfo `json:"drain_info,omitempty"`
	// EstimatedDrainStartTimeSeconds is when draining is expected to start,
	// in seconds since the epoch; written only with DrainInfo, when known.
	EstimatedDrainStartTimeSeconds Float `json:"estimated_drain_start_time_seconds,omitempty"`
}

// DrainInfo is an agent's draining state.
type DrainInfo struct {
	// State is "DRAINING" or "DRAINED".
	State string `json:"state"`
	// Config is how the agent is drained.
	Config DrainConfig `json:"config"`
}

// DrainConfig says how an agent is drained.
type DrainConfig struct {
	// MaxGracePeriod bounds the kill grace period of the agent's tasks.
	MaxGracePeriod *DurationInfo `json:"max_grace_period,omitempty"`
	// MarkGone says whether the agent is marked gone once drained.
	MarkGone bool `json:"mark_gone"`
}

// DurationInfo is a duration in nanoseconds.
type DurationInfo struct {
	// Nanoseconds is the duration.
	Nanoseconds int64 `json:"nanoseconds"`
}

// SlaveWithFullResources is an agent as /master/slaves writes it: the
// /master/state agent plus its resources in full.
type SlaveWithFullResources struct {
	Slave
	// ReservedResourcesFull are the agent's reservations in full, by role.
	ReservedResourcesFull RoleFullResources `json:"reserved_resources_full"`
	// UnreservedResourcesFull are the agent's unreserved resources in full.
	UnreservedResourcesFull FullResources `json:"unreserved_resources_full"`
	// UsedResourcesFull are the resources used on the agent, in full.
	UsedResourcesFull FullResources `json:"used_resources_full"`
	// OfferedResourcesFull are the resources offered from the agent, in
	// full.
	OfferedResourcesFull FullResources `json:"offered_resources_full"`
}

// Slaves is the /master/slaves document.
type Slaves struct {
	// Slaves are the registered agents.
	Slaves List[SlaveWithFullResources] `json:"slaves"`
	// RecoveredSlaves are agents known from the registry that have not
	// reregistered yet.
	RecoveredSlaves List[SlaveInfo] `json:"recovered_slaves"`
}

// FrameworkSummary is the part of a framework both /master/state-summary and
// the full framework objects write (Mesos' Summary<Framework>).
type FrameworkSummary struct {
	// ID is the framework's ID.
	ID string `json:"id"`
	// Name is the framework's name.
	Name string `json:"name"`
	// PID is the scheduler driver's libprocess PID, only for frameworks
	// connected through the v0 driver (omitted for HTTP frameworks).
	PID string `json:"pid,omitempty"`
	// UsedResources summarizes the resources the framework's tasks and
	// executors use.
	UsedResources Resources `json:"used_resources"`
	// OfferedResources summarizes the resources offered to the framework.
	OfferedResources Resources `json:"offered_resources"`
	// Capabilities are the framework's capabilities by name
	// ("PARTITION_AWARE").
	Capabilities List[string] `json:"capabilities"`
	// Hostname is the framework's hostname ("" when unset).
	Hostname string `json:"hostname"`
	// WebUIURL is the framework's web UI address ("" when unset).
	WebUIURL string `json:"webui_url"`
	// Active says whether the framework is active (connected and not
	// deactivated).
	Active bool `json:"active"`
	// Connected says whether the scheduler is connected.
	Connected bool `json:"connected"`
	// Recovered says whether the framework is known only from agents after a
	// master failover and has not resubscribed.
	Recovered bool `json:"recovered"`
}

// Framework is a framework as /master/state and /master/frameworks write it.
type Framework struct {
	FrameworkSummary
	// User is the user the framework's tasks run as by default.
	User string `json:"user"`
	// FailoverTimeout is how long the master waits for a disconnected
	// scheduler, in seconds.
	FailoverTimeout Float `json:"failover_timeout"`
	// Checkpoint says whether agents checkpoint the framework's state.
	Checkpoint bool `json:"checkpoint"`
	// RegisteredTime is when the framework registered, in seconds since the
	// epoch.
	RegisteredTime Float `json:"registered_time"`
	// UnregisteredTime is when the framework was torn down, in seconds since
	// the epoch; 0 while it is registered.
	UnregisteredTime Float `json:"unregistered_time"`
	// Principal is the framework's principal, when set.
	Principal string `json:"principal,omitempty"`
	// Resources summarizes used plus offered resources.
	Resources Resources `json:"resources"`
	// ReregisteredTime is when the framework last resubscribed, in seconds
	// since the epoch; omitted if it never has.
	ReregisteredTime Float `json:"reregistered_time,omitempty"`
	// Roles are the framework's roles, for a MULTI_ROLE framework (which
	// has no Role). Present, possibly empty, when set.
	Roles []string `json:"roles,omitzero"`
	// Role is the framework's role, for a framework without MULTI_ROLE.
	Role string `json:"role,omitempty"`
	// Tasks are the framework's current tasks the caller may view.
	Tasks List[Task] `json:"tasks"`
	// UnreachableTasks are tasks on unreachable agents.
	UnreachableTasks List[Task] `json:"unreachable_tasks"`
	// CompletedTasks are recently terminated tasks.
	CompletedTasks List[Task] `json:"completed_tasks"`
	// Offers are the framework's outstanding offers.
	Offers List[Offer] `json:"offers"`
	// Executors are the framework's running executors. (Mesos writes an
	// executor the caller may not view as {}.)
	Executors List[Executor] `json:"executors"`
	// Labels are the framework's labels; present, possibly empty, when set.
	Labels []Label `json:"labels,omitzero"`
	// OfferConstraints is the framework's OfferConstraints message ({} when
	// it has none).
	OfferConstraints ProtoJSON `json:"offer_constraints"`
}

// Offer is an outstanding offer, in a framework's "offers".
type Offer struct {
	// ID is the offer's ID.
	ID string `json:"id"`
	// FrameworkID is the ID of the framework the offer was made to.
	FrameworkID string `json:"framework_id"`
	// AllocationInfo names the role the offer is for.
	AllocationInfo AllocationInfo `json:"allocation_info"`
	// SlaveID is the ID of the agent the resources are on.
	SlaveID string `json:"slave_id"`
	// Resources summarizes the offered resources.
	Resources Resources `json:"resources"`
}

// Executor is a running executor as the master writes it, in a framework's
// "executors".
type Executor struct {
	// ExecutorID is the executor's ID.
	ExecutorID string `json:"executor_id"`
	// Name is the executor's name ("" when unset).
	Name string `json:"name"`
	// FrameworkID is the ID of the executor's framework.
	FrameworkID string `json:"framework_id"`
	// Command is the executor's command.
	Command CommandInfo `json:"command"`
	// Resources summarizes the executor's own resources.
	Resources Resources `json:"resources"`
	// Role is the role the executor's resources are allocated to; omitted
	// when it has no resources (command executors).
	Role string `json:"role,omitempty"`
	// Labels are the executor's labels; present, possibly empty, when set.
	Labels []Label `json:"labels,omitzero"`
	// Type is "DEFAULT" or "CUSTOM", when set.
	Type string `json:"type,omitempty"`
	// SlaveID is the ID of the agent the executor runs on.
	SlaveID string `json:"slave_id"`
}

// Frameworks is the /master/frameworks document.
type Frameworks struct {
	// Frameworks are the registered frameworks the caller may view.
	Frameworks List[Framework] `json:"frameworks"`
	// CompletedFrameworks are recently torn down frameworks.
	CompletedFrameworks List[Framework] `json:"completed_frameworks"`
	// UnregisteredFrameworks is always empty; Mesos keeps the key for old
	// tools.
	UnregisteredFrameworks List[string] `json:"unregistered_frameworks"`
}

// Tasks is the /master/tasks document: the tasks of registered and completed
// frameworks, by default the 100 newest by first status timestamp.
type Tasks struct {
	// Tasks are the tasks on the requested page.
	Tasks List[Task] `json:"tasks"`
}

// StateSummary is the /master/state-summary document: agents and frameworks
// with task counts, without tasks (what the web UI polls).
type StateSummary struct {
	// Hostname is the master's hostname.
	Hostname string `json:"hostname"`
	// Cluster is the --cluster flag, when set.
	Cluster string `json:"cluster,omitempty"`
	// Slaves are the registered agents.
	Slaves List[StateSummarySlave] `json:"slaves"`
	// Frameworks are the registered frameworks the caller may view.
	Frameworks List[StateSummaryFramework] `json:"frameworks"`
}

// TaskStateCounts counts a framework's or an agent's tasks by state, over
// the current, unreachable and completed tasks of registered frameworks.
// Mesos writes these ten states only (no TASK_DROPPED, TASK_GONE, ...).
type TaskStateCounts struct {
	// Staging counts TASK_STAGING tasks.
	Staging int64 `json:"TASK_STAGING"`
	// Starting counts TASK_STARTING tasks.
	Starting int64 `json:"TASK_STARTING"`
	// Running counts TASK_RUNNING tasks.
	Running int64 `json:"TASK_RUNNING"`
	// Killing counts TASK_KILLING tasks.
	Killing int64 `json:"TASK_KILLING"`
	// Finished counts TASK_FINISHED tasks.
	Finished int64 `json:"TASK_FINISHED"`
	// Killed counts TASK_KILLED tasks.
	Killed int64 `json:"TASK_KILLED"`
	// Failed counts TASK_FAILED tasks.
	Failed int64 `json:"TASK_FAILED"`
	// Lost counts TASK_LOST tasks.
	Lost int64 `json:"TASK_LOST"`
	// Error counts TASK_ERROR tasks.
	Error int64 `json:"TASK_ERROR"`
	// Unreachable counts TASK_UNREACHABLE tasks.
	Unreachable int64 `json:"TASK_UNREACHABLE"`
}

// StateSummarySlave is an agent in /master/state-summary.
type StateSummarySlave struct {
	Slave
	TaskStateCounts
	// FrameworkIDs are the frameworks with tasks on the agent.
	FrameworkIDs List[string] `json:"framework_ids"`
}

// StateSummaryFramework is a framework in /master/state-summary.
type StateSummaryFramework struct {
	FrameworkSummary
	TaskStateCounts
	// SlaveIDs are the agents the framework has tasks on.
	SlaveIDs List[string] `json:"slave_ids"`
}

// Roles is the /master/roles document.
type Roles struct {
	// Roles are the known roles the caller may view, sorted by name: roles
	// with frameworks, allocations, reservations, quota or a weight, and
	// their ancestors.
	Roles List[Role] `json:"roles"`
}

// Role is one role in /master/roles.
type Role struct {
	// Name is the role's name ("*" is the default role).
	Name string `json:"name"`
	// Weight is the role's fair-share weight (1.0 by default).
	Weight Float `json:"weight"`
	// Quota is the role's quota and what counts against it.
	Quota RoleQuota `json:"quota"`
	// Resources is Allocated plus Offered (deprecated by those).
	Resources Quantities `json:"resources"`
	// Allocated are the resources allocated to the role's frameworks.
	Allocated Quantities `json:"allocated"`
	// Offered are the resources offered to the role's frameworks.
	Offered Quantities `json:"offered"`
	// Reserved are the resources reserved for the role.
	Reserved Quantities `json:"reserved"`
	// Frameworks are the IDs of the frameworks subscribed to the role.
	Frameworks List[string] `json:"frameworks"`
}

// RoleQuota is a role's quota as /master/roles writes it (the pre-1.9
// QuotaInfo shape: singular "guarantee" and "limit").
type RoleQuota struct {
	// Role is the role's name.
	Role string `json:"role"`
	// Guarantee is the quota's guaranteed resources.
	Guarantee Quantities `json:"guarantee"`
	// Limit is the quota's limits.
	Limit Quantities `json:"limit"`
	// Consumed are the resources counted against the quota.
	Consumed Quantities `json:"consumed"`
}
