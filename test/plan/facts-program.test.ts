// The facts program as the read-only user's login runs it (restricted to what the list apply
// writes beside it names), run for real with bash against a layout in a temporary folder; the
// listener fact's addresses; a plan's decision for each sensitive file; the read-only transport.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { factsAllowList, factsProgramText } from '../../src/plan/facts-program.js';
import { recordDigest, sha256 } from '../../src/plan/digest.js';
import { kernelAddress, lockAliveShell, parseFacts, type HostFacts } from '../../src/plan/facts.js';
import { listenerDrift } from '../../src/plan/diff.js';
import { brokenDecisions, sensitiveDecisions } from '../../src/plan/secret-compare.js';
import type { Plan } from '../../src/plan/model.js';
import { factsAccess } from '../../src/render/facts-access.js';
import type { DesiredService, DesiredState } from '../../src/render/desired.js';
import { LocalTransport } from '../../src/transport/local.js';
import { ReadOnlyTransport } from '../../src/transport/read-only.js';

const GATEWAY_ENV = `OPENCLAW_GATEWAY_TOKEN=canary-${randomBytes(8).toString('hex')}\n`;
const root = await mkdtemp(join(tmpdir(), 'clawops-facts-program-'));
after(() => rm(root, { recursive: true, force: true }));

const unit = (name: string, port: number, bind: 'loopback' | 'lan', kind: DesiredService['kind'] = 'proxy'): DesiredService => ({
  name, kind, port, bind, health: '', after: [], restartOn: [], reloadOn: [], run: { exec: [], cwd: '/', environment: {}, environmentFile: '' },
});
const state = (): DesiredState => ({
  environment: 'probe',
  services: 'systemd',
  files: [
    { path: join(root, 'state/openclaw.json'), name: 'openclaw.json', role: 'openclaw-config', mode: 0o644, content: '', sensitive: false },
    { path: join(root, 'units/gemini-proxy.service'), name: 'gemini-proxy.service', role: 'unit', mode: 0o644, content: '', sensitive: false },
    { path: join(root, 'state/gateway.env'), name: 'gateway.env', role: 'env', mode: 0o600, content: '', sensitive: true, secrets: { OPENCLAW_GATEWAY_TOKEN: 'OPENCLAW_GATEWAY_TOKEN' } },
  ],
  units: [unit('gemini-proxy.service', 18790, 'loopback')],
  host: { clawopsDir: join(root, 'state/.clawops') },
});

describe('the installed facts program', async () => {
  const access = factsAccess('clawops-facts', join(root, 'runtime'));
  await mkdir(join(root, 'runtime/facts'), { recursive: true });
  await mkdir(join(root, 'state/.clawops'), { recursive: true });
  await mkdir(join(root, 'units'), { recursive: true });
  await writeFile(join(root, 'state/openclaw.json'), '{}\n');
  await writeFile(join(root, 'units/gemini-proxy.service'), '[Unit]\n');
  await writeFile(join(root, 'units/other.service'), '[Unit]\n');
  await writeFile(join(root, 'secret'), 'not for the facts user\n');
  await writeFile(join(root, 'state/gateway.env'), GATEWAY_ENV, { mode: 0o600 });
  await symlink(join(root, 'secret'), join(root, 'state/link.json'));
  await writeFile(access.program, factsProgramText({ restricted: true, access }, lockAliveShell('"$dir/lock"')), { mode: 0o755 });
  await writeFile(access.allow, factsAllowList(state(), [join(root, 'state')]));
  // As root the program reads directly; as another user it first re-runs itself through sudo
  // (tested on a real host by test/e2e/facts-user.test.ts).
  const run = (...args: string[]) => new LocalTransport().run(['bash', access.program, ...args]);
  const isRoot = process.getuid?.() === 0;

  test('the list names the folders, each managed file outside them, and the units', () => {
    const list = factsAllowList(state(), [join(root, 'state')]);
    assert.match(list, new RegExp(`^dir ${join(root, 'state')}$`, 'm'));
    assert.match(list, new RegExp(`^file ${join(root, 'units/gemini-proxy.service')}$`, 'm'));
    assert.doesNotMatch(list, /^file .*openclaw\.json$/m, 'inside a folder already');
    assert.match(list, /^unit gemini-proxy\.service$/m);
  });

  test('it reads what clawops manages', { skip: !isRoot && 'needs root (the real host test covers the sudo path)' }, async () => {
    const r = await run('--dir', join(root, 'state/.clawops'), '--manager', 'system', '--file', join(root, 'state/openclaw.json'), '--file', join(root, 'units/gemini-proxy.service'));
    assert.equal(r.code, 0, r.stderr);
    const facts = parseFacts(r.stdout);
    assert.equal(Object.values(facts.files).filter(Boolean).length, 2);
  });

  test('it refuses a path outside, a climb out with .., a file beside a managed one, and a unit it does not manage', { skip: !isRoot && 'needs root' }, async () => {
    const dir = join(root, 'state/.clawops');
    for (const [args, message] of [
      [['--file', join(root, 'secret')], `refused: ${join(root, 'secret')} is outside the folders clawops manages`],
      [['--file', join(root, 'state/../secret')], 'is outside the folders clawops manages'],
      [['--file', join(root, 'units/other.service')], 'is outside the folders clawops manages'],
      [['--unit', 'ssh.service'], 'refused: ssh.service is not a unit clawops manages'],
      [['--dir', '/etc'], 'refused: /etc is outside the folders clawops manages'],
    ] as const) {
      const r = await run('--dir', dir, '--manager', 'system', ...args);
      assert.equal(r.code, 64, `${args.join(' ')}: ${r.stderr}`);
      assert.ok(r.stderr.includes(message), `${args.join(' ')}: ${r.stderr}`);
      assert.equal(r.stdout, '', 'nothing read');
    }
  });

  test('a file holding secrets comes keyed, however it is asked for, and the key itself never', { skip: !isRoot && 'needs root' }, async () => {
    const key = randomBytes(32).toString('base64');
    await writeFile(join(root, 'state/.clawops/digest.key'), `${key}\n`, { mode: 0o600 });
    try {
      for (const ask of ['--secret', '--file']) {
        const r = await run('--dir', join(root, 'state/.clawops'), '--manager', 'system', ask, join(root, 'state/gateway.env'));
        assert.equal(r.code, 0, r.stderr);
        const facts = parseFacts(r.stdout);
        assert.equal(facts.files[join(root, 'state/gateway.env')]?.sha256, recordDigest(sha256(GATEWAY_ENV), true, key), ask);
        assert.equal(facts.digestKey, null, 'no key');
        assert.ok(!r.stdout.includes(key) && !r.stdout.includes(sha256(GATEWAY_ENV)), `neither the key nor the bare hash (${ask})`);
      }
      // A key it cannot use: the file is unreadable to this login rather than bare.
      await writeFile(join(root, 'state/.clawops/digest.key'), 'not a key\n');
      const r = await run('--dir', join(root, 'state/.clawops'), '--manager', 'system', '--file', join(root, 'state/gateway.env'));
      assert.equal(parseFacts(r.stdout).files[join(root, 'state/gateway.env')]?.sha256, 'unreadable');
    } finally {
      await rm(join(root, 'state/.clawops/digest.key'));
    }
  });

  test('a link inside a managed folder is reported as a link, not followed', { skip: !isRoot && 'needs root' }, async () => {
    const r = await run('--dir', join(root, 'state/.clawops'), '--manager', 'system', '--file', join(root, 'state/link.json'));
    assert.equal(r.code, 0, r.stderr);
    assert.equal(parseFacts(r.stdout).files[join(root, 'state/link.json')]?.sha256, 'symlink');
  });
});

describe('the listener fact', () => {
  test("the kernel's hex addresses as people write them", () => {
    assert.equal(kernelAddress('0100007F'), '127.0.0.1');
    assert.equal(kernelAddress('00000000'), '0.0.0.0');
    assert.equal(kernelAddress('00000000000000000000000000000000'), '::');
    assert.equal(kernelAddress('00000000000000000000000001000000'), '::1');
    assert.equal(kernelAddress('0000000000000000FFFF00000100007F'), '::ffff:127.0.0.1');
  });

  const facts = (listeners: Record<string, string[]>): HostFacts => ({
    files: {}, units: { 'gemini-proxy.service': { active: 'active', enabled: 'enabled' }, 'openclaw-gateway.service': { active: 'active', enabled: 'enabled' } },
    runtime: { node: null, openclaw: null }, release: null, releases: [], lock: null, digestKey: null, listeners,
  });
  const desired = (bind: 'loopback' | 'lan'): DesiredState => ({ ...state(), units: [unit('gemini-proxy.service', 18790, 'loopback'), unit('openclaw-gateway.service', 18789, bind, 'gateway')] });

  test('a proxy on every address, or a loopback gateway on one, differs; as configured, nothing does', () => {
    assert.deepEqual(listenerDrift(desired('lan'), facts({ 18790: ['127.0.0.1'], 18789: ['0.0.0.0'] })), []);
    assert.deepEqual(listenerDrift(desired('loopback'), facts({ 18790: ['127.0.0.1', '::1'], 18789: ['127.0.0.1'] })), []);
    assert.deepEqual(listenerDrift(desired('lan'), facts({ 18790: ['0.0.0.0'], 18789: ['0.0.0.0'] })), [{ unit: 'gemini-proxy.service', port: 18790, expected: 'loopback', found: ['0.0.0.0'] }]);
    assert.deepEqual(listenerDrift(desired('loopback'), facts({ 18790: ['127.0.0.1'], 18789: ['::'] })), [{ unit: 'openclaw-gateway.service', port: 18789, expected: 'loopback', found: ['::'] }]);
    assert.deepEqual(listenerDrift(desired('lan'), facts({ 18790: ['127.0.0.1'], 18789: ['127.0.0.1'] })), [{ unit: 'openclaw-gateway.service', port: 18789, expected: 'lan', found: ['127.0.0.1'] }]);
  });
});

describe('secrets in a plan without their values', () => {
  const plan = (files: [string, Plan['files'][number]['action']][], uncompared: string[]): Plan => ({
    environment: 'e', target: 't', revision: 'r', factsDigest: '', services: [], runtime: [], daemonReload: false, semantic: [], uncompared,
    files: files.map(([path, action]) => ({ path, action, role: 'env', sensitive: true, reason: '' })),
  });

  test('each sensitive file is unchanged, changing, or compared at apply; a saved decision that no longer holds is named', () => {
    const saved = sensitiveDecisions(plan([['/a.env', 'no-op'], ['/b.env', 'update'], ['/c.env', 'no-op']], ['/c.env']));
    assert.deepEqual(saved, { '/a.env': 'unchanged', '/b.env': 'changes', '/c.env': 'compared at apply' });
    assert.deepEqual(brokenDecisions(saved, { '/a.env': 'unchanged', '/b.env': 'changes', '/c.env': 'changes' }), []);
    assert.deepEqual(brokenDecisions(saved, { '/a.env': 'changes', '/b.env': 'unchanged', '/c.env': 'unchanged' }), ['/a.env (the plan showed it unchanged)', '/b.env (the plan showed it changing)']);
  });
});

describe('the read-only transport', () => {
  const t = new ReadOnlyTransport(new LocalTransport(), 'clawops-facts');
  test('runs only the facts program, with nothing on standard input, and writes no file', async () => {
    await assert.rejects(t.run(['touch', join(root, 'x')]), /a read-only plan runs only clawops-facts, not touch/);
    await assert.rejects(t.run(['clawops-facts'], { stdin: 'echo hi' }), /sends nothing on standard input/);
    await assert.rejects(t.put([{ path: join(root, 'x'), content: 'x', mode: 0o600 }]), /writes no file/);
  });
});
