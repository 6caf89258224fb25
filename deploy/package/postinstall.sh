#!/bin/sh
# After installing or upgrading: let systemd see the units. They are not
# enabled here: a host is a master, an agent or both, which the operator
# chooses (systemctl enable --now mezzo-master / mezzo-agent).
set -e
if [ -d /run/systemd/system ]; then
	systemctl daemon-reload >/dev/null 2>&1 || true
fi
