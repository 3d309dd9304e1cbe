#!/usr/bin/env bash
# Stops a test host started by up.sh and removes every trace of it: the container (SIGTERM to
# its systemd-nspawn = clean poweroff; SIGKILL to the whole cgroup if that takes too long), any
# mount left under its state dir, its network namespace and veth, its cgroups, its state dir.
# Idempotent: safe on a host that is half up, already down, or never existed.
#
# Usage: down.sh NAME        stop one host
#        down.sh --all       stop every host under the state root (CI cleanup)
# Env:   CLAWOPS_TESTHOST_STATE (as for up.sh), CLAWOPS_TESTHOST_STOP_TIMEOUT (default 20 s)
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=lib.sh
. "$here/lib.sh"
require_root

stop_timeout="${CLAWOPS_TESTHOST_STOP_TIMEOUT:-20}"

if [ "${1:-}" = --all ]; then
  rc=0
  if [ -d "$TESTHOST_STATE_ROOT" ]; then
    for d in "$TESTHOST_STATE_ROOT"/*/; do
      [ -d "$d" ] || continue
      bash "$0" "$(basename "$d")" || rc=1
    done
  fi
  exit "$rc"
fi

name="${1:-}"
[ -n "$name" ] || die "usage: down.sh NAME | --all"
validate_name "$name"
state="$TESTHOST_STATE_ROOT/$name"

pid="$(cat "$state/nspawn.pid" 2>/dev/null || true)"
if is_host_nspawn "$pid" "$name"; then
  # nspawn turns SIGTERM into an orderly poweroff of the container (SIGRTMIN+3 to its systemd),
  # so units stop cleanly and nspawn exits when the container is gone.
  log "stopping '$name' (nspawn pid $pid)"
  kill -TERM "$pid" 2>/dev/null || true
  deadline=$(($(date +%s) + stop_timeout))
  while kill -0 "$pid" 2>/dev/null && [ "$(date +%s)" -lt "$deadline" ]; do sleep 0.1; done
  if kill -0 "$pid" 2>/dev/null; then
    log "'$name' did not stop within ${stop_timeout}s; killing it"
    kill -KILL "$pid" 2>/dev/null || true
  fi
fi

# Whatever is still in the host's cgroups is a leftover: a container whose nspawn was SIGKILLed
# keeps running on its own (its init is re-parented), so kill the whole cgroup tree, by
# cgroup.kill where the kernel has it and by PID otherwise, and wait until it is empty.
kill_host "$name"
for d in $(cgroup_dirs "$name"); do
  [ -d "$d" ] || continue
  # Remove bottom-up: a cgroup directory can only go once it has no children.
  find "$d" -depth -type d -exec rmdir {} + 2>/dev/null || true
  if [ -d "$d" ]; then log "warning: could not remove cgroup $d"; fi
  # The shared parent too, once the last host is gone (fails harmlessly while others run).
  rmdir "$(dirname "$d")" 2>/dev/null || true
done

# The overlay lives in nspawn's private mount namespace and vanished with it; this only catches
# mounts made on the runner by hand or by an older layout, deepest first.
if [ -n "$state" ] && [ -d "$state" ]; then
  awk -v p="$state/" 'index($2, p) == 1 {print $2}' /proc/self/mounts | sort -r | while read -r m; do
    umount "$m" 2>/dev/null || umount -l "$m" || true
  done
fi

# From here on the shared allocations (network index, state dir) change: hold up.sh's lock.
# Not earlier, so that stopping several hosts at once proceeds in parallel.
mkdir -p "$TESTHOST_STATE_ROOT"
exec 8>"$TESTHOST_STATE_ROOT/.lock"
flock 8

# Network: delete the veth first (that removes both ends, synchronously), then the namespace.
# Deleting only the namespace would leave the runner's end to the kernel's asynchronous netns
# cleanup, which can lag by seconds on a busy machine: down.sh must return with it gone.
idx="$(cat "$state/net-index" 2>/dev/null || true)"
netns="clawops-th-$name"
if [ -n "$idx" ]; then
  for _ in $(seq 1 50); do
    ip link show "cth$idx" >/dev/null 2>&1 || break
    ip link delete "cth$idx" 2>/dev/null || true
    sleep 0.1
  done
  if ip link show "cth$idx" >/dev/null 2>&1; then log "warning: could not delete link cth$idx"; fi
fi
if ip netns list 2>/dev/null | grep -q "^$netns\b"; then
  ip netns delete "$netns" || log "warning: could not delete netns $netns"
fi

if [ -d "$state" ]; then
  # Never follow into a mount that survived (rm --one-file-system refuses to cross it).
  rm -rf --one-file-system "$state"
fi
log "'$name' is down"
