// Package legacy holds Go types for the JSON documents Mesos masters and
// agents serve outside the v1 API: the "legacy" endpoints that the web UI,
// mesos-dns, metrics scrapers and the Mesos CLI read. Mezzo serves them in
// exactly Mesos' shape; the types were written against documents recorded
// from Mesos 1.11.1 and Mesos' writers, and the golden tests decode every
// recorded document strictly and re-encode it byte for byte (but for the
// last digit of a few doubles: Mesos' rapidjson formats with Grisu2, which
// is not always the closest shortest form that Float writes).
//
// # Documents
//
// Master (default port 5050):
//
//	/master/state           MasterState
//	/master/state-summary   StateSummary
//	/master/frameworks      Frameworks
//	/master/slaves          Slaves
//	/master/tasks           Tasks
//	/master/roles           Roles
//	/master/flags           FlagsDocument
//	/version                Version
//	/metrics/snapshot       Metrics
//
// Agent (default port 5051):
//
//	/state, /slave(1)/state AgentState
//	/flags                  FlagsDocument
//	/version                Version
//	/metrics/snapshot       Metrics
//	/monitor/statistics     MonitorStatistics (a List of MonitorEntry)
//	/files/browse           FileListing (a List of FileInfo)
//	/files/read             FileData
//
// Every endpoint also answers ?jsonp=cb with cb(<document>) as
// text/javascript; that wrapping belongs to the HTTP layer, not here.
//
// # How the types encode
//
// Struct fields are declared in the order Mesos writes the keys, so the
// encoded documents read like Mesos'. Where one Mesos writer produces an
// object for several documents, one struct serves them all, and the larger
// objects embed the smaller: a Slave starts with a SlaveInfo,
// SlaveWithFullResources (/master/slaves) and StateSummarySlave extend
// Slave; Framework and StateSummaryFramework extend FrameworkSummary;
// MasterState and AgentState open with a BuildInfo. Task and TaskStatus are
// shared by the master's and the agent's documents.
//
// Keys follow Mesos' rules for presence:
//
//   - A key Mesos always writes has no omitempty. Arrays Mesos always writes
//     are List, which encodes nil as []; the map types (Flags, Quantities,
//     Metrics, RoleResources, Attributes, ...) encode nil as {}.
//   - A key Mesos writes only when something is set has omitempty, or
//     omitzero for arrays Mesos writes when set even if empty (labels,
//     roles): there a nil slice is left out and an empty one is written
//     as [].
//   - Optional values where a set zero differs from unset use pointers
//     (TaskStatus.Healthy, Label.Value, the ResourceStatistics counters).
//     Other optional strings and times use omitempty: Mesos does not write
//     them empty or zero in practice.
//
// Numbers Mesos writes as doubles (times in seconds, resource amounts,
// gauge-backed counts such as activated_slaves, metric values) are Float,
// which encodes in Mesos' number form (1.0, 0.1, 1795326125.585411).
// Numbers Mesos writes as integers (ports, task-state counts, file sizes)
// are Go integers.
//
// Resource summaries (Resources) keep their keys in order and their values
// as Mesos writes them: scalars as numbers, ranges and sets as strings
// ("[31000-32000]", "{a, b}"), which Value parses. Attributes have the same
// form. Sub-documents that Mesos writes with its generic protobuf writer
// and that are large or open-ended (full Resources, ContainerInfo,
// HealthCheck, OfferConstraints, ...) are kept verbatim as ProtoJSON, to be
// read and written with package codec and the v1 messages.
//
// Encode with Marshal, which writes like Mesos (no HTML escaping);
// json.Marshal gives the same JSON values with <, > and & escaped.
//
// # Not modelled
//
// An executor the caller may not view is written by the master as {} inside
// a framework's "executors"; Executor cannot express that and encodes such
// an element with all its keys. FileData.Data is a Go string, so file bytes
// that are not UTF-8 are written as U+FFFD where Mesos writes the raw
// bytes. Maps Mesos writes in hash order (reserved_resources by role) are
// written sorted.
package legacy
