# shellcheck shell=bash disable=SC2034
# Shared defaults and helpers for the testhost scripts (sourced, not run).
# Everything here is plain bash so that build-rootfs.sh, up.sh, down.sh and selftest.sh agree on
# where the base rootfs and the per-host state live without repeating the paths.

# Base rootfs cache: built once by build-rootfs.sh, shared read-only (as overlay lowerdir) by all hosts.
TESTHOST_CACHE_DIR="${CLAWOPS_TESTHOST_CACHE:-/var/cache/clawops-testhost/rootfs-bookworm}"
# Per-host state (overlay upper/work dirs, keys, logs, host.json). Under /run because it is
# tmpfs-backed on most machines and is meant to vanish on reboot, like the hosts themselves.
TESTHOST_STATE_ROOT="${CLAWOPS_TESTHOST_STATE:-/run/clawops-testhost}"
# cgroup parent under which each host gets its own cgroup (see up.sh for why).
TESTHOST_CGROUP_PARENT="clawops-testhost"
# Private /24s for the per-host veth links: 10.213.<index>.1 is the runner's end, .2 the host's.
# 10.213.0.0/16 is an arbitrary private block; up.sh refuses to use an index whose /24 already
# appears in the runner's routing table, so it cannot shadow a real network.
TESTHOST_NET_PREFIX="10.213"

log() { printf '[testhost] %s\n' "$*" >&2; }
die() { printf '[testhost] ERROR: %s\n' "$*" >&2; exit 1; }

# Host names become machine names, netns names, hostnames, cgroup and directory names: keep them
# to a safe, short alphabet so none of those uses needs quoting or can escape the state root.
validate_name() {
  local name="$1"
  [[ "$name" =~ ^[a-z0-9][a-z0-9-]{0,30}$ ]] \
    || die "bad host name '$name': use 1-31 chars of [a-z0-9-], starting with a letter or digit"
}

require_root() {
  [ "$(id -u)" = 0 ] || die "must run as root (needs mounts, namespaces and cgroups)"
}

# The cgroup directories a host's nspawn runs in, one per hierarchy that matters, printed one a
# line. Without --register/--keep-unit's usual helper (systemd-machined on the host) nspawn just
# uses the cgroup it was started in; two hosts started from the same shell would then share one
# cgroup and each container's systemd would see (and, on shutdown, kill) the other's services.
# So every host gets its own cgroup in:
#  - pure cgroup v2:   /sys/fs/cgroup/<parent>/NAME
#  - hybrid (v1 + v2): the name=systemd v1 hierarchy, which systemd uses for process tracking,
#                      and the v2 "unified" one, which it uses for BPF and cgroup.kill
#  - legacy v1 only:   the name=systemd hierarchy
cgroup_dirs() {
  local name="$1"
  if [ "$(stat -f -c %T /sys/fs/cgroup)" = cgroup2fs ]; then
    echo "/sys/fs/cgroup/$TESTHOST_CGROUP_PARENT/$name"
    return
  fi
  if [ -d /sys/fs/cgroup/systemd ]; then
    echo "/sys/fs/cgroup/systemd/$TESTHOST_CGROUP_PARENT/$name"
  fi
  if [ -d /sys/fs/cgroup/unified ] && [ "$(stat -f -c %T /sys/fs/cgroup/unified)" = cgroup2fs ]; then
    echo "/sys/fs/cgroup/unified/$TESTHOST_CGROUP_PARENT/$name"
  fi
}

# PIDs of every process in a host's cgroups (the nspawn supervisor and the whole container).
cgroup_pids() {
  local d
  for d in $(cgroup_dirs "$1"); do
    if [ -d "$d" ]; then find "$d" -name cgroup.procs -exec cat {} + 2>/dev/null || true; fi
  done | sort -un
}

# Is PID the systemd-nspawn of host NAME? Guards every kill against PID reuse.
is_host_nspawn() {
  local pid="$1" name="$2"
  [ -n "$pid" ] && [ -r "/proc/$pid/cmdline" ] || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q -- "systemd-nspawn .*--machine=$name "
}

# JSON string escaping for the few values host.json holds (paths, names, key text).
json_str() {
  local s="$1"
  s="${s//\\/\\\\}"
  s="${s//\"/\\\"}"
  printf '"%s"' "$s"
}

# SIGKILL to every process in host NAME's cgroups at once (by cgroup.kill where the kernel has it,
# by PID otherwise), until they are empty; dies if anything survives.
kill_host() {
  local name=$1 pids d
  for _ in $(seq 1 50); do
    pids="$(cgroup_pids "$name")"
    [ -z "$pids" ] && break
    for d in $(cgroup_dirs "$name"); do
      if [ -w "$d/cgroup.kill" ]; then echo 1 >"$d/cgroup.kill" 2>/dev/null || true; fi
    done
    # shellcheck disable=SC2086
    kill -KILL $pids 2>/dev/null || true
    sleep 0.1
  done
  [ -z "$(cgroup_pids "$name")" ] || die "processes of '$name' survive SIGKILL: $(cgroup_pids "$name" | tr '\n' ' ')"
}
