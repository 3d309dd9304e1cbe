#!/usr/bin/env bash
# The whole test suite, as CI runs it: install what is missing, type-check, build, then every test
# under test/ (unit, golden, CLI, the real OpenClaw as oracle, the proxies). Tests that need a real
# part fail, never skip, when it does not start.
set -euo pipefail
cd "$(dirname "$0")/.."

# Dependencies: install once, again only when the lock file changes.
if [ ! -f node_modules/.clawops-lock ] || ! cmp -s package-lock.json node_modules/.clawops-lock; then
  npm ci --no-audit --no-fund --loglevel=error
  cp package-lock.json node_modules/.clawops-lock
fi
bash scripts/tools.sh

# Debian's cmark-gfm and Chromium, for the tests that render the pull-request comment as GitHub does.
if ! command -v cmark-gfm >/dev/null || ! command -v chromium >/dev/null || ! fc-list -q 'Liberation Sans'; then
  apt-get install -y -o DPkg::Lock::Timeout=300 --no-install-recommends cmark-gfm chromium fonts-liberation \
    || { apt-get update && apt-get install -y -o DPkg::Lock::Timeout=300 --no-install-recommends cmark-gfm chromium fonts-liberation; }
fi

echo "== type-check"
npx tsc -p tsconfig.json --noEmit
echo "== build"
npm run build --silent >/dev/null
echo "== tests"
mapfile -t files < <(find test -name '*.test.ts' | sort)
node --import tsx --test --test-concurrency=2 --test-reporter=spec "${files[@]}"
