/**
 * The smoke's verdict on the host's deep audit, from the JSON `openclaw security audit --deep
 * --json` prints: a critical finding fails the check by checkId, an accepted warning passes, and
 * nothing a finding says of the config (its detail, its remediation) reaches the line. The gateway
 * here is a closed port: its own checks fail, and the audit is judged all the same.
 */
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { createServer } from 'node:net';
import { test } from 'node:test';
import { runSmoke, type SmokeCheck } from '../../src/smoke/smoke.js';

const CANARY = 'detail-canary-5f0c1e';

/** A loopback port nothing listens on. */
async function closedPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as { port: number }).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

async function auditCheck(report: unknown): Promise<{ check: SmokeCheck; findings: unknown }> {
  const result = await runSmoke({
    gatewayUrl: `ws://127.0.0.1:${await closedPort()}`,
    token: 'smoke-token-canary',
    deviceKeyPem: generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    proxies: [],
    fallbackSkip: 'not this test',
    timeoutMs: 5_000,
    deepAudit: { run: async () => JSON.stringify(report), accept: [{ check: 'models.weak_tier', reason: 'a step of the chain' }] },
  });
  const check = result.checks.find((c) => c.name === 'security audit --deep');
  assert.ok(check, result.checks.map((c) => c.name).join(', '));
  return { check, findings: result.auditFindings };
}

const finding = (severity: string, checkId: string, title: string) => ({ checkId, severity, title, detail: `${CANARY} in ${checkId}`, remediation: `${CANARY} fix` });

test('a critical finding fails the check, named by checkId, with its title and never its detail', async () => {
  const { check, findings } = await auditCheck({
    summary: {},
    findings: [finding('critical', 'gateway.bind_no_auth', 'Gateway binds beyond loopback without auth'), finding('warn', 'models.weak_tier', 'Some models are below recommended tiers')],
  });
  assert.equal(check.ok, false);
  assert.match(check.detail, /^critical gateway\.bind_no_auth \(Gateway binds beyond loopback without auth\); 1 accepted \(models\.weak_tier\)$/);
  assert.ok(!check.detail.includes(CANARY));
  // What apply records of the release: severity, checkId and title of each.
  assert.deepEqual(findings, [
    { checkId: 'gateway.bind_no_auth', severity: 'critical', title: 'Gateway binds beyond loopback without auth' },
    { checkId: 'models.weak_tier', severity: 'warn', title: 'Some models are below recommended tiers' },
  ]);
});

test('a warning the environment does not accept fails; an accepted one and a failed live probe do not, and the probe says only its title', async () => {
  const failing = await auditCheck({ findings: [finding('warn', 'fs.state_dir.perms_readable', 'State dir is readable by others')] });
  assert.equal(failing.check.ok, false);
  assert.match(failing.check.detail, /^warn fs\.state_dir\.perms_readable \(State dir is readable by others\)$/);
  const passing = await auditCheck({ findings: [finding('warn', 'models.weak_tier', 'Weak'), finding('warn', 'gateway.probe_failed', 'Gateway probe failed (deep)'), finding('info', 'x.info', 'Info')] });
  assert.equal(passing.check.ok, true, passing.check.detail);
  assert.equal(passing.check.detail, 'no critical finding, no unaccepted warning; 1 accepted (models.weak_tier); the live probe did not read the gateway (Gateway probe failed (deep))');
  assert.ok(!passing.check.detail.includes(CANARY));
});
