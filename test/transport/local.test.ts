import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { LocalTransport } from '../../src/transport/local.js';
import { TransportError } from '../../src/transport/transport.js';
import { ATOMIC_READER } from '../support/atomic-reader.js';
import { waitUntil } from '../support/wait.js';

const local = new LocalTransport();
let dir: string;

const sha256 = (data: Buffer | string): string => createHash('sha256').update(data).digest('hex');

async function transportError(promise: Promise<unknown>, step: string): Promise<TransportError> {
  const err = await promise.then(
    () => assert.fail(`expected a TransportError at step "${step}", but it succeeded`),
    (e: unknown) => e,
  );
  assert.ok(err instanceof TransportError, `expected a TransportError, got ${String(err)}`);
  assert.equal(err.step, step, err.message);
  assert.equal(err.target, 'local');
  return err;
}

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'clawops-local-test-'));
});

after(async () => {
  await local.close();
  await rm(dir, { recursive: true, force: true });
});

describe('LocalTransport: commands', () => {
  test('exit code, stdout and stderr come back separately', async () => {
    const res = await local.run(['bash', '-c', 'echo out; echo err >&2; exit 3']);
    assert.deepEqual(res, { code: 3, stdout: 'out\n', stderr: 'err\n' });
  });

  test('words go to the program as they are: no shell in between', async () => {
    const res = await local.run(['printf', '[%s]', "it's", 'a b', '$HOME', '', '; echo injected', '*']);
    assert.deepEqual(res, { code: 0, stdout: "[it's][a b][$HOME][][; echo injected][*]", stderr: '' });
  });

  test('1 MiB of binary stdin arrives intact and is closed after it', async () => {
    const data = randomBytes(1024 * 1024);
    const res = await local.run(['sha256sum'], { stdin: data });
    assert.equal(res.stdout, `${sha256(data)}  -\n`);
  });

  test('a script on stdin (bash -s) with arguments', async () => {
    const res = await local.run(['bash', '-s', '--', 'a b', 'c'], { stdin: 'echo "$1|$2"\nprintf done >&2\n' });
    assert.deepEqual(res, { code: 0, stdout: 'a b|c\n', stderr: 'done' });
  });

  test('a command that exits without reading its stdin is not an error', async () => {
    const res = await local.run(['true'], { stdin: randomBytes(4 * 1024 * 1024) });
    assert.equal(res.code, 0);
  });

  test('a command killed by a signal reports 128 + the signal number, as a shell does', async () => {
    assert.equal((await local.run(['bash', '-c', 'kill -TERM $$'])).code, 143);
  });

  test('a program that does not exist fails at "run", naming it', async () => {
    const err = await transportError(local.run(['clawops-no-such-program']), 'run');
    assert.match(err.message, /cannot start 'clawops-no-such-program'/);
  });

  test('a command past its timeout fails, and it and what it started are killed', async () => {
    // A duration no other process has, to find it by; bash waits on the sleep, so killing bash
    // alone would leave the sleep behind.
    const sleep = `sleep 30.${randomBytes(3).readUIntBE(0, 3)}`;
    const err = await transportError(local.run(['bash', '-c', `${sleep}; true`], { timeoutMs: 200 }), 'run');
    assert.match(err.message, /timed out after 200 ms/);
    // Killed, it is gone long before its 30 s would end it.
    const since = Date.now();
    let left = '';
    await waitUntil('the timed-out command to be killed', async () => {
      left = (await local.run(['pgrep', '-fx', sleep])).stdout;
      return left === '';
    }, { intervalMs: 50 });
    assert.ok(Date.now() - since < 29_000, `the timed-out command ran until it ended by itself: ${left}`);
  });
});

describe('LocalTransport: files', () => {
  test('creates files with exactly the mode asked for, whatever the umask', async () => {
    const umask = process.umask(0o077);
    try {
      await local.put([
        { path: join(dir, 'secret.env'), content: 'TOKEN=abc\n', mode: 0o600 },
        { path: join(dir, 'group.txt'), content: Buffer.from([0, 1, 2, 255]), mode: 0o664 },
      ]);
    } finally {
      process.umask(umask);
    }
    assert.equal((await stat(join(dir, 'secret.env'))).mode & 0o7777, 0o600);
    assert.equal((await stat(join(dir, 'group.txt'))).mode & 0o7777, 0o664);
    assert.equal(await readFile(join(dir, 'secret.env'), 'utf8'), 'TOKEN=abc\n');
    assert.deepEqual([...(await readFile(join(dir, 'group.txt')))], [0, 1, 2, 255]);
  });

  test('replacing a file takes the new mode and leaves no temporary files', async () => {
    const file = join(dir, 'replace.txt');
    await writeFile(file, 'one', { mode: 0o644 });
    await local.put([{ path: file, content: 'two', mode: 0o600 }]);
    assert.equal((await stat(file)).mode & 0o7777, 0o600);
    assert.equal(await readFile(file, 'utf8'), 'two');
    assert.deepEqual((await readdir(dir)).filter((n) => n.endsWith('.tmp')), []);
  });

  test('replacement is atomic: a concurrent reader never sees a partial or missing file', async () => {
    const file = join(dir, 'big.bin');
    const stop = join(dir, 'reader.stop');
    const versions = [Buffer.alloc(2 * 1024 * 1024, 'a'), Buffer.alloc(2 * 1024 * 1024, 'b')];
    const [a, b] = versions.map(sha256) as [string, string];
    await local.put([{ path: file, content: versions[0]!, mode: 0o644 }]);
    const count = join(dir, 'reader.count');
    // A separate process, so that it reads while this one writes; it counts its reads in a file.
    const reader = new Promise<string>((resolve, reject) => {
      const child = spawn('bash', ['-c', ATOMIC_READER, 'reader', file, a, b, stop, count]);
      let out = '';
      child.stdout.on('data', (d: Buffer) => (out += d.toString()));
      child.on('error', reject);
      child.on('close', () => resolve(out));
    });
    const reads = async () => Number((await readFile(count, 'utf8').catch(() => '')).trim() || 0);
    for (let i = 1; i <= 40; i++) {
      await local.put([{ path: file, content: versions[i % 2]!, mode: 0o644 }]);
      // Two more reads: at least one began after this version was in place, however slow the machine.
      const seen = await reads();
      await waitUntil('the reader to read the new version', async () => (await reads()) >= seen + 2, { intervalMs: 5 });
    }
    await local.put([{ path: stop, content: '', mode: 0o644 }]);
    const [total, bad, sawA, sawB] = (await reader).trim().split(' ').map(Number);
    assert.equal(bad, 0, `${bad} of ${total} reads saw a file that was neither version`);
    assert.deepEqual([sawA, sawB], [1, 1], 'the reader did not see both versions: it did not overlap the writes');
  });

  test('a failed put names the path and the reason, never the content', async () => {
    const content = 'SECRET-VALUE-7c1f\n';
    const path = join(dir, 'no/such/dir/f');
    const err = await transportError(local.put([{ path, content, mode: 0o600 }]), 'put');
    assert.ok(err.message.includes(path), err.message);
    assert.match(err.message, /ENOENT/);
    assert.ok(!err.message.includes('SECRET-VALUE') && !String(err.cause).includes('SECRET-VALUE'));
  });
});
