/**
 * A fleet through the built CLI when its hosts cannot be reached: loopback ports nothing listens
 * on, so no host is needed. plan names every host and why it could not plan it; apply stops its
 * rollout at the first batch that failed and says which hosts were never started.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import net from 'node:net';
import { join } from 'node:path';
import { before, describe, test } from 'node:test';
import { clawops, scratchRepo } from '../support/cli.js';

let root: string;
const KEY = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFleetClosedPortsHostKey00000000000000000000';
const SECRETS: Record<string, string> = {};

/** A loopback port nothing listens on (bound, then released). */
async function closedPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as net.AddressInfo).port;
  await new Promise<void>((r) => server.close(() => r()));
  return port;
}

before(async () => {
  root = await scratchRepo();
  const ec2 = await readFile(join(root, 'config/environments/ec2.yaml'), 'utf8');
  const ports = [await closedPort(), await closedPort(), await closedPort()];
  const hosts = ports.map((p, i) => `    - { name: gw-${i + 1}, host: 127.0.0.1, port: ${p}, hostKey: ${KEY} }\n`).join('');
  await writeFile(
    join(root, 'config/environments/fleet.yaml'),
    ec2
      .replace('name: ec2', 'name: fleet')
      .replace(/^(?: {2}#.*\n)* {2}host: .*\n(?: {2}#.*\n)* {2}port: 22\n/m, `  hosts:\n${hosts}`)
      .replace(/^(?: {2}#.*\n)* {2}hostKey: .*\n/m, '')
      .replace(/^services: /m, 'rollout:\n  batch: 1\nservices: ')
      .replace(/^securityGroup:[\s\S]*$/m, '')
      // Straight to the hosts with a stored key: no Session Manager, no Instance Connect.
      .replace(/^(?: {2}#.*\n)* {2}instanceConnect: .*\n/m, '  privateKeySecret: EC2_SSH_PRIVATE_KEY\n')
      .replace(/^(?: {2}#.*\n)* {2}via:\n {4}ssm: .*\n/m, ''),
  );
  const secrets = join(root, 'config/secrets.yaml');
  await writeFile(secrets, (await readFile(secrets, 'utf8')).replace('secrets:\n', 'secrets:\n  EC2_SSH_PRIVATE_KEY:\n    description: the fleet\'s deploy key\n'));
  const declared = (await readFile(join(root, 'config/secrets.yaml'), 'utf8')).match(/^ {2}[A-Z][A-Z0-9_]+(?=:)/gm)!.map((s) => s.trim());
  for (const name of declared) SECRETS[name] = `canary-${randomBytes(6).toString('hex')}`;
  SECRETS.EC2_SSH_PRIVATE_KEY = 'not a key';
});

const run = (args: string[]) => clawops([...args, '--root', root], { env: { ...SECRETS, CLAWOPS_REVISION: 'test' } });

describe('a fleet whose hosts cannot be reached', () => {
  test('plan asks every host and names each one it could not plan; exit 1', async () => {
    const r = await run(['plan', '--env', 'fleet']);
    assert.equal(r.code, 1, `${r.stdout}\n${r.stderr}`);
    for (const n of [1, 2, 3]) assert.match(r.stdout, new RegExp(`^── gw-${n}: ubuntu@127\\.0\\.0\\.1:\\d+ ──\\n✘ could not plan: `, 'm'));
    assert.match(r.stdout, /^Fleet fleet: 0 of 3 hosts would change, 3 could not be planned\.$/m);
  });

  test('apply stops after the first batch fails, and the hosts after it are not started', async () => {
    const r = await run(['apply', '--env', 'fleet', '--auto-approve', '--json']);
    assert.equal(r.code, 1, `${r.stdout}\n${r.stderr}`);
    const report = JSON.parse(r.stdout) as { outcome: string; batches: string[][]; stopped: { batch: number; reason: string }; hosts: { host: string; status: string; step?: string; on?: string }[] };
    assert.equal(report.outcome, 'failed');
    assert.deepEqual(report.batches, [['gw-1'], ['gw-2'], ['gw-3']]);
    assert.deepEqual(report.stopped, { batch: 0, failed: 1, size: 1, reason: 'failures' });
    assert.deepEqual(report.hosts.map((h) => h.status), ['failed', 'not-started', 'not-started']);
    assert.equal(report.hosts[0]!.on, 'what it ran before (unchanged)');
  });

  test('--host narrows to one host; a name not in the fleet is a usage error listing the names', async () => {
    const r = await run(['plan', '--env', 'fleet', '--host', 'gw-9']);
    assert.equal(r.code, 64);
    assert.match(r.stderr, /^error: --host gw-9: fleet has no such host \(expected one of: gw-1, gw-2, gw-3\)$/m);
    const smoke = await run(['rollback', '--env', 'fleet', '--auto-approve']);
    assert.equal(smoke.code, 64);
    assert.match(smoke.stderr, /^error: fleet is a fleet of 3 hosts \(gw-1, gw-2, gw-3\): pass --host NAME to run this on one of them$/m);
  });
});
