/**
 * The bridge's settings, read from the function's environment (settings.ts, loaded as it is): the
 * waits in seconds within their bounds, the next token of a rotation optional, and every setting
 * out of bounds named, with what it expects.
 */
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { join } from 'node:path';
import { test } from 'node:test';
import { pathToFileURL } from 'node:url';
import { BRIDGE_DIR } from '../support/bridge-process.js';

type Result = { ok: true; settings: Record<string, unknown> } | { ok: false; problems: string[] };
const { readSettings } = (await import(pathToFileURL(join(BRIDGE_DIR, 'settings.ts')).href)) as { readSettings(get: (n: string) => string | undefined): Result };

const base: Record<string, string> = {
  OPENCLAW_GATEWAY_URL: 'wss://gateway.example.com',
  OPENCLAW_GATEWAY_TOKEN: 'settings-test-token',
  OPENCLAW_BRIDGE_DEVICE_KEY: generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
  SUPABASE_URL: 'https://project.supabase.co',
  SUPABASE_ANON_KEY: 'anon',
};
const read = (extra: Record<string, string> = {}) => readSettings((n) => ({ ...base, ...extra })[n]);

test('unset, the waits are their defaults and there is no next token', () => {
  const r = read();
  assert.ok(r.ok, JSON.stringify(r));
  assert.equal(r.settings.timeoutMs, 140_000);
  assert.equal(r.settings.restartWaitMs, 60_000);
  assert.equal(r.settings.gatewayTokenNext, undefined);
});

test('set within bounds, they are taken: a restart wait of 0 asks a refusing gateway once', () => {
  const r = read({ OPENCLAW_BRIDGE_TIMEOUT_SECONDS: '145', OPENCLAW_BRIDGE_RESTART_WAIT_SECONDS: '0', OPENCLAW_GATEWAY_TOKEN_NEXT: ' next-token ' });
  assert.ok(r.ok, JSON.stringify(r));
  assert.deepEqual([r.settings.timeoutMs, r.settings.restartWaitMs, r.settings.gatewayTokenNext], [145_000, 0, 'next-token']);
});

test('out of bounds or not a number, each is named with its bounds', () => {
  const r = read({ OPENCLAW_BRIDGE_TIMEOUT_SECONDS: '0', OPENCLAW_BRIDGE_RESTART_WAIT_SECONDS: 'soon' });
  assert.equal(r.ok, false);
  assert.deepEqual(!r.ok && r.problems, [
    'OPENCLAW_BRIDGE_TIMEOUT_SECONDS: expected a number of seconds from 1 to 145',
    'OPENCLAW_BRIDGE_RESTART_WAIT_SECONDS: expected a number of seconds from 0 to 145',
  ]);
});
