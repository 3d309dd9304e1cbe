/** The runtime's unpack, run as apply runs it (bash, tar): whole or absent, and nothing left of a run cut short. */
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
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

test('an unpack that fills its disk removes what it wrote, and the host says the disk is full, where', async () => {
  const root = await mkdtemp(join(tmpdir(), 'clawops-unpack-'));
  const src = join(root, 'src/node-v24');
  await mkdir(join(src, 'bin'), { recursive: true });
  // Incompressible: the archive is small enough to fetch, its contents too large for the disk.
  execFileSync('bash', ['-c', `head -c 1500000 /dev/urandom > ${join(src, 'bin/node')}`]);
  const archive = join(root, 'node.tgz');
  execFileSync('tar', ['-czf', archive, '-C', join(root, 'src'), 'node-v24']);
  const small = join(root, 'small');
  await mkdir(small);
  const dir = join(small, 'opt/node/24');
  // A 1 MiB filesystem of its own, in a private mount namespace; what is left on it is listed before it goes.
  const script = `mount -t tmpfs -o size=1m tmpfs ${small} || exit 99\nbash -c '${unpackInto(dir, archive, 'bin/node').replace(/'/g, `'\\''`)}'\nrc=$?\necho "files left: $(find ${small} -type f | wc -l)"\nexit $rc`;
  const r = spawnSync('unshare', ['--mount', '--propagation', 'private', 'bash', '-c', script], { encoding: 'utf8' });
  assert.notEqual(r.status, 99, `no tmpfs: ${r.stderr}`);
  assert.notEqual(r.status, 0, 'the unpack cannot have succeeded');
  assert.match(r.stderr, new RegExp(`^not enough free space on ${small} to install ${dir}: \\d+ KiB left; nothing was installed, and what was written is removed$`, 'm'));
  assert.match(r.stdout, /^files left: 0$/m);
});
