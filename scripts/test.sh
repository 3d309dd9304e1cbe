#!/usr/bin/env bash
# The whole test suite, as CI runs it: install what is missing, type-check, build, prepare the
# test hosts' images, then every test file under test/ (unit, golden, CLI, the real OpenClaw as
# oracle, the proxies, the end-to-end hosts), two at a time, longest first, each file's duration
# printed and the whole kept inside its budget (scripts/run-tests.ts). Tests that need a real part
# fail, never skip, when it does not start.
set -euo pipefail
cd "$(dirname "$0")/.."

# Dependencies: install once, again only when the lock file changes.
if [ ! -f node_modules/.clawops-lock ] || ! cmp -s package-lock.json node_modules/.clawops-lock; then
  npm ci --no-audit --no-fund --loglevel=error
  cp package-lock.json node_modules/.clawops-lock
fi
bash scripts/tools.sh

# Debian's cmark-gfm and Chromium, for the tests that render the pull-request comment as GitHub does;
# faketime, for the end-to-end run from a runner whose clock is slow.
if ! command -v cmark-gfm >/dev/null || ! command -v chromium >/dev/null || ! command -v faketime >/dev/null || ! fc-list -q 'Liberation Sans'; then
  apt-get install -y -o DPkg::Lock::Timeout=300 --no-install-recommends cmark-gfm chromium fonts-liberation faketime \
    || { apt-get update && apt-get install -y -o DPkg::Lock::Timeout=300 --no-install-recommends cmark-gfm chromium fonts-liberation faketime; }
fi

echo "== type-check"
npx tsc -p tsconfig.json --noEmit
echo "== build"
npm run build --silent >/dev/null
# The hosts' images are built here, once, outside any test's time limit: a cold build of the base
# takes minutes, more on a loaded machine, and is no test's business.
echo "== test hosts"
npx tsx test/e2e/prepare.ts
npx tsx scripts/run-tests.ts
