// Package containerizer is the agent's containerizer seam, after Mesos'
// (src/slave/containerizer/containerizer.hpp): how an executor is run,
// waited for, measured and killed, and how a restarted agent finds the
// executors it left running. The agent's state code calls only the
// Containerizer interface; what runs behind it can change without it.
//
//	agent state goroutine ──Launch/Wait/Destroy/Update/Usage/Status/Recover──▶ Composing
//	                                                                          │ offers each launch in order
//	                                       ┌──────────────────────────────────┴──────────────┐
//	                                       ▼                                                 ▼
//	            Builtin (--builtin_executors=auto)                         Mezzo (--containerizers=mesos)
//	            built-in executors of frameworks that do                   every executor as a process in a
//	            not checkpoint, on goroutines of the agent                 session of its own (package launcher)
//	                                                                                 │ Isolator, in order:
//	                                                                                 ▼ prepare, isolate(pid), watch,
//	                                                                       filesystem/posix, posix/cpu, posix/mem
//	                                                                       (update, usage, cleanup, recover)
//
// Composing is Mesos' composing containerizer: each launch goes to its
// containerizers in order until one does not answer NotSupported, and
// later calls for the container go to the one that launched it. Builtin
// (a Mezzo extension) takes only the command and default executors of
// frameworks that do not checkpoint, which need not outlive the agent;
// Mezzo, the equivalent of Mesos' "mesos" containerizer with the POSIX
// launcher, takes everything of type MESOS. Docker would come after it.
//
// The Mezzo containerizer's isolation is a list of Isolators
// (--isolation): filesystem/posix (always on: refuses root file
// systems), posix/cpu and posix/mem (measure a container's session in
// /proc and enforce nothing). cgroups and namespace isolators plug in
// there; an isolator's limitation (Watch) ends the container with a
// Termination carrying the reason its tasks get.
//
// Package fake holds a Containerizer that runs no process, for tests.
package containerizer
