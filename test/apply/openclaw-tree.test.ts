/**
 * OpenClaw installed by the host from the registry: which packages of the repository's pinned lock
 * a linux host takes, and the host's own script (bash, curl, sha512sum and tar, run here for real)
 * fetching real gzipped tarballs from a loopback HTTP server, refusing one that does not match.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile, mkdir } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { fetchTreeInto, openclawTree } from '../../src/apply/openclaw-tree.js';
import { buildInto } from '../../src/apply/runtime.js';
import { REPO_ROOT } from '../support/repo.js';
import { runCommand } from '../support/spawn.js';

const PINNED = '2026.9.6';
const lockText = () => readFile(join(REPO_ROOT, `runtime/openclaw-${PINNED}/package-lock.json`), 'utf8');

describe('the packages a host takes from the pinned lock', () => {
  test('the lock pins the same OpenClaw as the one the tests run (tools/)', async () => {
    const pinned = JSON.parse(await lockText()).packages['node_modules/openclaw'];
    const tools = JSON.parse(await readFile(join(REPO_ROOT, 'tools/package-lock.json'), 'utf8')).packages['node_modules/openclaw'];
    assert.equal(pinned.version, PINNED);
    assert.equal(pinned.integrity, tools.integrity);
  });

  test('linux-x64 with glibc: its own platform packages and no other, each at the registry\'s tarball address', async () => {
    const tree = openclawTree(await lockText(), 'http://registry.test:4873/', 'x64');
    const paths = tree.map((p) => p.path);
    assert.ok(paths.includes('node_modules/openclaw'));
    assert.ok(paths.includes('node_modules/@openclaw/fs-safe-linux-x64-gnu'));
    assert.ok(paths.includes('node_modules/@koromix/koffi-linux-x64'));
    for (const p of ['@openclaw/fs-safe-linux-x64-musl', '@openclaw/fs-safe-linux-arm64-gnu', '@koromix/koffi-darwin-arm64', '@koromix/koffi-win32-x64']) {
      assert.ok(!paths.includes(`node_modules/${p}`), `${p} is not for this host`);
    }
    const scoped = tree.find((p) => p.path === 'node_modules/@openclaw/fs-safe-linux-x64-gnu')!;
    assert.equal(scoped.url, `http://registry.test:4873/@openclaw/fs-safe-linux-x64-gnu/-/fs-safe-linux-x64-gnu-${scoped.version}.tgz`);
    const oc = tree.find((p) => p.path === 'node_modules/openclaw')!;
    assert.equal(oc.url, `http://registry.test:4873/openclaw/-/openclaw-${PINNED}.tgz`);
    assert.match(oc.hex, /^[0-9a-f]{128}$/);
    const all = Object.keys(JSON.parse(await lockText()).packages).filter((k) => k.startsWith('node_modules/'));
    assert.ok(tree.length > 300 && tree.length < all.length, `${tree.length} of ${all.length}`);
    // arm64 takes its own instead.
    const arm = openclawTree(await lockText(), 'http://registry.test', 'arm64').map((p) => p.path);
    assert.ok(arm.includes('node_modules/@openclaw/fs-safe-linux-arm64-gnu') && !arm.includes('node_modules/@openclaw/fs-safe-linux-x64-gnu'));
  });

  test('a lock that is not one, or holds a package for another platform that it cannot do without, is refused by name', async () => {
    assert.throws(() => openclawTree('{"lockfileVersion":1,"dependencies":{}}', 'http://r', 'x64'), /lockfileVersion 2/);
    const lock = JSON.parse(await lockText());
    delete lock.packages['node_modules/@openclaw/fs-safe-linux-x64-gnu'].optional;
    lock.packages['node_modules/@openclaw/fs-safe-linux-x64-gnu'].cpu = ['arm64'];
    assert.throws(() => openclawTree(JSON.stringify(lock), 'http://r', 'x64'), /node_modules\/@openclaw\/fs-safe-linux-x64-gnu is not for linux-x64 and is not optional/);
  });
});

/** A gzipped tar with one top folder `package/`, as npm packs: made by this machine's tar. */
async function tarball(dir: string, name: string, files: Record<string, string>): Promise<Buffer> {
  const src = join(dir, `src-${name.replace(/\W/g, '_')}`);
  for (const [f, text] of Object.entries(files)) {
    await mkdir(join(src, 'package', f, '..'), { recursive: true });
    await writeFile(join(src, 'package', f), text, { mode: 0o600 });
  }
  const out = join(dir, `${name.replace(/\W/g, '_')}.tgz`);
  const r = spawnSync('tar', ['-czf', out, '-C', src, 'package']);
  assert.equal(r.status, 0, String(r.stderr));
  return readFile(out);
}

/** A gzipped npm-style tarball holding `bytes` random bytes: it compresses to about as much. */
async function tarballOfBytes(dir: string, name: string, bytes: number): Promise<Buffer> {
  const src = join(dir, `src-${name}`, 'package');
  await mkdir(src, { recursive: true });
  await writeFile(join(src, 'blob'), randomBytes(bytes));
  const out = join(dir, `${name}.tgz`);
  const r = spawnSync('tar', ['-czf', out, '-C', join(dir, `src-${name}`), 'package']);
  assert.equal(r.status, 0, String(r.stderr));
  return readFile(out);
}

describe('the host\'s script', () => {
  test('fetches each package into its folder; a tarball that does not match stops it, by its address, and leaves nothing; so does a full disk, which the host names', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'clawops-tree-'));
    const served = new Map<string, Buffer>();
    const server = http.createServer((req, res) => {
      const body = served.get(req.url ?? '');
      if (!body) return void res.writeHead(404).end('{"error":"Not found"}');
      res.writeHead(200, { 'content-length': String(body.length) }).end(body);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    try {
      const packages = {
        'node_modules/openclaw': await tarball(dir, 'openclaw', { 'openclaw.mjs': 'export {};\n', 'package.json': '{"name":"openclaw"}' }),
        'node_modules/@s/dep': await tarball(dir, '@s/dep', { 'index.js': 'module.exports = 1;\n' }),
        'node_modules/openclaw/node_modules/nested': await tarball(dir, 'nested', { 'lib/a.js': 'a\n' }),
      };
      const lines = Object.entries(packages).map(([path, tgz], i) => {
        served.set(`/p${i}.tgz`, tgz);
        return `${path} ${base}/p${i}.tgz ${createHash('sha512').update(tgz).digest('hex')}\n`;
      });
      // Not spawnSync: the server answering the script runs in this process.
      const install = (target: string) => runCommand('bash', ['-c', buildInto(target, fetchTreeInto('OpenClaw test'), 'node_modules/openclaw/openclaw.mjs')], { input: lines.join('') });

      const good = await install(join(dir, 'good'));
      assert.equal(good.code, 0, good.stderr);
      assert.equal(await readFile(join(dir, 'good/node_modules/@s/dep/index.js'), 'utf8'), 'module.exports = 1;\n');
      assert.equal(await readFile(join(dir, 'good/node_modules/openclaw/node_modules/nested/lib/a.js'), 'utf8'), 'a\n');
      // Readable by the gateway's user whatever the tarball said (0600 here).
      const mode = spawnSync('stat', ['-c', '%a', join(dir, 'good/node_modules/@s/dep/index.js')], { encoding: 'utf8' }).stdout.trim();
      assert.equal(mode, '644');
      assert.equal(spawnSync('bash', ['-c', `ls -A ${join(dir, 'good')}`], { encoding: 'utf8' }).stdout.trim(), 'node_modules', 'nothing else is left in it');

      // The middle package's bytes change on the server: its checksum no longer holds.
      const tgz = served.get('/p1.tgz')!;
      served.set('/p1.tgz', Buffer.concat([tgz.subarray(0, -1), Buffer.from([tgz.at(-1)! ^ 1])]));
      const bad = await install(join(dir, 'bad'));
      assert.notEqual(bad.code, 0);
      assert.match(bad.stderr, new RegExp(`${base}/p1\\.tgz does not match the sha512 integrity the lock pins for OpenClaw test; refused, nothing installed`));
      assert.equal(spawnSync('bash', ['-c', `ls -d ${join(dir, 'bad')}* 2>/dev/null | wc -l`], { encoding: 'utf8' }).stdout.trim(), '0', 'never renamed into place, and the partial folder removed');

      served.delete('/p2.tgz');
      const gone = await install(join(dir, 'gone'));
      assert.notEqual(gone.code, 0);
      assert.match(gone.stderr, new RegExp(`the host could not fetch ${base}/p2\\.tgz for OpenClaw test`));

      // A package larger than the disk left (a 1 MiB filesystem of its own, in a private mount
      // namespace): the host says the disk is full, where, and what was written is removed.
      served.set('/p2.tgz', packages['node_modules/openclaw/node_modules/nested']);
      const big = await tarballOfBytes(dir, 'big', 1_500_000);
      served.set('/big.tgz', big);
      const small = join(dir, 'small');
      await mkdir(small);
      const bigLine = `node_modules/big ${base}/big.tgz ${createHash('sha512').update(big).digest('hex')}\n`;
      const script = buildInto(join(small, 'openclaw'), fetchTreeInto('OpenClaw test'), 'node_modules/openclaw/openclaw.mjs');
      const full = await runCommand(
        'unshare',
        ['--mount', '--propagation', 'private', 'bash', '-c', `mount -t tmpfs -o size=1m tmpfs ${small} || exit 99\nbash -c "$0"\nrc=$?\necho "files left: $(find ${small} -type f | wc -l)"\nexit $rc`, script],
        { input: lines.join('') + bigLine },
      );
      assert.notEqual(full.code, 99, `no tmpfs: ${full.stderr}`);
      assert.notEqual(full.code, 0);
      assert.match(full.stderr, new RegExp(`^not enough free space on ${small} to install ${small}/openclaw: \\d+ KiB left; nothing was installed, and what was written is removed$`, 'm'));
      assert.match(full.stdout, /^files left: 0$/m);
    } finally {
      server.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});
