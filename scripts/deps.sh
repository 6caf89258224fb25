#!/bin/sh
# Installs the system packages Mezzo's build and tests need, when missing.
# Debian/Ubuntu (apt-get) only; run as root or with sudo available.
set -eu

need=""
command -v protoc >/dev/null 2>&1 || need="$need protobuf-compiler"

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
