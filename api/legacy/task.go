package legacy

// Task is a task as masters and agents write it: in a framework's "tasks",
// "unreachable_tasks" and "completed_tasks" on /master/state and
// /master/frameworks, in /master/tasks, and in an agent executor's "tasks"
// and "completed_tasks" on the agent's /state.
type Task struct {
	// ID is the task ID.
	ID string `json:"id"`
	// Name is the task's name.
	Name string `json:"name"`
	// FrameworkID is the ID of the framework that launched the task.
	FrameworkID string `json:"framework_id"`
	// ExecutorID is the ID of the task's executor, "" for a command task
	// (Mesos always writes the key).
	ExecutorID string `json:"executor_id"`
	// SlaveID is the ID of the agent the task runs on.
	SlaveID string `json:"slave_id"`
	// State is the task's latest state by name ("TASK_RUNNING").
	State string `json:"state"`
	// Resources summarizes the task's resources.
	Resources Resources `json:"resources"`
	// Limits are the task's resource limits, name to amount (the
	// TASK_RESOURCE_LIMITS capability); omitted when the task has none.
	Limits Quantities `json:"limits,omitempty"`
	// Role is the role the task's resources are allocated to.
	Role string `json:"role"`
	// Statuses are the task's status updates, oldest first.
	Statuses List[TaskStatus] `json:"statuses"`
	// User is the user the task runs as, when the framework set one on the
	// task's command.
	User string `json:"user,omitempty"`
	// Labels are the task's labels; present, possibly empty, when the task
	// has labels set.
	Labels []Label `json:"labels,omitzero"`
	// Discovery is the task's service discovery information (read by
	// mesos-dns).
	Discovery *DiscoveryInfo `json:"discovery,omitempty"`
	// Container is the task's ContainerInfo message.
	Container ProtoJSON `json:"container,omitempty"`
	// HealthCheck is the task's HealthCheck message.
	HealthCheck ProtoJSON `json:"health_check,omitempty"`
}

// TaskStatus is one status update of a task, as written in a task's
// "statuses".
type TaskStatus struct {
	// State is the task state by name ("TASK_RUNNING").
	State string `json:"state"`
	// Timestamp is when the update was generated, in seconds since the
	// epoch.
	Timestamp Float `json:"timestamp"`
	// Labels are the update's labels; present, possibly empty, when set.
	// mesos-dns reads task IPs from labels such as
	// "Docker.NetworkSettings.IPAddress".
	Labels []Label `json:"labels,omitzero"`
	// ContainerStatus is the status of the task's container, when known.
	ContainerStatus *ContainerStatus `json:"container_status,omitempty"`
	// Healthy is the result of the task's health check, when it has one.
	Healthy *bool `json:"healthy,omitempty"`
}

// ContainerStatus is the status of the container a task runs in.
type ContainerStatus struct {
	// ContainerID is the container's ID.
	ContainerID *ContainerID `json:"container_id,omitempty"`
	// NetworkInfos are the container's networks and their IP addresses;
	// omitted when there are none.
	NetworkInfos []NetworkInfo `json:"network_infos,omitempty"`
	// CgroupInfo is the container's CgroupInfo message.
	CgroupInfo ProtoJSON `json:"cgroup_info,omitempty"`
}

// ContainerID identifies a container; a nested container names its parent.
type ContainerID struct {
	// Value is the container's ID (a UUID for top-level containers).
	Value string `json:"value"`
	// Parent is the parent container's ID, for a nested container.
	Parent *ContainerID `json:"parent,omitempty"`
}

// NetworkInfo is one network a container is attached to.
type NetworkInfo struct {
	// Groups are the network's isolation groups; omitted when none.
	Groups []string `json:"groups,omitempty"`
	// Labels are the network's labels; present, possibly empty, when set.
	Labels []Label `json:"labels,omitzero"`
	// IPAddresses are the container's addresses on the network (mesos-dns'
	// "netinfo" IP source); omitted when none.
	IPAddresses []IPAddress `json:"ip_addresses,omitempty"`
	// Name is the network's name (a CNI network), when set.
	Name string `json:"name,omitempty"`
	// PortMappings map host ports to container ports; omitted when none.
	PortMappings []PortMapping `json:"port_mappings,omitempty"`
}

// IPAddress is one address of a container.
type IPAddress struct {
	// Protocol is "IPv4" or "IPv6". Mesos always writes it (IPv4 when unset).
	Protocol string `json:"protocol"`
	// IPAddress is the address, when known.
	IPAddress string `json:"ip_address,omitempty"`
}

// PortMapping maps a host port to a container port.
type PortMapping struct {
	// HostPort is the port on the host.
	HostPort uint32 `json:"host_port"`
	// ContainerPort is the port inside the container.
	ContainerPort uint32 `json:"container_port"`
	// Protocol is "tcp" or "udp", when set.
	Protocol string `json:"protocol,omitempty"`
}

// Label is one key/value label. Mesos writes labels as a flat array of
// these ("labels":[{"key":"a","value":"b"}]) everywhere in these documents
// except inside protobuf messages such as DiscoveryInfo (see Labels).
type Label struct {
	// Key is the label's key.
	Key string `json:"key"`
	// Value is the label's value; nil when unset (Mesos then omits it), a
	// pointer so that a set but empty value is written as "".
	Value *string `json:"value,omitempty"`
}

// Labels is the protobuf Labels message, {"labels":[...]}, the form labels
// take inside DiscoveryInfo and its ports.
type Labels struct {
	// Labels are the labels; omitted when none.
	Labels []Label `json:"labels,omitempty"`
}

// DiscoveryInfo is a task's service discovery information (the protobuf
// message, written by Mesos' generic writer). mesos-dns builds its names
// and SRV records from it.
type DiscoveryInfo struct {
	// Visibility is "FRAMEWORK", "CLUSTER" or "EXTERNAL".
	Visibility string `json:"visibility"`
	// Name is the service name, when set.
	Name string `json:"name,omitempty"`
	// Environment is the service's environment ("prod"), when set.
	Environment string `json:"environment,omitempty"`
	// Location is the service's location ("dc1"), when set.
	Location string `json:"location,omitempty"`
	// Version is the service's version, when set.
	Version string `json:"version,omitempty"`
	// Ports are the service's named ports, when set.
	Ports *DiscoveryPorts `json:"ports,omitempty"`
	// Labels are the service's labels, when set.
	Labels *Labels `json:"labels,omitempty"`
}

// DiscoveryPorts is the protobuf Ports message, {"ports":[...]}.
type DiscoveryPorts struct {
	// Ports are the ports; omitted when none.
	Ports []DiscoveryPort `json:"ports,omitempty"`
}

// DiscoveryPort is one port of a service.
type DiscoveryPort struct {
	// Number is the port number.
	Number uint32 `json:"number"`
	// Name is the port's name ("http"), when set.
	Name string `json:"name,omitempty"`
	// Protocol is the port's protocol ("tcp"), when set.
	Protocol string `json:"protocol,omitempty"`
	// Visibility is "FRAMEWORK", "CLUSTER" or "EXTERNAL", when set.
	Visibility string `json:"visibility,omitempty"`
	// Labels are the port's labels, when set.
	Labels *Labels `json:"labels,omitempty"`
}

// AllocationInfo names the role resources are allocated to.
type AllocationInfo struct {
	// Role is the role, when set.
	Role string `json:"role,omitempty"`
}

// CommandInfo is a command as masters and agents write it for executors
// and queued tasks (a hand-written form, not the protobuf message's).
type CommandInfo struct {
	// Shell says whether Value runs under "sh -c"; written when set.
	Shell *bool `json:"shell,omitempty"`
	// Value is the shell command, or the executable when Shell is false;
	// written when set.
	Value string `json:"value,omitempty"`
	// Argv are the arguments when Shell is false (always written).
	Argv List[string] `json:"argv"`
	// Environment is the command's environment, when set.
	Environment *Environment `json:"environment,omitempty"`
	// URIs are the URIs fetched into the sandbox (always written).
	URIs List[CommandURI] `json:"uris"`
}

// CommandURI is one URI the fetcher downloads before a command runs. Only
// these two keys are written, whatever else the URI sets.
type CommandURI struct {
	// Value is the URI.
	Value string `json:"value"`
	// Executable says whether the fetched file is made executable.
	Executable bool `json:"executable"`
}

// Environment is the protobuf Environment message.
type Environment struct {
	// Variables are the environment variables; omitted when none.
	Variables []EnvironmentVariable `json:"variables,omitempty"`
}

// EnvironmentVariable is one environment variable.
type EnvironmentVariable struct {
	// Name is the variable's name.
	Name string `json:"name"`
	// Type is "VALUE" or "SECRET" ("VALUE" when unset; always written).
	Type string `json:"type"`
	// Value is the variable's value, when set (it may be set and empty).
	Value *string `json:"value,omitempty"`
	// Secret is the Secret message the value comes from, for type SECRET.
	Secret ProtoJSON `json:"secret,omitempty"`
}
