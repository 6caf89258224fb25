// Package deploytest tests Mezzo's deployment as an operator does it: a
// multi-host cluster on one machine, each host a Docker container on a
// private network with its own address, made from a Debian root that
// debootstrap builds and `docker import` imports (build-host-image.sh;
// cached in Docker under a versioned tag and reused while present). Three
// ZooKeeper servers, three masters and three agents are separate hosts;
// the cluster scripts (deploy/scripts) bring the daemons up over ssh from
// masters and agents files, a framework runs tasks across the agents, hosts
// are stopped and started, every agent and master is upgraded to a newer
// build while the tasks keep running, and the stop script leaves nothing
// behind. A second test installs the Debian package on a clean root and
// starts its units with systemd as the container's init.
//
// The tests need docker, ssh, ssh-keygen and curl on this machine, and
// debootstrap the first time; without one they fail naming it.
package deploytest
