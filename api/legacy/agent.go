package legacy

// AgentState is the agent's /state document (also served as
// /slave(1)/state): the agent, its resources, and its frameworks with their
// executors and tasks.
type AgentState struct {
	BuildInfo
	// StartTime is when the agent started, in seconds since the epoch.
	StartTime Float `json:"start_time"`
	// ID is the agent's ID ("" before it first registers).
	ID string `json:"id"`
	// PID is the agent's libprocess PID ("slave(1)@127.0.0.1:5051").
	PID string `json:"pid"`
	// Hostname is the agent's hostname.
	Hostname string `json:"hostname"`
	// Capabilities are the agent's capabilities by name ("MULTI_ROLE").
	Capabilities List[string] `json:"capabilities"`
	// Domain is the agent's fault domain, when configured.
	Domain *DomainInfo `json:"domain,omitempty"`
	// DrainConfig is how the agent is being drained, while it is draining.
	DrainConfig *DrainConfig `json:"drain_config,omitempty"`
	// EstimatedDrainStartTimeSeconds is when draining is expected to start,
	// in whole seconds since the epoch (an integer here, unlike the
	// master's); written only with DrainConfig, when known.
	EstimatedDrainStartTimeSeconds int64 `json:"estimated_drain_start_time_seconds,omitempty"`
	// Resources summarizes the agent's total resources.
	Resources Resources `json:"resources"`
	// ReservedResources summarizes the agent's reservations by role.
	ReservedResources RoleResources `json:"reserved_resources"`
	// UnreservedResources summarizes the agent's unreserved resources.
	UnreservedResources Resources `json:"unreserved_resources"`
	// ReservedResourcesFull are the agent's reservations in full, by role.
	ReservedResourcesFull RoleFullResources `json:"reserved_resources_full"`
	// UnreservedResourcesFull are the agent's unreserved resources in full.
	UnreservedResourcesFull FullResources `json:"unreserved_resources_full"`
	// ReservedResourcesAllocated summarizes, by role, the reserved resources
	// allocated to the agent's frameworks.
	ReservedResourcesAllocated RoleResources `json:"reserved_resources_allocated"`
	// UnreservedResourcesAllocated summarizes the unreserved resources
	// allocated to the agent's frameworks.
	UnreservedResourcesAllocated Resources `json:"unreserved_resources_allocated"`
	// ResourceProviders are the agent's resource providers, each a v1
	// agent Response.GetResourceProviders.ResourceProvider message (empty
	// when the caller may not view them).
	ResourceProviders List[ProtoJSON] `json:"resource_providers"`
	// Attributes are the agent's attributes.
	Attributes Attributes `json:"attributes"`
	// MasterHostname is the hostname of the master the agent is registered
	// with, when it has one and the name resolves.
	MasterHostname string `json:"master_hostname,omitempty"`
	// LogDir is the --log_dir flag, when set and the caller may view flags.
	LogDir string `json:"log_dir,omitempty"`
	// ExternalLogFile is the --external_log_file flag, when set and the
	// caller may view flags.
	ExternalLogFile string `json:"external_log_file,omitempty"`
	// Flags are the agent's flags; omitted when the caller may not view
	// flags.
	Flags Flags `json:"flags,omitempty"`
	// Frameworks are the frameworks with executors on the agent.
	Frameworks List[AgentFramework] `json:"frameworks"`
	// CompletedFrameworks are frameworks that recently left the agent.
	CompletedFrameworks List[AgentFramework] `json:"completed_frameworks"`
}

// AgentFramework is a framework as the agent's /state writes it.
type AgentFramework struct {
	// ID is the framework's ID.
	ID string `json:"id"`
	// Name is the framework's name.
	Name string `json:"name"`
	// User is the user the framework's tasks run as by default.
	User string `json:"user"`
	// FailoverTimeout is how long the master waits for a disconnected
	// scheduler, in seconds.
	FailoverTimeout Float `json:"failover_timeout"`
	// Checkpoint says whether the agent checkpoints the framework's state.
	Checkpoint bool `json:"checkpoint"`
	// Hostname is the framework's hostname ("" when unset).
	Hostname string `json:"hostname"`
	// Principal is the framework's principal, when set.
	Principal string `json:"principal,omitempty"`
	// Roles are the framework's roles, for a MULTI_ROLE framework (which
	// has no Role). Present, possibly empty, when set.
	Roles []string `json:"roles,omitzero"`
	// Role is the framework's role, for a framework without MULTI_ROLE.
	Role string `json:"role,omitempty"`
	// Executors are the framework's live executors.
	Executors List[AgentExecutor] `json:"executors"`
	// CompletedExecutors are the framework's recently terminated executors.
	CompletedExecutors List[AgentExecutor] `json:"completed_executors"`
}

// AgentExecutor is an executor as the agent's /state writes it.
type AgentExecutor struct {
	// ID is the executor's ID (the task ID, for a command executor).
	ID string `json:"id"`
	// Name is the executor's name ("" when unset).
	Name string `json:"name"`
	// Source is the executor's (deprecated) source ("" when unset).
	Source string `json:"source"`
	// Container is the ID of the executor's container.
	Container string `json:"container"`
	// Directory is the executor's sandbox on the agent; browse it through
	// /files/browse?path=<directory>.
	Directory string `json:"directory"`
	// Resources summarizes the resources allocated to the executor and its
	// tasks.
	Resources Resources `json:"resources"`
	// Role is the role the executor's resources are allocated to; omitted
	// when its ExecutorInfo has no resources.
	Role string `json:"role,omitempty"`
	// Labels are the executor's labels; present, possibly empty, when set.
	Labels []Label `json:"labels,omitzero"`
	// Type is "DEFAULT" or "CUSTOM", when set.
	Type string `json:"type,omitempty"`
	// Tasks are the executor's launched, non-terminal tasks.
	Tasks List[Task] `json:"tasks"`
	// QueuedTasks are tasks waiting for the executor to register.
	QueuedTasks List[QueuedTask] `json:"queued_tasks"`
	// CompletedTasks are the executor's terminated tasks.
	CompletedTasks List[Task] `json:"completed_tasks"`
}

// QueuedTask is a task the agent holds until its executor registers, as
// written in an executor's "queued_tasks" (a TaskInfo, not yet a Task).
type QueuedTask struct {
	// ID is the task ID.
	ID string `json:"id"`
	// Name is the task's name.
	Name string `json:"name"`
	// SlaveID is the ID of the agent.
	SlaveID string `json:"slave_id"`
	// Resources summarizes the task's resources.
	Resources Resources `json:"resources"`
	// Role is the role the task's resources are allocated to.
	Role string `json:"role"`
	// Command is the task's command, for a command task.
	Command *CommandInfo `json:"command,omitempty"`
	// ExecutorID is the ID of the task's executor, when it names one.
	ExecutorID string `json:"executor_id,omitempty"`
	// Discovery is the task's service discovery information, when set.
	Discovery *DiscoveryInfo `json:"discovery,omitempty"`
}

// MonitorStatistics is the agent's /monitor/statistics document: one entry
// per executor with resource statistics.
type MonitorStatistics = List[MonitorEntry]

// MonitorEntry is one executor's resource usage in /monitor/statistics.
// Mesos writes its keys sorted.
type MonitorEntry struct {
	// ExecutorID is the executor's ID.
	ExecutorID string `json:"executor_id"`
	// ExecutorName is the executor's name ("" when unset).
	ExecutorName string `json:"executor_name"`
	// FrameworkID is the ID of the executor's framework.
	FrameworkID string `json:"framework_id"`
	// Source is the executor's (deprecated) source ("" when unset).
	Source string `json:"source"`
	// Statistics is the executor container's usage.
	Statistics ResourceStatistics `json:"statistics"`
}

// ResourceStatistics is a container's resource usage (the
// ResourceStatistics message). Mesos writes it with keys sorted by name, so
// the fields are declared in that order. Every field but Timestamp is
// optional and written only when the isolators measured it, hence the
// pointers (a measured 0 is written). Sub-messages are kept verbatim.
type ResourceStatistics struct {
	// BlkioStatistics is the container's CgroupInfo.Blkio.Statistics.
	BlkioStatistics ProtoJSON `json:"blkio_statistics,omitempty"`
	// CPUsLimit is the container's CPU limit, in CPUs.
	CPUsLimit *Float `json:"cpus_limit,omitempty"`
	// CPUsNrPeriods is the number of CFS enforcement periods elapsed.
	CPUsNrPeriods *uint32 `json:"cpus_nr_periods,omitempty"`
	// CPUsNrThrottled is the number of periods the container was throttled.
	CPUsNrThrottled *uint32 `json:"cpus_nr_throttled,omitempty"`
	// CPUsSoftLimit is the container's CPU shares, in CPUs.
	CPUsSoftLimit *Float `json:"cpus_soft_limit,omitempty"`
	// CPUsSystemTimeSecs is the system CPU time used, in seconds.
	CPUsSystemTimeSecs *Float `json:"cpus_system_time_secs,omitempty"`
	// CPUsThrottledTimeSecs is the time spent throttled, in seconds.
	CPUsThrottledTimeSecs *Float `json:"cpus_throttled_time_secs,omitempty"`
	// CPUsUserTimeSecs is the user CPU time used, in seconds.
	CPUsUserTimeSecs *Float `json:"cpus_user_time_secs,omitempty"`
	// DiskLimitBytes is the container's disk quota, in bytes.
	DiskLimitBytes *uint64 `json:"disk_limit_bytes,omitempty"`
	// DiskStatistics are per-volume DiskStatistics messages.
	DiskStatistics []ProtoJSON `json:"disk_statistics,omitempty"`
	// DiskUsedBytes is the disk space used, in bytes.
	DiskUsedBytes *uint64 `json:"disk_used_bytes,omitempty"`
	// MemAnonBytes is anonymous memory, in bytes.
	MemAnonBytes *uint64 `json:"mem_anon_bytes,omitempty"`
	// MemCacheBytes is page cache memory, in bytes.
	MemCacheBytes *uint64 `json:"mem_cache_bytes,omitempty"`
	// MemCriticalPressureCounter counts critical memory pressure events.
	MemCriticalPressureCounter *uint64 `json:"mem_critical_pressure_counter,omitempty"`
	// MemFileBytes is file-backed memory, in bytes.
	MemFileBytes *uint64 `json:"mem_file_bytes,omitempty"`
	// MemKmemTCPUsageBytes is kernel TCP buffer memory, in bytes.
	MemKmemTCPUsageBytes *uint64 `json:"mem_kmem_tcp_usage_bytes,omitempty"`
	// MemKmemUsageBytes is kernel memory, in bytes.
	MemKmemUsageBytes *uint64 `json:"mem_kmem_usage_bytes,omitempty"`
	// MemLimitBytes is the container's memory limit, in bytes.
	MemLimitBytes *uint64 `json:"mem_limit_bytes,omitempty"`
	// MemLowPressureCounter counts low memory pressure events.
	MemLowPressureCounter *uint64 `json:"mem_low_pressure_counter,omitempty"`
	// MemMappedFileBytes is memory-mapped file memory, in bytes.
	MemMappedFileBytes *uint64 `json:"mem_mapped_file_bytes,omitempty"`
	// MemMediumPressureCounter counts medium memory pressure events.
	MemMediumPressureCounter *uint64 `json:"mem_medium_pressure_counter,omitempty"`
	// MemRSSBytes is resident memory, in bytes.
	MemRSSBytes *uint64 `json:"mem_rss_bytes,omitempty"`
	// MemSoftLimitBytes is the container's memory soft limit, in bytes.
	MemSoftLimitBytes *uint64 `json:"mem_soft_limit_bytes,omitempty"`
	// MemSwapBytes is swap used, in bytes.
	MemSwapBytes *uint64 `json:"mem_swap_bytes,omitempty"`
	// MemTotalBytes is total memory used, in bytes.
	MemTotalBytes *uint64 `json:"mem_total_bytes,omitempty"`
	// MemTotalMemswBytes is total memory plus swap used, in bytes.
	MemTotalMemswBytes *uint64 `json:"mem_total_memsw_bytes,omitempty"`
	// MemUnevictableBytes is unevictable memory, in bytes.
	MemUnevictableBytes *uint64 `json:"mem_unevictable_bytes,omitempty"`
	// NetEphemeralPorts is the Value.Range of ephemeral ports assigned.
	NetEphemeralPorts ProtoJSON `json:"net_ephemeral_ports,omitempty"`
	// NetRateStatistics is the container's RateStatistics message.
	NetRateStatistics ProtoJSON `json:"net_rate_statistics,omitempty"`
	// NetRxBurstRateLimit is the receive burst rate limit, in bytes/s.
	NetRxBurstRateLimit *uint64 `json:"net_rx_burst_rate_limit,omitempty"`
	// NetRxBurstSize is the receive burst size, in bytes.
	NetRxBurstSize *uint64 `json:"net_rx_burst_size,omitempty"`
	// NetRxBytes is bytes received.
	NetRxBytes *uint64 `json:"net_rx_bytes,omitempty"`
	// NetRxDropped is received packets dropped.
	NetRxDropped *uint64 `json:"net_rx_dropped,omitempty"`
	// NetRxErrors is receive errors.
	NetRxErrors *uint64 `json:"net_rx_errors,omitempty"`
	// NetRxPackets is packets received.
	NetRxPackets *uint64 `json:"net_rx_packets,omitempty"`
	// NetRxRateLimit is the receive rate limit, in bytes/s.
	NetRxRateLimit *uint64 `json:"net_rx_rate_limit,omitempty"`
	// NetSNMPStatistics is the container's SNMPStatistics message.
	NetSNMPStatistics ProtoJSON `json:"net_snmp_statistics,omitempty"`
	// NetTCPActiveConnections is the number of active TCP connections.
	NetTCPActiveConnections *Float `json:"net_tcp_active_connections,omitempty"`
	// NetTCPRTTMicrosecsP50 is the median TCP round-trip time, in µs.
	NetTCPRTTMicrosecsP50 *Float `json:"net_tcp_rtt_microsecs_p50,omitempty"`
	// NetTCPRTTMicrosecsP90 is the 90th percentile TCP round-trip time, in µs.
	NetTCPRTTMicrosecsP90 *Float `json:"net_tcp_rtt_microsecs_p90,omitempty"`
	// NetTCPRTTMicrosecsP95 is the 95th percentile TCP round-trip time, in µs.
	NetTCPRTTMicrosecsP95 *Float `json:"net_tcp_rtt_microsecs_p95,omitempty"`
	// NetTCPRTTMicrosecsP99 is the 99th percentile TCP round-trip time, in µs.
	NetTCPRTTMicrosecsP99 *Float `json:"net_tcp_rtt_microsecs_p99,omitempty"`
	// NetTCPTimeWaitConnections is the number of TCP connections in
	// TIME_WAIT.
	NetTCPTimeWaitConnections *Float `json:"net_tcp_time_wait_connections,omitempty"`
	// NetTrafficControlStatistics are per-queue TrafficControlStatistics
	// messages.
	NetTrafficControlStatistics []ProtoJSON `json:"net_traffic_control_statistics,omitempty"`
	// NetTxBurstRateLimit is the transmit burst rate limit, in bytes/s.
	NetTxBurstRateLimit *uint64 `json:"net_tx_burst_rate_limit,omitempty"`
	// NetTxBurstSize is the transmit burst size, in bytes.
	NetTxBurstSize *uint64 `json:"net_tx_burst_size,omitempty"`
	// NetTxBytes is bytes sent.
	NetTxBytes *uint64 `json:"net_tx_bytes,omitempty"`
	// NetTxDropped is sent packets dropped.
	NetTxDropped *uint64 `json:"net_tx_dropped,omitempty"`
	// NetTxErrors is transmit errors.
	NetTxErrors *uint64 `json:"net_tx_errors,omitempty"`
	// NetTxPackets is packets sent.
	NetTxPackets *uint64 `json:"net_tx_packets,omitempty"`
	// NetTxRateLimit is the transmit rate limit, in bytes/s.
	NetTxRateLimit *uint64 `json:"net_tx_rate_limit,omitempty"`
	// Perf is the container's PerfStatistics message.
	Perf ProtoJSON `json:"perf,omitempty"`
	// Processes is the number of processes in the container.
	Processes *uint32 `json:"processes,omitempty"`
	// Threads is the number of threads in the container.
	Threads *uint32 `json:"threads,omitempty"`
	// Timestamp is when the statistics were taken, in seconds since the
	// epoch.
	Timestamp Float `json:"timestamp"`
}

// FileListing is the agent's (or master's) /files/browse document: the
// entries of one directory.
type FileListing = List[FileInfo]

// FileInfo is one entry of a /files/browse listing. Mesos writes its keys
// sorted.
type FileInfo struct {
	// GID is the owning group's name.
	GID string `json:"gid"`
	// Mode is the type and permissions as ls writes them ("-rw-r--r--",
	// "drwxr-xr-x").
	Mode string `json:"mode"`
	// MTime is the modification time, in seconds since the epoch.
	MTime Float `json:"mtime"`
	// NLink is the number of hard links.
	NLink int32 `json:"nlink"`
	// Path is the entry's full path.
	Path string `json:"path"`
	// Size is the size in bytes.
	Size uint64 `json:"size"`
	// UID is the owner's name.
	UID string `json:"uid"`
}

// FileData is the /files/read document: a chunk of a file. Mesos writes its
// keys sorted.
type FileData struct {
	// Data is the chunk, as a string. Mesos writes the file's bytes as they
	// are; this package, like encoding/json, writes invalid UTF-8 as U+FFFD.
	Data string `json:"data"`
	// Offset is the chunk's offset in the file. When the request has no
	// offset or offset=-1 (how the web UI asks for a file's length), it is
	// the file's size and Data is empty.
	Offset int64 `json:"offset"`
}

// Container is one element of the agent's /containers: a live executor's
// container with its status and resource usage.
type Container struct {
	// FrameworkID is the ID of the executor's framework.
	FrameworkID string `json:"framework_id"`
	// ExecutorID is the executor's ID.
	ExecutorID string `json:"executor_id"`
	// ExecutorName is the executor's name ("" when unset).
	ExecutorName string `json:"executor_name"`
	// ContainerID is the ID of the executor's container.
	ContainerID string `json:"container_id"`
	// ContainerStatus is the container's ContainerStatus message, when known.
	ContainerStatus ProtoJSON `json:"container_status,omitempty"`
	// Statistics is the container's ResourceStatistics message, when it
	// could be measured.
	Statistics ProtoJSON `json:"statistics,omitempty"`
}
