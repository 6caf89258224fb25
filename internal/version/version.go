// Package version holds Mezzo's own version and the versions of the Mesos
// interfaces it speaks. The build may override Version with
// -ldflags "-X github.com/mezzo-project/mezzo/internal/version.Version=...".
package version

// Version is Mezzo's release version.
var Version = "0.1.0-dev"

// MesosVersion is the Mesos release whose published behaviour Mezzo
// follows. Masters and agents report it where Mesos reports its own
// version (MasterInfo.version, /version), because frameworks and tools
// compare it against the Mesos versions they support.
const MesosVersion = "1.11.1"

// APIVersion is the Mesos HTTP API version Mezzo serves.
const APIVersion = "v1"
