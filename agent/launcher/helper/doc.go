// Package helper is the launch helper, `mezzo launch` (Mesos'
// `mesos-containerizer launch`): the process launcher.Start runs in a
// container's new namespaces, which reads what to run from its parent,
// waits until the parent has put it into the container's cgroups, makes
// the container's mounts, resource limits, capabilities and user, and
// then runs the command — replacing itself with it, or, in a PID
// namespace, staying as the namespace's init. It imports only the
// standard library and golang.org/x/sys, so that it can run before the
// rest of the binary is initialized (see init).
package helper
