#!/usr/bin/env bash
# Keeps every core of this machine busy, so that the test suite can be run as a loaded CI machine
# would run it:  bash scripts/load.sh -- npm test
#
# Usage: load.sh [--hogs N] [--seconds S] [-- COMMAND...]
#   --hogs N      CPU hogs to start (default: one per core, from nproc)
#   --seconds S   stop them after S seconds (default 5400, CI's limit), whatever happens
#   -- COMMAND    run COMMAND under the load, stop the hogs when it ends, exit with its status;
#                 without a command, load.sh holds the load until the time is up or it is stopped
# The hogs run at the tests' own priority (no nice): the point is that the suite gets about half
# the machine it would have alone. They touch nothing but the CPU and stop by themselves.
set -euo pipefail
hogs="$(nproc)"
seconds=5400
while [ $# -gt 0 ]; do
  case "$1" in
    --hogs) hogs="$2"; shift 2 ;;
    --seconds) seconds="$2"; shift 2 ;;
    --) shift; break ;;
    *) echo "load.sh: unknown argument '$1' (usage: load.sh [--hogs N] [--seconds S] [-- COMMAND...])" >&2; exit 64 ;;
  esac
done

pids=()
stop() {
  if [ "${#pids[@]}" -gt 0 ]; then kill "${pids[@]}" 2>/dev/null || true; fi
}
trap stop EXIT
trap 'exit 130' INT TERM
for _ in $(seq 1 "$hogs"); do
  timeout "$seconds" bash -c 'while :; do :; done' &
  pids+=("$!")
done
echo "load.sh: $hogs CPU hogs for at most ${seconds} s (pids ${pids[*]})" >&2

if [ $# -gt 0 ]; then
  set +e
  "$@"
  rc=$?
  set -e
  exit "$rc"
fi
wait
