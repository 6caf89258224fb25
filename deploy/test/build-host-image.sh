#!/bin/sh
# Builds the Debian root the deployment test's hosts run, with debootstrap,
# and imports it into Docker as IMAGE (no registry is needed). The root has
# what a cluster host has: openssh-server, Debian's zookeeper (with its Java
# runtime), systemd, curl and the usual tools.
#
# usage: build-host-image.sh IMAGE [MIRROR]
set -eu

image=${1:?usage: build-host-image.sh IMAGE [MIRROR]}
mirror=${2:-http://deb.debian.org/debian}
suite=bookworm
packages=openssh-server,zookeeper,systemd,systemd-sysv,dbus,procps,iproute2,curl,ca-certificates,netbase

command -v debootstrap >/dev/null 2>&1 || { echo "debootstrap is not installed (scripts/deps.sh installs it)" >&2; exit 1; }
command -v docker >/dev/null 2>&1 || { echo "docker is not installed" >&2; exit 1; }

root=$(mktemp -d /var/tmp/mezzo-host-root.XXXXXX)
trap 'rm -rf "$root"' EXIT
debootstrap --variant=minbase --include="$packages" "$suite" "$root" "$mirror" >"$root.log" 2>&1 || {
	tail -n 30 "$root.log" >&2
	rm -f "$root.log"
	exit 1
}
rm -f "$root.log"
# Slim the root: no package lists, caches or documentation.
rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/* \
	"$root"/usr/share/doc/* "$root"/usr/share/man/* "$root"/usr/share/locale/*
# sshd's host keys are made when a container starts (a copy of the image
# must not share them); its privilege-separation directory must exist.
rm -f "$root"/etc/ssh/ssh_host_*
mkdir -p "$root"/run/sshd "$root"/root/.ssh
chmod 700 "$root"/root/.ssh
tar -C "$root" -c . | docker import - "$image" >/dev/null
echo "$image"
