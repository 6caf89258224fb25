package resources

// HostInfo is what an agent detects about its machine to fill in the
// resources its --resources flag leaves out. A zero field means "not
// detected" and gets Mesos' fallback.
type HostInfo struct {
	// CPUs is the number of online CPUs. Fallback: 1.
	CPUs int
	// MemTotal is the machine's total memory in bytes. Fallback: 1 GiB of
	// mem resource.
	MemTotal uint64
	// DiskTotal is the size in bytes of the filesystem holding the agent's
	// work directory. Fallback: 10 GiB of disk resource.
	DiskTotal uint64
}

// Mesos' fallbacks and the default port range.
const (
	defaultCPUs   = 1
	defaultMemMB  = 1024
	defaultDiskMB = 10 * 1024
	gib           = 1 << 30
	mib           = 1 << 20
)

// DefaultPorts is the ports resource an agent offers when --resources
// names no ports: [31000-32000].
var DefaultPorts = Ranges{{Begin: 31000, End: 32000}}

// DefaultAgentResources returns the resources Mesos' agent derives from
// its machine, all for role (which must be "*" or a valid role; an invalid
// role gives unreserved resources):
//
//   - cpus: the online CPUs;
//   - mem: total memory less 1 GiB if there are at least 2 GiB, else half
//     of it, in MB rounded down;
//   - disk: the work directory's filesystem size less 5 GiB if it has at
//     least 10 GiB, else half of it, in MB rounded down;
//   - ports: [31000-32000].
//
// gpus are never detected; give them in --resources.
func DefaultAgentResources(host HostInfo, role string) Resources {
	list := defaultResources(host, role, func(string) bool { return false })
	return fromList(list)
}

// defaultResources returns the detected resources whose name given does
// not report as given.
func defaultResources(host HostInfo, role string, given func(name string) bool) []Resource {
	var reservations []Reservation
	if role != UnreservedRole && ValidateRole(role) == nil {
		reservations = []Reservation{{Type: ReservationStatic, Role: role}}
	}
	scalar := func(name string, units uint64) Resource {
		return Resource{Name: name, Type: ValueScalar, Scalar: ScalarFromInt(int64(min(units, uint64(MaxScalar/Unit)))), Reservations: reservations}
	}
	var list []Resource
	if !given("cpus") {
		cpus := uint64(defaultCPUs)
		if host.CPUs > 0 {
			cpus = uint64(host.CPUs)
		}
		list = append(list, scalar("cpus", cpus))
	}
	if !given("mem") {
		mem := uint64(defaultMemMB)
		switch total := host.MemTotal; {
		case total >= 2*gib:
			mem = (total - gib) / mib
		case total > 0:
			mem = total / 2 / mib
		}
		list = append(list, scalar("mem", mem))
	}
	if !given("disk") {
		disk := uint64(defaultDiskMB)
		switch total := host.DiskTotal; {
		case total >= 10*gib:
			disk = (total - 5*gib) / mib
		case total > 0:
			disk = total / 2 / mib
		}
		list = append(list, scalar("disk", disk))
	}
	if !given("ports") {
		list = append(list, Resource{Name: "ports", Type: ValueRanges, Ranges: DefaultPorts, Reservations: reservations})
	}
	return list
}

// AgentResources computes an agent's total resources as Mesos does: it
// reads flagText, the value of --resources (text, JSON or file://, see
// ParseFlag), detects the machine with DetectHost(workDir), and fills in
// each of cpus, mem, disk and ports that the flag does not name. A name
// given in the flag replaces detection even with a zero value ("cpus:0"
// means no cpus). Detection failures fall back to Mesos' defaults (1 cpu,
// 1 GiB mem, 10 GiB disk) and are not errors.
func AgentResources(flagText, workDir, defaultRole string) (Resources, error) {
	host, _ := DetectHost(workDir) // a failed part is zero and falls back
	return AgentResourcesFor(host, flagText, defaultRole)
}

// AgentResourcesFor is AgentResources with the machine described by host
// instead of detected.
func AgentResourcesFor(host HostInfo, flagText, defaultRole string) (Resources, error) {
	list, err := parseFlagList(flagText, defaultRole)
	if err != nil {
		return Resources{}, err
	}
	given := func(name string) bool {
		for i := range list {
			if list[i].Name == name {
				return true
			}
		}
		return false
	}
	list = append(list, defaultResources(host, defaultRole, given)...)
	return fromList(list), nil
}
