import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { NODE24 } from '../../scripts/tools.js';
import { clawops, scratchRepo } from '../support/cli.js';

async function breakConfig(root: string): Promise<void> {
  const chain = join(root, 'config/fallback-chain.yaml');
  await writeFile(chain, (await readFile(chain, 'utf8')).replace('  - kimi/kimi-k2.5', '  - kimi/kimi-k9'));
  const groq = join(root, 'config/providers/groq.yaml');
  await writeFile(groq, (await readFile(groq, 'utf8')).replace('tier: free', 'tier: gratis'));
}

describe('clawops validate', () => {
  test('a valid config: exit 0 and a one-line summary', async () => {
    const run = await clawops(['validate']);
    assert.equal(run.code, 0, run.stderr);
    assert.equal(run.stdout, 'Config is valid: 7 providers, 11-step fallback chain, 3 agents, 2 environments (ec2, local).\n');
  });

  test('on Node 24, as the workflows run it, the CLI keeps its compiled code in Node\'s compile cache', async () => {
    // Node's default place for it is in the temp folder.
    const tmp = await mkdtemp(join(tmpdir(), 'clawops-compile-cache-'));
    const cache = join(tmp, 'node-compile-cache');
    try {
      const first = await clawops(['validate'], { node: NODE24, env: { TMPDIR: tmp } });
      assert.equal(first.code, 0, first.stderr);
      assert.match(first.stdout, /^Config is valid: /);
      assert.ok(existsSync(cache) && (await readdir(cache, { recursive: true })).length > 1, 'nothing in the compile cache');
      // Node's own switch turns it off.
      await rm(cache, { recursive: true });
      const off = await clawops(['validate'], { node: NODE24, env: { TMPDIR: tmp, NODE_DISABLE_COMPILE_CACHE: '1' } });
      assert.equal(off.code, 0, off.stderr);
      assert.equal(existsSync(cache), false);
    } finally {
      await rm(tmp, { recursive: true, force: true });
    }
  });

  test('a broken config: every problem as file:line:col, exit 1', async () => {
    const root = await scratchRepo();
    await breakConfig(root);
    const run = await clawops(['validate', '--root', root]);
    assert.equal(run.code, 1);
    assert.equal(
      run.stderr,
      [
        'error: config/fallback-chain.yaml:6:5: chain[1]: "kimi/kimi-k9": provider kimi declares no model "kimi-k9" (it declares: kimi-k2.5)',
        'error: config/providers/groq.yaml:7:7: tier: expected one of "free", "paid"; found "gratis"',
        '2 problems found; nothing was written.',
        '',
      ].join('\n'),
    );
    assert.equal(run.stdout, '');
  });

  test('a host that fetches its runtime from the registry needs the lock of its OpenClaw: a pin without one is named by its line', async () => {
    const root = await scratchRepo();
    const ec2 = join(root, 'config/environments/ec2.yaml');
    const text = await readFile(ec2, 'utf8');
    await writeFile(ec2, text.replace(/^( {2}openclaw: 2026\.9\.6)$/m, '$1\n  fetch: registry'));
    const pinned = await clawops(['validate', '--root', root]);
    assert.equal(pinned.code, 0, pinned.stderr);
    await writeFile(ec2, text.replace(/^( {2}openclaw: )2026\.9\.6$/m, '$12026.9.7\n  fetch: registry'));
    const run = await clawops(['validate', '--root', root]);
    assert.equal(run.code, 1);
    const line = text.split('\n').findIndex((l) => l === '  openclaw: 2026.9.6') + 1;
    assert.equal(
      run.stderr,
      `error: config/environments/ec2.yaml:${line}:13: runtime.openclaw: OpenClaw 2026.9.7 has no lock in runtime/openclaw-2026.9.7/package-lock.json, from which a host with runtime.fetch: registry installs it: run \`npm run lock-openclaw -- 2026.9.7\` and commit it\n1 problem found; nothing was written.\n`,
    );
  });

  test('outside a deployment repository: a one-line error naming the folder, no stack trace', async () => {
    const root = await mkdtemp(join(tmpdir(), 'clawops-empty-'));
    const run = await clawops(['validate', '--root', root]);
    assert.notEqual(run.code, 0);
    assert.equal(run.stderr, `error: no config folder in ${root}: run clawops in the deployment's repository, or pass --root DIR\n`);
  });

  test('inside GitHub Actions the problems are also annotations on the config lines', async () => {
    const root = await scratchRepo();
    await breakConfig(root);
    const run = await clawops(['validate', '--root', root], { env: { GITHUB_ACTIONS: 'true' } });
    assert.equal(run.code, 1);
    assert.match(run.stdout, /^::error title=clawops validate,file=config\/providers\/groq\.yaml,line=7,col=7::tier: expected one of "free", "paid"; found "gratis"$/m);
    assert.match(run.stdout, /^::error title=clawops validate,file=config\/fallback-chain\.yaml,line=6,col=5::chain\[1\]: /m);
  });
});

describe('clawops render', () => {
  test('writes the environment into a folder and says what it wrote', async () => {
    const root = await scratchRepo();
    const out = join(root, 'out');
    const run = await clawops(['render', '--env', 'local', '--out', out, '--root', root], { env: { OPENCLAW_STATE_DIR: '/srv/openclaw' } });
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /^Rendered environment local into .*out:$/m);
    assert.match(run.stdout, /^ {2}openclaw\.json +0600 .* → \/srv\/openclaw\/openclaw\.json$/m);
    assert.match(run.stdout, /^ {2}gateway\.env +0600 .* → \/srv\/openclaw\/gateway\.env {2}\(sensitive: names only, values are filled in at apply\)$/m);
    const manifest = JSON.parse(await readFile(join(out, 'manifest.json'), 'utf8'));
    assert.equal(manifest.environment, 'local');
    for (const f of manifest.files) assert.ok(existsSync(join(out, f.name)), f.name);
    assert.equal((await stat(join(out, 'gateway.env'))).mode & 0o777, 0o600);
    const program = await readFile(join(out, 'proxies/gemini/gemini-proxy.mjs'), 'utf8');
    assert.ok(program.length > 1000, 'the built gemini proxy program is part of the render');
  });

  test('the same config renders byte-identical files twice', async () => {
    const root = await scratchRepo();
    const a = await clawops(['render', '--env', 'ec2', '--json', '--root', root]);
    const b = await clawops(['render', '--env', 'ec2', '--json', '--root', root]);
    assert.equal(a.code, 0, a.stderr);
    assert.equal(a.stdout, b.stdout);
    assert.equal(JSON.parse(a.stdout).units.length, 5, 'three proxies, the gateway and the TLS hop');
  });

  test('a broken config writes nothing', async () => {
    const root = await scratchRepo();
    await breakConfig(root);
    const out = join(root, 'out');
    const run = await clawops(['render', '--env', 'local', '--out', out, '--root', root]);
    assert.equal(run.code, 1);
    assert.match(run.stderr, /nothing was written/);
    assert.equal(existsSync(out), false);
  });

  test('an unknown environment is an error naming the known ones', async () => {
    const run = await clawops(['render', '--env', 'prod']);
    assert.equal(run.code, 1);
    assert.equal(run.stderr, 'error: unknown environment "prod" (expected one of: ec2, local)\n');
  });

  test('usage errors exit 64', async () => {
    assert.equal((await clawops(['render'])).code, 64);
    assert.equal((await clawops(['frobnicate'])).code, 64);
    assert.equal((await clawops(['validate', '--bogus'])).code, 64);
  });
});
