#!/usr/bin/env bash
# Internal to up.sh: run as `unshare --mount --propagation private _boot.sh STATE_DIR`, in the
# background, already inside the host's own cgroups, with the host's settings in
# STATE_DIR/boot.env. Mounts the host's overlay, puts the per-host files into it and then becomes
# (exec) systemd-nspawn, so its PID is the one down.sh signals.
#
# Why a private mount namespace: the overlay mount then exists only for this process and the
# container, and the kernel drops it when the last of them exits, however they exit (SIGKILL
# included). No mount can leak onto the runner, and down.sh has nothing to unmount in the normal
# case.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=lib.sh
. "$here/lib.sh"

state="$1"
# shellcheck source=/dev/null
. "$state/boot.env"   # TH_NAME TH_ROOTFS TH_LAYERS TH_NET_MODE TH_NETNS TH_SSH_PORT

merged="$state/merged"
# The image's own layers (if any) over the base, topmost first, as overlayfs lists lower layers.
mount -t overlay "th-$TH_NAME" \
  -o "lowerdir=${TH_LAYERS:+$TH_LAYERS:}$TH_ROOTFS,upperdir=$state/upper,workdir=$state/work" "$merged"

# This host's own identity, written through the overlay so it lands in the upper dir only.
install -m 0600 "$state/keys/ssh_host_ed25519_key" "$merged/etc/ssh/ssh_host_ed25519_key"
install -m 0644 "$state/keys/ssh_host_ed25519_key.pub" "$merged/etc/ssh/ssh_host_ed25519_key.pub"
uid="$(awk -F: '$1 == "ubuntu" {print $3}' "$merged/etc/passwd")"
gid="$(awk -F: '$1 == "ubuntu" {print $4}' "$merged/etc/passwd")"
install -m 0600 -o "$uid" -g "$gid" "$state/keys/client_ed25519.pub" \
  "$merged/home/ubuntu/.ssh/authorized_keys"
# A fresh machine-id per host: the base has an empty one, and two hosts must never share one. A
# host booted again (up.sh --again) keeps its own, as a machine does across a power cut.
if [ ! -s "$state/upper/etc/machine-id" ]; then
  od -An -N16 -tx1 /dev/urandom | tr -d ' \n' >"$merged/etc/machine-id"
  echo >>"$merged/etc/machine-id"
fi
echo "$TH_NAME" >"$merged/etc/hostname"

nspawn_net=()
if [ "$TH_NET_MODE" = netns ]; then
  nspawn_net=(--network-namespace-path="/run/netns/$TH_NETNS" --resolv-conf=off)
else
  # Shared network: sshd must not take the runner's port 22 nor listen beyond loopback.
  printf 'Port %s\nListenAddress 127.0.0.1\n' "$TH_SSH_PORT" \
    >"$merged/etc/ssh/sshd_config.d/20-clawops-testhost-port.conf"
  nspawn_net=(--resolv-conf=copy-host)
fi

echo $$ >"$state/nspawn.pid"
# --register=no --keep-unit: there is no systemd-machined or D-Bus on the runner to ask.
# --console=read-only: the container's console goes to our stdout (console.log), no input.
# --link-journal=no: never touch the runner's /var/log/journal.
# --machine=NAME must stay followed by more arguments: is_host_nspawn matches "--machine=NAME ".
exec systemd-nspawn --quiet --register=no --keep-unit --boot \
  --directory="$merged" --machine="$TH_NAME" \
  --console=read-only --link-journal=no --timezone=off \
  "${nspawn_net[@]}"
