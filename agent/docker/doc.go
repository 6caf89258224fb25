// Package docker is the agent's side of the Docker Engine API: it turns a
// Mesos ContainerInfo of type DOCKER (with the task's or executor's
// command, environment and resources) into a container, runs it through
// the engine's socket with Docker's official Go client, and measures,
// stops and removes it. Two users share it:
//
//   - the Docker containerizer (package agent/containerizer/docker), which
//     runs custom executors in containers, finds the containers of a
//     previous run of the agent by their labels, and removes orphans;
//   - `mezzo executor --docker`, Mezzo's equivalent of Mesos'
//     mesos-docker-executor, which runs a command task's container
//     (TaskRunner) and its COMMAND checks inside it (Container.Exec).
//
// Containers are named as Mesos names them, mesos-<ContainerID.value>,
// and labelled with the agent's work directory (LabelWorkDir), the
// container id (LabelContainerID) and what runs in them (LabelKind), so
// that a restarted agent tells its own containers from anything else the
// engine runs. The sandbox is bind-mounted at /mnt/mesos/sandbox
// (MappedSandbox), which is also the working directory and MESOS_SANDBOX,
// as in Mesos.
package docker
