/** The runtime's unpack, run as apply runs it (bash, tar): whole or absent, and nothing left of a run cut short. */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { unpackInto } from '../../src/apply/runtime.js';

test('a part-unpacked folder left by a killed run is cleared; the new one is moved into place whole', async () => {
  const root = await mkdtemp(join(tmpdir(), 'clawops-unpack-'));
  const src = join(root, 'src/node-v24');
  await mkdir(join(src, 'bin'), { recursive: true });
  await writeFile(join(src, 'bin/node'), 'node 24\n');
  const archive = join(root, 'node.tgz');
  execFileSync('tar', ['-czf', archive, '-C', join(root, 'src'), 'node-v24']);
  const dir = join(root, 'opt/node/24');
  await mkdir(`${dir}.partial.AbC123/bin`, { recursive: true });
  await writeFile(`${dir}.partial.AbC123/bin/node`, 'half\n');

  execFileSync('bash', ['-c', unpackInto(dir, archive, 'bin/node')]);
  assert.equal(await readFile(join(dir, 'bin/node'), 'utf8'), 'node 24\n');
  assert.deepEqual(await readdir(join(root, 'opt/node')), ['24'], 'no part-unpacked folder left');
  assert.equal(existsSync(`${dir}.partial.AbC123`), false);
});
