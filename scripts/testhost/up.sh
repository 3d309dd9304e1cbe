#!/usr/bin/env bash
# Boots one throwaway Debian bookworm test host (systemd as PID 1, sshd) with systemd-nspawn and
# waits until `ssh ubuntu@host` with the host's generated client key works.
#
# Usage: up.sh NAME
#        up.sh --again NAME   boots a host that crash.sh stopped, on the disk it had (a power cut's
#                             restart: same keys, network, machine-id and files)
# Env:   CLAWOPS_TESTHOST_STATE   state root (default /run/clawops-testhost); the host lives in
#                                 STATE_ROOT/NAME: overlay upper/work, keys, console.log, host.json
#        CLAWOPS_TESTHOST_CACHE   base rootfs cache dir (see build-rootfs.sh)
#        CLAWOPS_TESTHOST_NET     netns (default): own network namespace, host at 10.213.<i>.2:22
#                                 host: share the runner's network, sshd on 127.0.0.1:<free port>
#        CLAWOPS_TESTHOST_LAYERS  extra read-only layers over the base rootfs, colon-separated,
#                                 topmost first (a prepared image: e.g. the runtime preinstalled)
#        CLAWOPS_TESTHOST_BOOT_TIMEOUT  seconds to wait for ssh (default 300: a ceiling for a
#                                 machine under load; a boot that fails ends the wait at once)
# Prints the path of host.json on stdout and nothing else; logs go to stderr.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=lib.sh
. "$here/lib.sh"
require_root

again=""
if [ "${1:-}" = --again ]; then again=1; shift; fi
name="${1:-}"
[ -n "$name" ] || die "usage: up.sh [--again] NAME"
validate_name "$name"
net_mode="${CLAWOPS_TESTHOST_NET:-netns}"
case "$net_mode" in netns | host) ;; *) die "CLAWOPS_TESTHOST_NET must be netns or host" ;; esac
timeout_s="${CLAWOPS_TESTHOST_BOOT_TIMEOUT:-300}"
state="$TESTHOST_STATE_ROOT/$name"
# The overlay mount options are comma/colon separated; such paths would silently misparse.
case "$state$TESTHOST_CACHE_DIR" in *[,:\ ]*) die "state/cache paths must not contain , : or spaces" ;; esac
layers="${CLAWOPS_TESTHOST_LAYERS:-}"
case "$layers" in *[,\ ]* | :* | *: | *::*) die "CLAWOPS_TESTHOST_LAYERS: folders separated by single colons, without , or spaces" ;; esac
IFS=: read -r -a layer_dirs <<<"$layers"
for d in "${layer_dirs[@]}"; do [ -d "$d" ] || die "CLAWOPS_TESTHOST_LAYERS: no folder $d"; done

t_start=$(date +%s%N)
# Base rootfs (instant when cached). It prints its path on stdout.
rootfs="$(bash "$here/build-rootfs.sh" "$TESTHOST_CACHE_DIR")"

mkdir -p "$TESTHOST_STATE_ROOT"
# One lock for all up/down on this runner: allocation of network indexes and ports, and the
# check-then-create of the state dir, must not interleave between concurrent callers.
exec 8>"$TESTHOST_STATE_ROOT/.lock"
flock 8

if [ -n "$again" ]; then
  [ -f "$state/boot.env" ] || die "no host '$name' to boot again (no $state/boot.env)"
  if is_host_nspawn "$(cat "$state/nspawn.pid" 2>/dev/null || true)" "$name"; then
    die "host '$name' is running; crash.sh $name first"
  fi
  # shellcheck source=/dev/null
  . "$state/boot.env"
  net_mode=$TH_NET_MODE
  netns=$TH_NETNS
  ssh_port=$TH_SSH_PORT
  ssh_host="$(awk '$1 == "HostName" {print $2}' "$state/ssh_config")"
  [ -z "$ssh_port" ] && ssh_port=22
  known_hosts_line="$(cat "$state/known_hosts")"
  fingerprint="$(ssh-keygen -l -E sha256 -f "$state/keys/ssh_host_ed25519_key.pub" | awk '{print $2}')"
elif [ -e "$state" ]; then
  if is_host_nspawn "$(cat "$state/nspawn.pid" 2>/dev/null || true)" "$name"; then
    die "host '$name' is already running (state $state); run down.sh $name first"
  fi
  # Left over from a crashed run: clear it, including its netns and cgroups, then start afresh.
  log "removing stale state of '$name'"
  flock -u 8
  bash "$here/down.sh" "$name" >&2
  flock 8
fi

cleanup_on_fail() {
  local rc=$?
  if [ "$rc" -ne 0 ]; then
    log "up.sh failed (exit $rc); tearing '$name' down"
    # Stop a boot in progress first, so that down.sh never races a process still setting up.
    if [ -n "${boot_pid:-}" ]; then kill -KILL "$boot_pid" 2>/dev/null || true; fi
    # down.sh takes the same lock; release ours first so it cannot deadlock.
    flock -u 8 2>/dev/null || true
    bash "$here/down.sh" "$name" >&2 || true
  fi
}
trap cleanup_on_fail EXIT

if [ -z "$again" ]; then
mkdir -p "$state"/{upper,work,merged,keys}
chmod 0700 "$state" "$state/keys"


# Keys made now, per host, never stored anywhere but the state dir: the host's identity (which
# host.json publishes as a known_hosts line) and the client key the tests log in with.
ssh-keygen -q -t ed25519 -N '' -C "clawops-testhost-$name-host" -f "$state/keys/ssh_host_ed25519_key"
ssh-keygen -q -t ed25519 -N '' -C "clawops-testhost-$name-client" -f "$state/keys/client_ed25519"

netns=""
if [ "$net_mode" = netns ]; then
  # Own network namespace per host, joined to the runner by a veth pair: every host can bind the
  # same fixed service ports (18789-18792, 22...) and two hosts never see each other's services.
  # Index i gives 10.213.i.1 (runner side, link cth<i>) and 10.213.i.2 (the host's eth0).
  idx=""
  for i in $(seq 1 250); do
    grep -qsx "$i" "$TESTHOST_STATE_ROOT"/*/net-index && continue
    ip link show "cth$i" >/dev/null 2>&1 && continue
    ip -4 route show | grep -q "^$TESTHOST_NET_PREFIX\.$i\." && continue
    ip -4 -o addr show | grep -q " $TESTHOST_NET_PREFIX\.$i\." && continue
    idx=$i
    break
  done
  [ -n "$idx" ] || die "no free network index in $TESTHOST_NET_PREFIX.1-250.0/24"
  echo "$idx" >"$state/net-index"
  netns="clawops-th-$name"
  ssh_host="$TESTHOST_NET_PREFIX.$idx.2"
  ssh_port=22
  ip netns add "$netns"
  ip link add "cth$idx" type veth peer name eth0 netns "$netns"
  ip addr add "$TESTHOST_NET_PREFIX.$idx.1/24" dev "cth$idx"
  ip link set "cth$idx" up
  ip -n "$netns" addr add "$ssh_host/24" dev eth0
  ip -n "$netns" link set eth0 up
  ip -n "$netns" link set lo up
  # Deliberately no default route: nothing but the runner is reachable from a host, and a
  # connection anywhere else fails at once (ENETUNREACH) instead of hanging.
else
  ssh_host=127.0.0.1
  ssh_port=""
  # A loopback port free now and not handed to another host in shared mode.
  for _ in $(seq 1 200); do
    p=$((20000 + RANDOM % 10000))
    grep -qsx "$p" "$TESTHOST_STATE_ROOT"/*/ssh-port && continue
    ss -Htln "sport = :$p" | grep -q . && continue
    ssh_port=$p
    break
  done
  [ -n "$ssh_port" ] || die "no free loopback port for sshd"
  echo "$ssh_port" >"$state/ssh-port"
fi

cat >"$state/boot.env" <<EOF
TH_NAME=$name
TH_ROOTFS=$rootfs
TH_LAYERS=$layers
TH_NET_MODE=$net_mode
TH_NETNS=$netns
TH_SSH_PORT=$ssh_port
EOF

# known_hosts entry for exactly the key this host was given; ssh uses [host]:port for non-22.
if [ "$ssh_port" = 22 ]; then kh_host="$ssh_host"; else kh_host="[$ssh_host]:$ssh_port"; fi
known_hosts_line="$kh_host $(cut -d' ' -f1,2 "$state/keys/ssh_host_ed25519_key.pub")"
echo "$known_hosts_line" >"$state/known_hosts"
fingerprint="$(ssh-keygen -l -E sha256 -f "$state/keys/ssh_host_ed25519_key.pub" | awk '{print $2}')"
# An ssh_config for humans and scripts: `ssh -F STATE/ssh_config NAME cmd`.
cat >"$state/ssh_config" <<EOF
Host $name
  HostName $ssh_host
  Port $ssh_port
  User ubuntu
  IdentityFile $state/keys/client_ed25519
  IdentitiesOnly yes
  UserKnownHostsFile $state/known_hosts
  StrictHostKeyChecking yes
  BatchMode yes
  ConnectTimeout 5
  LogLevel ERROR
EOF

fi

log "booting '$name' ($net_mode network, ssh $ssh_host:$ssh_port)"
t_boot=$(date +%s%N)
# setsid: the host outlives up.sh and is not hit by signals aimed at the caller's process group
# (a test runner's Ctrl-C); it ends only via down.sh. stdin from /dev/null: no console input.
# The boot process enters the host's own cgroups (see cgroup_dirs) before it does anything else,
# so that it and everything it starts is always inside them: down.sh can then find and kill all
# of it by cgroup, even a boot still half way (up.sh failing early, a stale host).
for d in $(cgroup_dirs "$name"); do mkdir -p "$d"; done
(
  for d in $(cgroup_dirs "$name"); do echo "$BASHPID" >"$d/cgroup.procs"; done
  exec setsid unshare --mount --propagation private bash "$here/_boot.sh" "$state"
) </dev/null >"$state/console.log" 2>&1 8>&- &
boot_pid=$!
disown "$boot_pid" # not our job to wait for; and no "Killed" notice if a failed boot is killed
flock -u 8   # allocations are recorded; concurrent up/down may proceed while this one boots

console_tail() {
  # Strip the colour codes systemd writes to its console.
  tail -n 40 "$state/console.log" 2>/dev/null | sed 's/\x1b\[[0-9;]*m//g' >&2 || true
}

# The boot process keeps its PID through every exec (subshell, setsid -- which forks only for a
# process group leader, and a fresh child never is one --, unshare, _boot.sh, systemd-nspawn).
pid="$boot_pid"
deadline=$(($(date +%s) + timeout_s))
while :; do
  if ! kill -0 "$pid" 2>/dev/null; then
    log "systemd-nspawn for '$name' exited during boot; console log tail:"
    console_tail
    die "host '$name' did not come up"
  fi
  if [ -f "$state/nspawn.pid" ] && ssh -F "$state/ssh_config" -o ConnectTimeout=2 "$name" true 2>/dev/null; then
    break
  fi
  if [ "$(date +%s)" -ge "$deadline" ]; then
    log "no ssh login to '$name' within ${timeout_s}s; console log tail:"
    console_tail
    die "host '$name' did not come up within ${timeout_s}s"
  fi
  sleep 0.2
done
t_ready=$(date +%s%N)

{
  echo "{"
  echo "  \"name\": $(json_str "$name"),"
  echo "  \"host\": $(json_str "$ssh_host"),"
  echo "  \"port\": $ssh_port,"
  echo "  \"user\": \"ubuntu\","
  echo "  \"privateKeyPath\": $(json_str "$state/keys/client_ed25519"),"
  echo "  \"knownHostsLine\": $(json_str "$known_hosts_line"),"
  echo "  \"knownHostsPath\": $(json_str "$state/known_hosts"),"
  echo "  \"hostKeyFingerprint\": $(json_str "$fingerprint"),"
  echo "  \"sshConfigPath\": $(json_str "$state/ssh_config"),"
  echo "  \"pid\": $pid,"
  echo "  \"stateDir\": $(json_str "$state"),"
  echo "  \"consoleLog\": $(json_str "$state/console.log"),"
  echo "  \"network\": $(json_str "$net_mode"),"
  echo "  \"netns\": $(json_str "$netns"),"
  echo "  \"bootMs\": $(((t_ready - t_boot) / 1000000)),"
  echo "  \"upMs\": $(((t_ready - t_start) / 1000000))"
  echo "}"
} >"$state/host.json.tmp"
mv "$state/host.json.tmp" "$state/host.json"
trap - EXIT
log "'$name' is up: ssh -F $state/ssh_config $name  (boot to ssh $(((t_ready - t_boot) / 1000000)) ms)"
echo "$state/host.json"
