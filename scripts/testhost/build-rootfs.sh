#!/usr/bin/env bash
# Builds, once, the Debian bookworm base root file system that every test host boots from
# (read-only, as the lower layer of a per-host overlay; see up.sh).
#
# Usage: build-rootfs.sh [CACHE_DIR]     (default /var/cache/clawops-testhost/rootfs-bookworm,
#                                          or $CLAWOPS_TESTHOST_CACHE)
# Layout: CACHE_DIR/rootfs  the tree;  CACHE_DIR/stamp  written last, holds the hash of this
# script, so a rerun is instant while the script is unchanged and rebuilds when it changes.
# Prints the rootfs path on stdout; logs go to stderr.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=lib.sh
. "$here/lib.sh"
require_root

cache_dir="${1:-$TESTHOST_CACHE_DIR}"
rootfs="$cache_dir/rootfs"
stamp="$cache_dir/stamp"
# The stamp is the hash of this file: editing the package list or the configuration below
# invalidates the cache by itself, with no version number to remember to bump.
want_stamp="$(sha256sum "$here/build-rootfs.sh" | cut -d' ' -f1)"

# Host-side prerequisites of all the testhost scripts, checked on every run (a few `command -v`)
# and installed on demand, so a fresh machine (or CI) needs nothing by hand: mmdebstrap builds
# the tree, systemd-container has systemd-nspawn, iproute2 has `ip netns`/veth and ss,
# openssh-client has ssh/ssh-keygen for up.sh's readiness probe. (flock, mount, unshare, setsid
# come with util-linux and mount, which every Debian has.)
need_pkgs=()
command -v mmdebstrap >/dev/null || need_pkgs+=(mmdebstrap)
command -v systemd-nspawn >/dev/null || need_pkgs+=(systemd-container)
command -v ip >/dev/null || need_pkgs+=(iproute2)
command -v ssh >/dev/null && command -v ssh-keygen >/dev/null || need_pkgs+=(openssh-client)

mkdir -p "$cache_dir"
# Several up.sh may start at once on a cold cache: one installs and builds, the others wait for
# the lock and then find everything done.
exec 9>"$cache_dir/.lock"

if [ "${#need_pkgs[@]}" -gt 0 ]; then
  flock 9
  log "installing host prerequisites: ${need_pkgs[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >&2
  # Wait for, rather than fail on, an apt run of someone else's holding the dpkg lock.
  apt-get install -y -qq --no-install-recommends -o DPkg::Lock::Timeout=300 "${need_pkgs[@]}" >&2
fi

# Old trees replaced by a rebuild, removed once no host can still have one as its lower layer:
# deleting a mounted overlay's lowerdir would pull files from under running hosts.
gc_old_trees() {
  local d live=0
  for d in "$TESTHOST_STATE_ROOT"/*/; do
    [ -d "$d" ] || continue
    if is_host_nspawn "$(cat "$d/nspawn.pid" 2>/dev/null || true)" "$(basename "$d")"; then
      live=1
    fi
  done
  if [ "$live" = 0 ]; then
    rm -rf "$cache_dir"/rootfs.old.*
  fi
}

if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want_stamp" ] && [ -d "$rootfs" ]; then
  if compgen -G "$cache_dir/rootfs.old.*" >/dev/null; then gc_old_trees; fi
  echo "$rootfs"
  exit 0
fi
flock 9
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want_stamp" ] && [ -d "$rootfs" ]; then
  echo "$rootfs"
  exit 0
fi

# What the end-to-end tests need inside a host:
#  systemd systemd-sysv dbus   a real init as PID 1, systemctl, logind's bus
#  libnss-myhostname           the host's own name resolves (sudo warns otherwise)
#  openssh-server sudo         the way in, and root for `sudo systemctl ...`
#  curl ca-certificates        probing services from inside the host
#  iproute2 procps psmisc      ss, ip, ps, pgrep, kill, fuser for tests and debugging
#  libstdc++6                  Node 24's official binary links it dynamically (tests copy it in)
#  netcat-openbsd              quick port probes without Node
#  less xz-utils rsync         unpacking and copying deployment artefacts
#  caddy                       the TLS terminator in front of the gateway, from Debian's archive as
#                              on the production host (its own caddy.service stays as Debian ships it)
pkgs=systemd,systemd-sysv,dbus,libnss-myhostname,openssh-server,openssh-sftp-server,sudo,curl,ca-certificates
pkgs+=,iproute2,procps,psmisc,libstdc++6,netcat-openbsd,less,xz-utils,rsync,caddy

tmp="$cache_dir/rootfs.tmp"
# A build killed half way may have left mmdebstrap's /proc, /sys or /dev mounts in the tree:
# unmount them (deepest first) before deleting, and never let rm cross into a mount.
if [ -d "$tmp" ]; then
  awk -v p="$tmp/" 'index($2, p) == 1 {print $2}' /proc/self/mounts | sort -r | while read -r m; do
    umount "$m" 2>/dev/null || umount -l "$m"
  done
  rm -rf --one-file-system "$tmp"
fi
log "building Debian bookworm rootfs in $tmp (once; takes a minute or two)"
t0=$(date +%s)
# minbase keeps the tree small (~250 MB); security and updates suites so sshd and friends carry
# Debian's current fixes. --mode=root because we are root and want real ownership in the tree.
mmdebstrap --mode=root --variant=minbase --include="$pkgs" \
  --aptopt='Acquire::Retries "3"' \
  bookworm "$tmp" \
  "deb http://deb.debian.org/debian bookworm main" \
  "deb http://deb.debian.org/debian bookworm-updates main" \
  "deb http://deb.debian.org/debian-security bookworm-security main" >&2

log "configuring rootfs"
inroot() { chroot "$tmp" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin "$@"; }

# The login user of a real cloud VM: home, bash, in group sudo. useradd leaves the password
# field as '!' (locked), and OpenSSH refuses even key logins to locked accounts, so set it to
# '*' which means "no password can match" without meaning "locked".
inroot useradd --create-home --home-dir /home/ubuntu --shell /bin/bash --user-group \
  --groups sudo ubuntu
inroot usermod -p '*' ubuntu
install -d -m 0700 -o "$(inroot id -u ubuntu)" -g "$(inroot id -g ubuntu)" "$tmp/home/ubuntu/.ssh"
install -m 0440 /dev/stdin "$tmp/etc/sudoers.d/90-ubuntu" <<'EOF'
# Passwordless sudo, as on a cloud image: the deployment tool runs `sudo systemctl ...`.
ubuntu ALL=(ALL) NOPASSWD:ALL
EOF

# sshd: keys only. The port and listen address stay at 22/any: each host has its own network
# namespace (see up.sh), so there is nothing to collide with.
install -m 0644 /dev/stdin "$tmp/etc/ssh/sshd_config.d/10-clawops-testhost.conf" <<'EOF'
PubkeyAuthentication yes
AuthenticationMethods publickey
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin no
# No DNS in the hosts' private networks: a reverse lookup would only add a timeout per login.
UseDNS no
# Keys for this host are written by up.sh at instance creation (one pair per host).
HostKey /etc/ssh/ssh_host_ed25519_key
EOF
# No host keys baked in: the ones Debian's postinst generated would be shared by every host.
rm -f "$tmp"/etc/ssh/ssh_host_*

# pam_loginuid needs CAP_AUDIT_CONTROL, which a container may not have; "required" would make
# every ssh session fail to open. A missing loginuid is harmless here.
sed -i 's/^session\s\+required\s\+pam_loginuid.so/session optional pam_loginuid.so/' \
  "$tmp/etc/pam.d/sshd"
# pam_motd runs the update-motd scripts and pam_mail checks a mailbox on every login, also for
# non-interactive `ssh host cmd`: ~0.1 s of each of the many short ssh calls the tests make.
sed -i -e 's/^session\s\+optional\s\+pam_motd.so/# &/' \
  -e 's/^session\s\+optional\s\+pam_mail.so/# &/' "$tmp/etc/pam.d/sshd"

# machine-id: empty file = "uninitialised" in systemd's terms. up.sh writes a fresh random id
# into each host's overlay; were it missing, systemd would still make up a transient one at boot,
# but never the same for two hosts, which is what matters (journal, D-Bus, DHCP DUIDs...).
: >"$tmp/etc/machine-id"
rm -f "$tmp/var/lib/dbus/machine-id"
ln -s /etc/machine-id "$tmp/var/lib/dbus/machine-id"

# mmdebstrap copies the build machine's hostname and resolver into the tree; neither belongs in
# a test host. up.sh writes each host's own /etc/hostname (libnss-myhostname resolves it).
echo testhost >"$tmp/etc/hostname"
printf '127.0.0.1\tlocalhost\n::1\t\tlocalhost ip6-localhost ip6-loopback\n' >"$tmp/etc/hosts"
# No DNS by default: a host in its private network namespace has no route out, so lookups fail
# at once instead of timing out. (In CLAWOPS_TESTHOST_NET=host mode, nspawn copies the runner's.)
rm -f "$tmp/etc/resolv.conf"
echo '# clawops testhost: no resolver (private network namespace)' \
  | install -m 0644 /dev/stdin "$tmp/etc/resolv.conf"

# Units that make no sense in a throwaway, offline container and would only take time, touch the
# network or show up as failed: apt's and man-db's periodic jobs, the console getty (no one logs
# in on the console; it is a log file), and the fsck/remount units for a root that has no fstab.
mask() { for u in "$@"; do ln -sf /dev/null "$tmp/etc/systemd/system/$u"; done; }
mask apt-daily.timer apt-daily-upgrade.timer apt-daily.service apt-daily-upgrade.service \
  man-db.timer man-db.service dpkg-db-backup.timer dpkg-db-backup.service \
  console-getty.service getty@.service e2scrub_all.timer e2scrub_reap.service \
  systemd-remount-fs.service
# Journal in memory only: hosts are throwaway, and it spares disk writes on the overlay.
install -d "$tmp/etc/systemd/journald.conf.d"
printf '[Journal]\nStorage=volatile\n' >"$tmp/etc/systemd/journald.conf.d/10-volatile.conf"

# Empty the apt caches: the rootfs is shared read-only and the hosts have no mirror access.
rm -rf "$tmp"/var/cache/apt/*.bin "$tmp"/var/cache/apt/archives/*.deb

# Swap in the new tree by renames, which running hosts' overlays survive; the old tree goes once
# no host is running.
rm -f "$stamp"
if [ -d "$rootfs" ]; then mv "$rootfs" "$cache_dir/rootfs.old.$(date +%s)"; fi
mv "$tmp" "$rootfs"
echo "$want_stamp" >"$stamp"
gc_old_trees
log "rootfs ready in $(( $(date +%s) - t0 )) s: $rootfs ($(du -sh "$rootfs" | cut -f1))"
echo "$rootfs"
