/**
 * The edge function type-checks under the real Deno, with Deno's own libraries (WebCrypto,
 * WebSocket, Deno.serve): the project's tsc sees only the parts clawops imports.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { DENO } from '../../scripts/tools.js';
import { BRIDGE_DIR, denoEnv } from '../support/bridge-process.js';

test('deno check accepts the edge function', async () => {
  assert.ok(existsSync(DENO), `Deno is not installed at ${DENO}: run \`bash scripts/tools.sh\``);
  const r = await promisify(execFile)(DENO, ['check', join(BRIDGE_DIR, 'index.ts')], { env: denoEnv(), cwd: BRIDGE_DIR }).catch(
    (e: { stdout?: string; stderr?: string; code?: number }) => ({ stdout: e.stdout ?? '', stderr: `${e.stderr ?? ''}\nexit ${e.code}` }),
  );
  assert.doesNotMatch(r.stderr, /error|exit \d/i, r.stderr);
});
