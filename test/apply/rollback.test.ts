// A rollback over a secret rotation, on this machine's own files (no service manager), through a
// transport that records everything the host sends back: the env file comes back with the old
// release's values, copied on the host, and no value of either release passes through clawops.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { apply } from '../../src/apply/apply.js';
import { rollback } from '../../src/apply/rollback.js';
import type { DesiredState } from '../../src/render/desired.js';
import { LocalTransport } from '../../src/transport/local.js';
import type { Command, PutFile, RunOptions, RunResult, Transport } from '../../src/transport/transport.js';

const root = await mkdtemp(join(tmpdir(), 'clawops-rollback-'));
after(() => rm(root, { recursive: true, force: true }));

/** Everything that crossed: commands with their input, what came back, files sent. */
class Recording implements Transport {
  readonly seen: string[] = [];
  private readonly inner = new LocalTransport();
  readonly target = 'local';
  async run(command: Command, options: RunOptions = {}): Promise<RunResult> {
    const r = await this.inner.run(command, options);
    this.seen.push(command.join(' '), String(options.stdin ?? ''), r.stdout, r.stderr);
    return r;
  }
  async put(files: readonly PutFile[]): Promise<void> {
    for (const f of files) this.seen.push(f.path, typeof f.content === 'string' ? f.content : f.content.toString('utf8'));
    await this.inner.put(files);
  }
  close(): Promise<void> {
    return this.inner.close();
  }
}

const envPath = join(root, 'app/gateway.env');
const desired = (chain: string): DesiredState => ({
  environment: 'rollback',
  services: 'none',
  files: [
    { path: join(root, 'app/config.json'), name: 'config.json', role: 'openclaw-config', mode: 0o644, content: `{"chain":"${chain}"}\n`, sensitive: false },
    { path: envPath, name: 'gateway.env', role: 'env', mode: 0o600, content: 'TOKEN=\n', sensitive: true, secrets: { TOKEN: 'GATEWAY_TOKEN' } },
  ],
  units: [],
  host: { clawopsDir: join(root, 'app/.clawops') },
});
const noRuntime = { nodeArchive: () => Promise.reject(new Error('no runtime')), openclawArchive: () => Promise.reject(new Error('no runtime')) } as never;
const summary = { chain: [], providers: {}, agents: {} };

test('rollback across a rotated secret puts back the old value, copied on the host, and no value of either release passes through clawops', async () => {
  const first = `canary-first-${randomBytes(8).toString('hex')}`;
  const rotated = `canary-rotated-${randomBytes(8).toString('hex')}`;
  const t = new Recording();
  const base = { transport: t, summary, holder: 'test', runtime: noRuntime, sleep: async () => {} };
  const one = await apply({ ...base, desired: desired('a'), secrets: (n) => (n === 'GATEWAY_TOKEN' ? first : undefined), revision: 'r1' });
  assert.equal(one.outcome, 'applied');
  const two = await apply({ ...base, desired: desired('b'), secrets: (n) => (n === 'GATEWAY_TOKEN' ? rotated : undefined), revision: 'r2' });
  assert.equal(two.outcome, 'applied');
  assert.match(await readFile(envPath, 'utf8'), new RegExp(`^TOKEN=${rotated}$`, 'm'));

  t.seen.length = 0;
  const back = await rollback({ ...base, desired: desired('b') });
  assert.equal(back.outcome, 'applied');
  assert.equal(back.restored, one.release);
  assert.match(await readFile(envPath, 'utf8'), new RegExp(`^TOKEN=${first}$`, 'm'), 'the old value is back');
  assert.equal(await readFile(join(root, 'app/config.json'), 'utf8'), '{"chain":"a"}\n', 'and the old config');
  assert.ok(back.plan.files.some((f) => f.path === envPath && f.action === 'update' && f.reason === 'content differs'), 'the plan shows the env file changing back');
  const crossed = t.seen.join('\n');
  for (const value of [first, rotated]) assert.ok(!crossed.includes(value), 'no secret value crossed the transport');
});
