import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { buildProxies } from '../../scripts/build-proxies.js';

test('each proxy is one self-contained file, byte-identical across builds', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'clawops-build-'));
  try {
    const first = await buildProxies(join(dir, 'a'));
    const second = await buildProxies(join(dir, 'b'));
    assert.deepEqual(first.map((p) => p.kind), ['gemini', 'mistral', 'kimi']);
    for (const [i, p] of first.entries()) {
      assert.equal(p.path, join(dir, 'a', `${p.kind}-proxy.mjs`));
      assert.equal(p.sha256, second[i]!.sha256, `${p.kind}: two builds differ`);
      assert.deepEqual(await readFile(p.path), await readFile(second[i]!.path));
      const code = await readFile(p.path, 'utf8');
      const imports = [...code.matchAll(/^import .* from "([^"]+)";$/gm)].map((m) => m[1]);
      assert.ok(imports.length > 0);
      assert.deepEqual(imports.filter((s) => !s!.startsWith('node:')), [], `${p.kind}: imports other than node built-ins`);
      assert.ok(!code.includes(dir) && !code.includes(process.cwd()), `${p.kind}: absolute paths in the bundle`);
    }
    assert.ok(!(await readFile(first[0]!.path, 'utf8')).includes('kimiDialect'), 'a bundle carries only its own adapter');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
