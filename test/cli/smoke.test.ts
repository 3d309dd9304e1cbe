import assert from 'node:assert/strict';
import { createPrivateKey } from 'node:crypto';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { freePort } from '../support/live-gateway.js';
import { smokeDeviceKey } from '../../src/cli/smoke-command.js';
import { deviceFromPem } from '../../src/smoke/gateway-client.js';
import { clawops, scratchRepo } from '../support/cli.js';

test('clawops smoke prints each check with its time, and a deployment that is down fails the run', async () => {
  const root = await scratchRepo();
  const port = await freePort(); // nothing listens there, nor (most likely) on the proxies' ports after it
  const run = await clawops(['smoke', '--env', 'local', '--root', root, '--port', String(port)], {
    env: { OPENCLAW_STATE_DIR: await mkdtemp(join(tmpdir(), 'clawops-smoke-')), OPENCLAW_GATEWAY_TOKEN: 'canary-smoke-token-5d1e' },
  });
  assert.equal(run.code, 1);
  assert.match(run.stdout, /^✘ gateway health \(WebSocket\) \(\d+ ms\): cannot reach the gateway/m);
  assert.match(run.stdout, /^- bridge health \(\d+ ms\): skipped: no bridge URL$/m);
  // Every check that needs the gateway fails with it, and each proxy; with no key for any step of
  // the chain (a local deployment before .env is filled in) the fallback cannot be checked at all.
  assert.match(run.stdout, /^✘ heartbeat \(\d+ ms\): cannot reach the gateway/m);
  assert.match(run.stdout, /^- fallback chain falls back \(\d+ ms\): skipped: no provider of the chain has its API key here$/m);
  assert.match(run.stdout, new RegExp(`^✘ proxy gemini /healthz \\(\\d+ ms\\): .*127\\.0\\.0\\.1 port ${port + 1}\\b`, 'm'));
  assert.match(run.stdout, /^Smoke: 5 of \d+ checks failed\.$/m);
  assert.ok(!run.stdout.includes('canary-smoke-token-5d1e') && !run.stderr.includes('canary-smoke-token-5d1e'));
});

test("the smoke's device identity is the same on every run for one gateway token, another for another", () => {
  const a = smokeDeviceKey('canary-gateway-token-a-19c2');
  assert.equal(smokeDeviceKey('canary-gateway-token-a-19c2'), a, 'paired once, it stays paired');
  assert.equal(createPrivateKey(a).asymmetricKeyType, 'ed25519');
  const b = smokeDeviceKey('canary-gateway-token-b-77e0');
  assert.notEqual(deviceFromPem(a).id, deviceFromPem(b).id);
  assert.ok(!a.includes('canary-gateway-token'));
});
