#!/bin/sh
# Before removal (not before an upgrade): stop the daemons. The agent unit
# stops the agent process only; its tasks are left to the operator.
set -e
if [ "${1:-remove}" = remove ] && [ -d /run/systemd/system ]; then
	systemctl stop mezzo-agent.service mezzo-master.service >/dev/null 2>&1 || true
fi
