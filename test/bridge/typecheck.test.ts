/**
 * The edge function type-checks under the real Deno, with Deno's own libraries (WebCrypto,
 * WebSocket, Deno.serve): the project's tsc sees only the parts clawops imports. On both lines:
 * current Deno, and the older 2.1 that Supabase's hosted runtime runs (its TypeScript differs).
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { DENO_LINES } from '../../scripts/tools.js';
import { BRIDGE_DIR, BRIDGE_ENTRY, denoEnv } from '../support/bridge-process.js';

for (const deno of DENO_LINES) {
  test(`deno check accepts the edge function on ${deno.name}`, async () => {
    assert.ok(existsSync(deno.path), `Deno is not installed at ${deno.path}: run \`bash scripts/tools.sh\``);
    const r = await promisify(execFile)(deno.path, ['check', BRIDGE_ENTRY], { env: denoEnv(), cwd: BRIDGE_DIR }).catch(
      (e: { stdout?: string; stderr?: string; code?: number }) => ({ stdout: e.stdout ?? '', stderr: `${e.stderr ?? ''}\nexit ${e.code}` }),
    );
    assert.doesNotMatch(r.stderr, /error|exit \d/i, r.stderr);
  });
}
