// Package provisioner gives containers of the Mezzo containerizer a root
// file system made from a Docker image: Mesos' provisioner
// (src/slave/containerizer/mesos/provisioner) with its Docker store and
// its overlay and copy backends.
//
//	task's ContainerInfo.mesos.image (type DOCKER)
//	        │
//	        ▼
//	Store.Get ── --docker_registry ──▶ <dir>/<image>.tar (docker save),
//	   │                               an OCI image layout, or a registry (remote)
//	   │ each layer unpacked once, by its diff id, into
//	   │ <docker_store_dir>/layers/<id>/rootfs (whiteouts as overlayfs's)
//	   ▼
//	Provisioner.Provision ──▶ <work_dir>/provisioner/containers/<id>/
//	                            rootfs   the container's root (mount point, or the copy)
//	                            upper, work   overlay's writable layer
//	                            rootfs.json   what was provisioned (for recovery and GC)
//
// With the overlay backend nothing is mounted on the host: the launch
// helper mounts the overlay (the image's layers, read-only, under the
// writable upper directory) in the container's own mount namespace,
// where it lives exactly as long as the container's processes, so a
// crashed agent leaves no mount behind and a recovered container keeps
// its root. The copy backend copies the layers, in order and honouring
// their whiteouts, into the rootfs directory. Destroy removes the
// container's directory (unmounting first whatever may still be mounted
// there); Recover removes those of containers that are gone.
//
// The store keeps each image's metadata (its layers and runtime
// configuration) in <docker_store_dir>/images, so a restarted agent uses
// what it already has without pulling again. Layers are unpacked into a
// staging directory and renamed into place, so a failed or interrupted
// unpack leaves no partial layer; concurrent requests for the same layer
// wait for one unpack. Prune removes the images no container uses and
// that are not excluded, and the layers no remaining image or container
// uses (Mesos' image garbage collection, --image_gc_config).
package provisioner
