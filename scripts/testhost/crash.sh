#!/usr/bin/env bash
# Cuts a test host's power: SIGKILL to every process of the container at once (its systemd, its
# services, nspawn), with no shutdown of any kind. What the host had written stays in its overlay
# (the state dir's upper layer), as a disk keeps it; `up.sh --again NAME` boots it again.
#
# The runner's page cache outlives the container, so this shows what a host finds after a power
# cut when its writes reached the disk; whether they do rests on fsync and rename, not on this.
#
# Usage: crash.sh NAME
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=lib.sh
. "$here/lib.sh"
require_root

name="${1:-}"
[ -n "$name" ] || die "usage: crash.sh NAME"
validate_name "$name"
state="$TESTHOST_STATE_ROOT/$name"
[ -d "$state" ] || die "no host '$name' (no state at $state)"

kill_host "$name"
rm -f "$state/nspawn.pid" "$state/host.json"
log "'$name' lost its power; its disk is kept: up.sh --again $name boots it"
