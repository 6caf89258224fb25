#!/bin/sh
# Installs the system packages Mezzo's build and tests need, when missing.
# Debian/Ubuntu (apt-get) only; run as root or with sudo available.
set -eu

need=""
command -v protoc >/dev/null 2>&1 || need="$need protobuf-compiler"
# The agent's tests run a Python executor written for Mesos, and the
# fetcher extracts .tar.xz and .tar.bz2 archives with the system tools.
command -v python3 >/dev/null 2>&1 || need="$need python3"
command -v xz >/dev/null 2>&1 || need="$need xz-utils"
command -v bzip2 >/dev/null 2>&1 || need="$need bzip2"
# The disk/xfs isolator's tests make a small XFS file system.
command -v mkfs.xfs >/dev/null 2>&1 || need="$need xfsprogs"
# The detector's tests run a real ZooKeeper ensemble (internal/zktest):
# Debian's server jar, which brings a Java runtime with it.
{ [ -f /usr/share/java/zookeeper.jar ] && command -v java >/dev/null 2>&1; } || need="$need zookeeper"
# The web UI's tests (e2e/webui_test.go) drive Debian's headless chromium.
command -v chromium >/dev/null 2>&1 || need="$need chromium"
# The deployment test (deploy/test) builds its hosts' Debian root with
# debootstrap (once; the image is cached in Docker).
command -v debootstrap >/dev/null 2>&1 || need="$need debootstrap"
# ... and drives them over ssh, as the cluster scripts do.
command -v ssh >/dev/null 2>&1 || need="$need openssh-client"
command -v curl >/dev/null 2>&1 || need="$need curl"
# The service framework's end-to-end tests deploy Redis (redis-server,
# and redis-cli from redis-tools, which it brings) as a master and replicas.
{ command -v redis-server >/dev/null 2>&1 && command -v redis-cli >/dev/null 2>&1; } || need="$need redis-server"

if [ -z "$need" ]; then
	exit 0
fi

SUDO=""
if [ "$(id -u)" != 0 ]; then
	SUDO="sudo"
fi
echo "installing:$need"
$SUDO apt-get update -qq
# shellcheck disable=SC2086
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq $need >/dev/null
